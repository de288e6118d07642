//! Node history (XEP-0313 archive) and retention: what is archived, IDs
//! never reused, item expiry and history limits applied by the tick.

use super::*;
use crate::pubsub::names::iid;
use crate::pubsub::names::nn;

fn all_history(svc: &Svc) -> HistoryPage {
    svc.history(&Actor::System, &nn(NODE), &HistoryQuery::default())
        .unwrap()
}

fn archive_ids(page: &HistoryPage) -> Vec<String> {
    page.entries.iter().map(|e| e.archive_id.clone()).collect()
}

fn events(page: &HistoryPage) -> Vec<String> {
    let show = |e: &HistoryEntry| match &e.event {
        HistoryEvent::Published(i) => format!("+{}", i.id),
        HistoryEvent::Retracted(id) => format!("-{id}"),
    };
    page.entries.iter().map(show).collect()
}

#[test]
fn every_publication_and_retraction_is_archived_in_order() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a", "b", "a"]);
    let _ = svc
        .retract(&ent(OWNER), &nn(NODE), &iid("b"), None)
        .unwrap();
    let page = all_history(&svc);
    assert_eq!(events(&page), ["+a", "+b", "+a", "-b"]);
    assert!(page.complete);
    assert_eq!(page.total, Some(4));
    assert_eq!(
        ids(&svc.items(&Actor::System, &nn(NODE), None).unwrap()),
        ["a"]
    );
}

#[test]
fn archive_ids_are_never_reused_across_restarts_and_trims() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a", "b"]);
    let _ = svc
        .retract(&ent(OWNER), &nn(NODE), &iid("b"), None)
        .unwrap();
    let before = archive_ids(&all_history(&svc));
    // Everything ages out of the history, then a restart.
    let week = 8 * 24 * 3600 * 1000;
    assert_eq!(svc.expire(svc.now_ms() + week).unwrap(), 3);
    assert!(all_history(&svc).entries.is_empty());
    let mut svc = reopen(svc);
    publish_ids(&mut svc, &["c"]);
    let after = archive_ids(&all_history(&svc));
    assert_eq!(after.len(), 1);
    assert!(!before.contains(&after[0]), "{before:?} vs {after:?}");
}

#[test]
fn history_keeps_at_most_its_count_limit() {
    let mut svc = service();
    svc.settings.retention.history_max_entries = 3;
    let _ = svc.create_node(&ent(OWNER), Some(&nn(NODE)), None).unwrap();
    publish_ids(&mut svc, &["a", "b", "c", "d", "e"]);
    assert_eq!(events(&all_history(&svc)), ["+c", "+d", "+e"]);
    assert_eq!(all_history(&svc).total, Some(3));
    let svc = reopen(svc);
    assert_eq!(all_history(&svc).total, Some(3), "count reloaded");
}

#[test]
fn expired_items_go_at_the_tick_without_notifications() {
    let mut svc = service_with_node(&[("pubsub#item_expire", "60")]);
    publish_ids(&mut svc, &["a", "b"]);
    let now = svc.now_ms();
    assert_eq!(svc.expire(now).unwrap(), 0, "not yet");
    assert_eq!(svc.expire(now + 61_000).unwrap(), 2);
    let page = svc.items(&Actor::System, &nn(NODE), None).unwrap();
    assert!(page.items.is_empty());
    assert_eq!(page.total, 0);
    assert_eq!(events(&all_history(&svc)), ["+a", "+b"], "history stays");
    assert_eq!(svc.expire(now + 120_000).unwrap(), 0);
}

#[test]
fn expiry_follows_configuration_changes() {
    let mut svc = service_with_node(&[]);
    publish_ids(&mut svc, &["a"]);
    let later = svc.now_ms() + 3_600_000;
    assert_eq!(svc.expire(later).unwrap(), 0, "no item_expire");
    let f = fields(&[("pubsub#item_expire", "10")]);
    let _ = svc.configure(&ent(OWNER), &nn(NODE), &f).unwrap();
    assert_eq!(svc.expire(later).unwrap(), 1);
}

#[test]
fn expiry_works_in_batches() {
    let mut svc = service_with_node(&[("pubsub#item_expire", "1")]);
    svc.settings.retention.sweep_batch = 2;
    publish_ids(&mut svc, &["a", "b", "c", "d", "e"]);
    let later = svc.now_ms() + 5_000;
    assert_eq!(svc.expire(later).unwrap(), 2);
    assert_eq!(svc.expire(later).unwrap(), 2);
    assert_eq!(svc.expire(later).unwrap(), 1);
    assert_eq!(svc.items(&Actor::System, &nn(NODE), None).unwrap().total, 0);
}

#[test]
fn trimmed_history_cursor_is_item_not_found() {
    let mut svc = service();
    svc.settings.retention.history_max_entries = 2;
    let _ = svc.create_node(&ent(OWNER), Some(&nn(NODE)), None).unwrap();
    publish_ids(&mut svc, &["a"]);
    let first = archive_ids(&all_history(&svc))[0].clone();
    publish_ids(&mut svc, &["b", "c"]);
    let q = HistoryQuery {
        after: vec![first],
        ..HistoryQuery::default()
    };
    let r = svc.history(&Actor::System, &nn(NODE), &q);
    assert_eq!(r, Err(PubsubError::ItemNotFound));
}

#[test]
fn history_of_a_whitelist_node_needs_membership() {
    let mut svc = service_with_node(&[("pubsub#access_model", "whitelist")]);
    publish_ids(&mut svc, &["a"]);
    let r = svc.history(
        &ent("stranger@example.com"),
        &nn(NODE),
        &HistoryQuery::default(),
    );
    assert_eq!(r, Err(PubsubError::ClosedNode));
}
