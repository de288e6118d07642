//! Restart, seq high-water and group commit.

use super::*;
use crate::pubsub::names::iid;
use crate::pubsub::names::nn;

#[test]
fn reopening_restores_nodes_config_affiliations_subscriptions_and_counts() {
    let mut svc = service_with_node(&[("pubsub#title", "T")]);
    set_affiliation(&mut svc, "pub@example.com", Affiliation::Publisher);
    let sub = subscribe(&mut svc, "bob@example.com");
    publish_ids(&mut svc, &["a", "b"]);
    let svc = reopen(svc);
    assert_eq!(svc.discover_nodes(&Actor::System)[0].title, "T");
    assert_eq!(
        svc.node_affiliations(&ent(OWNER), &nn(NODE)).unwrap().len(),
        2
    );
    assert_eq!(
        svc.subscriptions(&ent("bob@example.com"), None).unwrap(),
        vec![sub]
    );
    assert_eq!(svc.items(&Actor::System, &nn(NODE), None).unwrap().total, 2);
}

#[test]
fn seqs_never_go_backwards_after_retracting_the_newest_item_and_restarting() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a", "b"]);
    let b_seq = svc.items(&Actor::System, &nn(NODE), None).unwrap().items[1].seq;
    let _ = svc
        .retract(&ent(OWNER), &nn(NODE), &iid("b"), None)
        .unwrap();
    let mut svc = reopen(svc);
    publish_ids(&mut svc, &["c"]);
    let page = svc.items(&Actor::System, &nn(NODE), None).unwrap();
    assert!(page.items[1].seq > b_seq);
}

#[test]
fn seqs_never_go_backwards_after_a_purge_and_restart() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a", "b"]);
    let _ = svc.purge(&ent(OWNER), &nn(NODE)).unwrap();
    let mut svc = reopen(svc);
    publish_ids(&mut svc, &["c"]);
    assert!(svc.items(&Actor::System, &nn(NODE), None).unwrap().items[0].seq > 2);
}

#[test]
fn node_ids_are_not_reused_after_deleting_the_newest_node() {
    let mut svc = service_with_node(&[]);
    let first = svc.nodes[NODE].id;
    let _ = svc.delete_node(&ent(OWNER), &nn(NODE), None).unwrap();
    let mut svc = reopen(svc);
    let _ = svc
        .create_node(&ent(OWNER), Some(&nn("again")), None)
        .unwrap();
    assert!(svc.nodes["again"].id > first);
}

#[test]
fn the_core_never_flushes_on_its_own_only_through_flush() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a"]);
    assert_eq!(svc.store.inner.flushes, 0);
    svc.flush().unwrap();
    assert_eq!(svc.store.inner.flushes, 1);
    assert!(!svc.flush().unwrap(), "nothing new: no second flush");
    assert_eq!(svc.store.inner.flushes, 1);
}

#[test]
fn flush_failure_is_internal() {
    // Something to flush: a clean service's flush does not reach the store.
    let mut svc = service_with_node(&[]);
    fail_writes(&svc, true);
    assert!(matches!(svc.flush(), Err(PubsubError::Internal(_))));
}

#[test]
fn corrupt_metadata_fails_open_with_internal() {
    let mut store = service().into_store();
    store.inner.put_node_meta("bad", b"{not json").unwrap();
    let err = Service::open(store, settings()).err().unwrap();
    assert!(matches!(err, PubsubError::Internal(t) if t.contains("bad")));
}

#[test]
fn renotify_sends_the_given_copies_to_the_subscribers_of_now_in_order() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a", "b"]);
    let node = svc.nodes[NODE].id;
    let stored = svc.store.items_after(node, 0, 10).unwrap();
    let svc = reopen(svc);
    let mut svc = svc;
    let _ = subscribe(&mut svc, "bob@example.com");
    // The given copies (read from the log) in order; a node that is gone
    // is skipped.
    let mut given: Vec<(NodeId, StoredItem)> =
        stored.iter().rev().map(|i| (node, i.clone())).collect();
    given.push((node + 1000, stored[0].clone()));
    let notes = svc.renotify(&given);
    assert_eq!(notes.len(), 2);
    let ids: Vec<String> = notes
        .iter()
        .flat_map(|n| match &n.event {
            Event::Items { items, .. } => items.iter().map(|i| i.id.to_string()).collect(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(ids, ["b", "a"]);
    for n in &notes {
        let to: Vec<String> = n.recipients.iter().map(|r| r.jid.to_string()).collect();
        assert_eq!(to, ["bob@example.com"]);
        assert!(
            n.archive_id.is_some(),
            "a stanza-id lets a client drop the repeat"
        );
    }
}
