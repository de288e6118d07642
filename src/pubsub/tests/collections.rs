//! XEP-0248 collection nodes on the service: creation, association,
//! items and nodes subscriptions, access filtering, persistence.

use super::*;
use crate::pubsub::names::nn;

const BOB: &str = "bob@example.com";

fn create(svc: &mut Svc, name: &str, config: &[(&str, &str)]) -> Outcome<String> {
    svc.create_node(&ent(OWNER), Some(&nn(name)), Some(&fields(config)))
        .unwrap()
}

/// root ⊃ news ⊃ sports (a leaf), and weather (a leaf) directly in root.
fn tree() -> Svc {
    let mut svc = service();
    let _ = create(&mut svc, "root", &[("pubsub#node_type", "collection")]);
    let _ = create(
        &mut svc,
        "news",
        &[
            ("pubsub#node_type", "collection"),
            ("pubsub#collection", "root"),
        ],
    );
    let _ = create(&mut svc, "sports", &[("pubsub#collection", "news")]);
    let _ = create(&mut svc, "weather", &[("pubsub#collection", "root")]);
    svc
}

fn sub_with(svc: &mut Svc, who: &str, node: &str, opts: &[(&str, &str)]) {
    let _ = svc
        .subscribe(&ent(who), &nn(node), &jid(who), Some(&fields(opts)))
        .unwrap();
}

fn publish(svc: &mut Svc, node: &str, id: &str) -> Outcome<PublishReply> {
    svc.publish(&ent(OWNER), &nn(node), vec![item(id, "<p/>")], None)
        .unwrap()
}

/// The owner retracts `id` from `node` (notifying).
fn retract(svc: &mut Svc, node: &str, id: &str) {
    let _ = (svc.retract(&ent(OWNER), &nn(node), &ItemId::new(id).unwrap(), None)).unwrap();
}

/// (node, collection header, recipients) of each notification.
fn routes<T>(o: &Outcome<T>) -> Vec<(String, Option<String>, Vec<String>)> {
    let to = |n: &Notification| n.recipients.iter().map(|r| r.jid.to_string()).collect();
    (o.notifications.iter())
        .map(|n| (n.node.clone(), n.collection.clone(), to(n)))
        .collect()
}

fn route(node: &str, via: &str, who: &str) -> (String, Option<String>, Vec<String>) {
    (node.into(), Some(via.into()), vec![who.into()])
}

#[test]
fn children_are_derived_from_parents_and_listed() {
    let svc = tree();
    let kids = svc.collection_children(&ent(BOB), &nn("root")).unwrap();
    let names: Vec<String> = kids.unwrap().into_iter().map(|s| s.node).collect();
    assert_eq!(names, vec!["news", "weather"]);
    assert_eq!(
        svc.collection_children(&ent(BOB), &nn("sports")).unwrap(),
        None
    );
    let form = svc.node_config(&ent(OWNER), &nn("news")).unwrap();
    let children = form.iter().find(|f| f.var == "pubsub#children").unwrap();
    assert_eq!(children.values, vec!["sports"]);
}

#[test]
fn publishing_to_a_collection_is_refused() {
    let mut svc = tree();
    let got = svc.publish(&ent(OWNER), &nn("root"), vec![item("a", "<p/>")], None);
    assert_eq!(got.unwrap_err(), PubsubError::UnsupportedFeature("publish"));
}

#[test]
fn items_subscription_depth_one_and_all() {
    let mut svc = tree();
    sub_with(
        &mut svc,
        BOB,
        "root",
        &[("pubsub#subscription_type", "items")],
    );
    let carol = "carol@example.com";
    sub_with(
        &mut svc,
        carol,
        "root",
        &[
            ("pubsub#subscription_type", "items"),
            ("pubsub#subscription_depth", "all"),
        ],
    );
    // weather is one level below root: both; sports is two: only carol.
    let got = routes(&publish(&mut svc, "weather", "w1"));
    assert_eq!(
        got,
        vec![(
            "weather".into(),
            Some("root".into()),
            vec![BOB.into(), carol.into()]
        )]
    );
    assert_eq!(
        routes(&publish(&mut svc, "sports", "s1")),
        vec![route("sports", "root", carol)]
    );
}

#[test]
fn a_nodes_subscription_hears_of_new_children_not_items() {
    let mut svc = tree();
    sub_with(&mut svc, BOB, "news", &[]);
    assert!(publish(&mut svc, "sports", "s1").notifications.is_empty());
    let out = create(&mut svc, "tennis", &[("pubsub#collection", "news")]);
    assert_eq!(out.notifications.len(), 1);
    let n = &out.notifications[0];
    assert_eq!(n.node, "news");
    assert_eq!(
        n.event,
        Event::Associate {
            child: "tennis".into()
        }
    );
}

#[test]
fn a_leaf_the_subscriber_may_not_read_is_filtered_out() {
    let mut svc = tree();
    sub_with(
        &mut svc,
        BOB,
        "root",
        &[("pubsub#subscription_type", "items")],
    );
    let _ = svc
        .configure(
            &ent(OWNER),
            &nn("weather"),
            &fields(&[("pubsub#access_model", "whitelist")]),
        )
        .unwrap();
    assert!(publish(&mut svc, "weather", "w1").notifications.is_empty());
    let _ = svc
        .modify_affiliations(
            &ent(OWNER),
            &nn("weather"),
            &[(bare(BOB), Affiliation::Member)],
        )
        .unwrap();
    assert_eq!(
        routes(&publish(&mut svc, "weather", "w2")),
        vec![route("weather", "root", BOB)]
    );
}

#[test]
fn a_leaf_moved_out_no_longer_notifies_and_the_move_is_announced() {
    let mut svc = tree();
    sub_with(
        &mut svc,
        BOB,
        "root",
        &[("pubsub#subscription_type", "all")],
    );
    let out = svc
        .configure(
            &ent(OWNER),
            &nn("weather"),
            &fields(&[("pubsub#collection", "")]),
        )
        .unwrap();
    let Event::Dissociate { child } = &out.notifications[0].event else {
        panic!("{:?}", out.notifications);
    };
    assert_eq!(child, "weather");
    assert!(publish(&mut svc, "weather", "w1").notifications.is_empty());
}

#[test]
fn children_can_be_set_on_the_collection() {
    let mut svc = tree();
    let set = vec![(
        "pubsub#children".to_owned(),
        vec!["sports".to_owned(), "weather".to_owned()],
    )];
    let _ = svc.configure(&ent(OWNER), &nn("news"), &set).unwrap();
    let config = &svc.node(&nn("weather")).unwrap().meta.config;
    assert_eq!(config.collections, vec!["root", "news"]);
    let none = vec![("pubsub#children".to_owned(), vec![])];
    let _ = svc.configure(&ent(OWNER), &nn("news"), &none).unwrap();
    assert!(svc.children_of("news").is_empty());
}

#[test]
fn bad_associations_are_not_allowed() {
    let mut svc = tree();
    let cycle = fields(&[("pubsub#collection", "news")]);
    let got = svc.configure(&ent(OWNER), &nn("root"), &cycle).unwrap_err();
    assert!(matches!(got, PubsubError::InvalidCollection(_)), "{got:?}");
    let under_leaf = fields(&[("pubsub#collection", "sports")]);
    let got = svc
        .configure(&ent(OWNER), &nn("weather"), &under_leaf)
        .unwrap_err();
    assert!(matches!(got, PubsubError::InvalidCollection(_)), "{got:?}");
    let to_leaf = fields(&[("pubsub#node_type", "leaf")]);
    let got = svc
        .configure(&ent(OWNER), &nn("news"), &to_leaf)
        .unwrap_err();
    assert!(matches!(got, PubsubError::InvalidCollection(_)), "{got:?}");
    let missing = fields(&[("pubsub#collection", "nope")]);
    let got = svc.create_node(&ent(OWNER), Some(&nn("x")), Some(&missing));
    assert_eq!(got.unwrap_err(), PubsubError::NodeNotFound);
    // Another entity's collection: only its owners may add children.
    let _ = svc.create_node(&ent(BOB), Some(&nn("mine")), None).unwrap();
    let into_root = fields(&[("pubsub#collection", "root")]);
    let got = svc
        .configure(&ent(BOB), &nn("mine"), &into_root)
        .unwrap_err();
    assert_eq!(got, PubsubError::Forbidden);
}

#[test]
fn deleting_a_collection_frees_its_children() {
    let mut svc = tree();
    let _ = svc.delete_node(&ent(OWNER), &nn("news"), None).unwrap();
    assert!(
        svc.node(&nn("sports"))
            .unwrap()
            .meta
            .config
            .collections
            .is_empty()
    );
}

#[test]
fn collections_survive_a_restart() {
    let mut svc = tree();
    sub_with(
        &mut svc,
        BOB,
        "root",
        &[("pubsub#subscription_type", "items")],
    );
    let mut svc = reopen(svc);
    assert_eq!(svc.children_of("root"), vec!["news", "weather"]);
    assert_eq!(
        routes(&publish(&mut svc, "weather", "w1")),
        vec![route("weather", "root", BOB)]
    );
}

#[test]
fn metadata_stored_before_collections_reads_as_a_leaf() {
    let svc = service_with_node(&[]);
    let n = svc.node(&nn(NODE)).unwrap();
    let blob = super::super::node::encode_meta(n.id, &n.meta).unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&blob).unwrap();
    let config = json["config"].as_object_mut().unwrap();
    assert!(config.remove("node_type").is_some());
    assert!(!config.contains_key("collections"));
    let old = serde_json::to_vec(&json).unwrap();
    let (_, meta) = super::super::node::decode_meta(NODE, &old).unwrap();
    assert_eq!(meta.config.node_type, NodeType::Leaf);
    assert!(meta.config.collections.is_empty());
}

// Catch-up across a collection (issue 17): one history per collection,
// one cursor over all its leaves.

/// (leaf, item ID or "-id" for a retraction) of each history entry.
fn events(page: &HistoryPage) -> Vec<(String, String)> {
    let what = |e: &HistoryEntry| match &e.event {
        HistoryEvent::Published(i) => i.id.clone(),
        HistoryEvent::Retracted(id) => format!("-{id}"),
    };
    (page.entries.iter())
        .map(|e| (e.leaf.clone().unwrap_or_default(), what(e)))
        .collect()
}

fn pairs(want: &[(&str, &str)]) -> Vec<(String, String)> {
    want.iter()
        .map(|(l, i)| (l.to_string(), i.to_string()))
        .collect()
}

fn mam(svc: &Svc, who: &str, node: &str, after: Option<&str>) -> HistoryPage {
    let q = HistoryQuery {
        after: after.map(str::to_owned).into_iter().collect(),
        ..HistoryQuery::default()
    };
    svc.history(&ent(who), &nn(node), &q).unwrap()
}

fn sub_all(svc: &mut Svc, who: &str, node: &str) {
    let opts = [
        ("pubsub#subscription_type", "items"),
        ("pubsub#subscription_depth", "all"),
    ];
    sub_with(svc, who, node, &opts);
}

/// The stanza-id of the one notification through `via`.
fn stanza_id_via<T>(o: &Outcome<T>, via: &str) -> String {
    let n = (o.notifications.iter())
        .find(|n| n.collection.as_deref() == Some(via))
        .expect("a notification through the collection");
    n.archive_id.clone().expect("a stanza-id")
}

#[test]
fn a_collection_history_orders_events_of_all_leaves_at_any_depth() {
    let mut svc = tree();
    for (leaf, id) in [
        ("weather", "w1"),
        ("sports", "s1"),
        ("weather", "w2"),
        ("sports", "s2"),
    ] {
        let _ = publish(&mut svc, leaf, id);
    }
    let root = mam(&svc, BOB, "root", None);
    let want = [
        ("weather", "w1"),
        ("sports", "s1"),
        ("weather", "w2"),
        ("sports", "s2"),
    ];
    assert_eq!(events(&root), pairs(&want));
    assert!(root.complete);
    // news holds only sports, in its own seqs.
    assert_eq!(
        events(&mam(&svc, BOB, "news", None)),
        pairs(&[("sports", "s1"), ("sports", "s2")])
    );
    // The leaf's own history is as before.
    let leaf = mam(&svc, BOB, "sports", None);
    assert_eq!(leaf.entries.len(), 2);
    assert_eq!(leaf.entries[0].leaf, None);
}

#[test]
fn any_entry_is_a_cursor_and_the_notification_carries_it() {
    let mut svc = tree();
    sub_all(&mut svc, BOB, "root");
    let _ = publish(&mut svc, "weather", "w1");
    let seen = stanza_id_via(&publish(&mut svc, "sports", "s1"), "root");
    // Bob goes away; events on both leaves, and a retraction.
    let _ = publish(&mut svc, "weather", "w2");
    let _ = publish(&mut svc, "sports", "s2");
    retract(&mut svc, "weather", "w1");
    let missed = mam(&svc, BOB, "root", Some(&seen));
    let want = [("weather", "w2"), ("sports", "s2"), ("weather", "-w1")];
    assert_eq!(events(&missed), pairs(&want));
    // Each entry's archive ID is a cursor, whichever leaf it came from.
    for (k, e) in missed.entries.iter().enumerate() {
        let rest = mam(&svc, BOB, "root", Some(&e.archive_id));
        assert_eq!(events(&rest), pairs(&want[k + 1..]), "after entry {k}");
    }
    // A leaf's stanza-id is not a cursor of the collection.
    let leaf_id = mam(&svc, BOB, "sports", None).entries[0].archive_id.clone();
    let q = HistoryQuery {
        after: vec![leaf_id],
        ..HistoryQuery::default()
    };
    let got = svc.history(&ent(BOB), &nn("root"), &q).unwrap_err();
    assert_eq!(got, PubsubError::ItemNotFound);
}

#[test]
fn rsm_items_of_a_collection_are_the_current_items_in_order() {
    let mut svc = tree();
    for (leaf, id) in [("weather", "w1"), ("sports", "s1"), ("weather", "w2")] {
        let _ = publish(&mut svc, leaf, id);
    }
    // w1 republished (moves to newest), s1 retracted (gone).
    let _ = publish(&mut svc, "weather", "w1");
    retract(&mut svc, "sports", "s1");
    let _ = publish(&mut svc, "sports", "s2");
    let first = svc.items_first(&ent(BOB), &nn("root"), 2).unwrap();
    assert_eq!(ids(&first), ["w2", "w1"]);
    let leaves: Vec<&str> = first.via.iter().map(|v| v.leaf.as_str()).collect();
    assert_eq!(leaves, ["weather", "weather"]);
    assert_eq!(first.total, 3);
    let cursor = ItemId::new(&first.via[1].archive_id).unwrap();
    let next = svc
        .items_after(&ent(BOB), &nn("root"), &cursor, 10)
        .unwrap();
    assert_eq!(ids(&next), ["s2"]);
    assert_eq!(next.via[0].leaf, "sports");
    let newest = svc.items(&ent(BOB), &nn("root"), Some(2)).unwrap();
    assert_eq!(ids(&newest), ["w1", "s2"]);
    let back = ItemId::new(&newest.via[0].archive_id).unwrap();
    let before = svc.items_before(&ent(BOB), &nn("root"), &back, 10).unwrap();
    assert_eq!(ids(&before), ["w2"]);
    // By item ID an ID does not say which leaf: still refused.
    let by_id = svc.items_by_id(&ent(BOB), &nn("root"), &[ItemId::new("w1").unwrap()]);
    assert_eq!(
        by_id.unwrap_err(),
        PubsubError::UnsupportedFeature("retrieve-items")
    );
}

#[test]
fn entries_of_a_leaf_the_reader_may_not_read_are_left_out() {
    let mut svc = tree();
    let whitelist = fields(&[("pubsub#access_model", "whitelist")]);
    let _ = svc
        .configure(&ent(OWNER), &nn("sports"), &whitelist)
        .unwrap();
    for (leaf, id) in [("weather", "w1"), ("sports", "s1"), ("weather", "w2")] {
        let _ = publish(&mut svc, leaf, id);
    }
    let got = mam(&svc, BOB, "root", None);
    assert_eq!(events(&got), pairs(&[("weather", "w1"), ("weather", "w2")]));
    assert_eq!(got.total, None, "no count: it would count the hidden ones");
    let page = svc.items_first(&ent(BOB), &nn("root"), 10).unwrap();
    assert_eq!(ids(&page), ["w1", "w2"]);
    assert_eq!(page.total, 2);
    // Paging one at a time skips the hidden entry too.
    let q = HistoryQuery {
        max: Some(1),
        ..HistoryQuery::default()
    };
    let one = svc.history(&ent(BOB), &nn("root"), &q).unwrap();
    assert_eq!(events(&one), pairs(&[("weather", "w1")]));
    assert!(!one.complete);
    // The owner reads all three.
    assert_eq!(mam(&svc, OWNER, "root", None).entries.len(), 3);
}

#[test]
fn a_leaf_moved_out_adds_no_more_entries_and_keeps_the_old_ones() {
    let mut svc = tree();
    let _ = publish(&mut svc, "weather", "w1");
    let out = fields(&[("pubsub#collection", "")]);
    let _ = svc.configure(&ent(OWNER), &nn("weather"), &out).unwrap();
    let _ = publish(&mut svc, "weather", "w2");
    let _ = publish(&mut svc, "sports", "s1");
    let got = mam(&svc, BOB, "root", None);
    assert_eq!(events(&got), pairs(&[("weather", "w1"), ("sports", "s1")]));
}

#[test]
fn a_multi_item_publish_gives_each_item_a_collection_stanza_id() {
    let mut svc = tree();
    sub_all(&mut svc, BOB, "root");
    let items = vec![item("a", "<p/>"), item("b", "<p/>")];
    let out = svc
        .publish(&ent(OWNER), &nn("sports"), items, None)
        .unwrap();
    let n = (out.notifications.iter())
        .find(|n| n.collection.as_deref() == Some("root"))
        .unwrap();
    let page = mam(&svc, BOB, "root", None);
    let want: Vec<String> = page.entries.iter().map(|e| e.archive_id.clone()).collect();
    assert_eq!(n.item_archive_ids, want);
    assert_eq!(n.archive_id.as_ref(), want.last());
}

#[test]
fn a_collection_history_obeys_the_history_limits_and_goes_with_it() {
    let mut settings = settings();
    settings.retention.history_max_entries = 2;
    let store = TestStore {
        inner: MemoryStore::new(),
        fail: Default::default(),
    };
    let mut svc = Service::open(store, settings).unwrap();
    svc.set_now(NOW_MS);
    let _ = create(&mut svc, "root", &[("pubsub#node_type", "collection")]);
    let _ = create(&mut svc, "weather", &[("pubsub#collection", "root")]);
    let _ = create(&mut svc, "sports", &[("pubsub#collection", "root")]);
    for (leaf, id) in [("weather", "w1"), ("sports", "s1"), ("weather", "w2")] {
        let _ = publish(&mut svc, leaf, id);
    }
    let got = mam(&svc, BOB, "root", None);
    assert_eq!(events(&got), pairs(&[("sports", "s1"), ("weather", "w2")]));
    // Survives a restart (seqs and links are in the store; the reopened
    // service has the default limits).
    let mut svc = reopen(svc);
    let _ = publish(&mut svc, "sports", "s2");
    let got = mam(&svc, BOB, "root", None);
    let want = [("sports", "s1"), ("weather", "w2"), ("sports", "s2")];
    assert_eq!(events(&got), pairs(&want));
    let distinct: std::collections::BTreeSet<_> =
        got.entries.iter().map(|e| &e.archive_id).collect();
    assert_eq!(distinct.len(), 3, "no seq given twice");
    let root_id = svc.node(&nn("root")).unwrap().id;
    let _ = svc.delete_node(&ent(OWNER), &nn("root"), None).unwrap();
    let store = svc.into_store();
    assert_eq!(
        store.archive_stats(root_id).unwrap(),
        (0, 0),
        "history dropped"
    );
}

#[test]
fn a_failed_write_adds_no_collection_entry_and_no_id_is_given_twice() {
    let mut svc = tree();
    sub_all(&mut svc, BOB, "root");
    let first = stanza_id_via(&publish(&mut svc, "sports", "s1"), "root");
    fail_writes(&svc, true);
    let failed = svc.publish(&ent(OWNER), &nn("sports"), vec![item("s2", "<p/>")], None);
    assert!(failed.is_err());
    fail_writes(&svc, false);
    let next = stanza_id_via(&publish(&mut svc, "weather", "w1"), "root");
    let got = mam(&svc, BOB, "root", None);
    assert_eq!(events(&got), pairs(&[("sports", "s1"), ("weather", "w1")]));
    let ids: Vec<&str> = got.entries.iter().map(|e| e.archive_id.as_str()).collect();
    assert_eq!(ids, [first.as_str(), next.as_str()]);
}

#[test]
fn a_collection_log_pages_and_journals_its_leaves_events_under_its_own_seqs() {
    use crate::pubsub::log::{LogCursor, LogKind};
    let mut svc = tree();
    svc.set_journal(true);
    let _ = publish(&mut svc, "weather", "w1");
    let _ = publish(&mut svc, "sports", "s1");
    retract(&mut svc, "weather", "w1");
    let journal: Vec<_> = (svc.take_journal().into_iter())
        .filter(|e| e.node == "root")
        .collect();
    let page = svc.log_page(&nn("root"), &LogCursor::Seq(0), 10).unwrap();
    assert_eq!(page.events, journal, "live and paged agree");
    let seen: Vec<(u64, Option<&str>, &str)> = (page.events.iter())
        .map(|e| (e.seq, e.leaf.as_deref(), e.kind.item_id()))
        .collect();
    let want = [
        (1, Some("weather"), "w1"),
        (2, Some("sports"), "s1"),
        (3, Some("weather"), "w1"),
    ];
    assert_eq!(seen, want);
    assert!(matches!(page.events[2].kind, LogKind::Retract { .. }));
    assert!(page.complete && !page.trimmed);
    // The stanza-id of the notification through root is the SSE/webhook id.
    let mam_ids: Vec<String> = mam(&svc, OWNER, "root", None)
        .entries
        .into_iter()
        .map(|e| e.archive_id)
        .collect();
    let log_ids: Vec<String> = page.events.iter().map(|e| e.archive_id.clone()).collect();
    assert_eq!(log_ids, mam_ids);
    // Paged one at a time from an archive ID, a full page each time.
    let after = LogCursor::ArchiveId(log_ids[0].clone());
    let one = svc.log_page(&nn("root"), &after, 1).unwrap();
    assert_eq!(one.events.len(), 1);
    assert_eq!(one.events[0].seq, 2);
    assert!(!one.complete);
    // A leaf's events in its own log are unchanged.
    let leaf = svc.log_page(&nn("sports"), &LogCursor::Seq(0), 10).unwrap();
    assert_eq!(leaf.events.len(), 1);
    assert_eq!(leaf.events[0].leaf, None);
}
