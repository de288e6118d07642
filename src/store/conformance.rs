//! One behaviour suite for every [`Store`]: each case is a generic fn run
//! against `MemoryStore`, `SledStore` and `JetStreamStore`, so core tests on memory
//! mean the same thing on disk.

use super::{
    IdempotencyRecord, MemoryStore, NodeId, QueueKey, QueueWrite, SledStore, Store, StoredItem,
};

const N1: NodeId = 1;
const N2: NodeId = 2;

fn item(id: &str, seq: u64) -> StoredItem {
    StoredItem {
        id: id.to_owned(),
        seq,
        publisher: seq
            .is_multiple_of(2)
            .then(|| "alice@example.com".to_owned()),
        published_ms: 1_700_000_000_000 + seq,
        payload: (!seq.is_multiple_of(3)).then(|| format!("<entry n='{seq}'/>")),
    }
}

/// Publishes `item-1..=n` with seq 1..=n.
fn fill<S: Store>(s: &mut S, node: NodeId, n: u64) {
    for seq in 1..=n {
        assert_eq!(
            s.put_item(node, &item(&format!("item-{seq}"), seq))
                .unwrap(),
            None
        );
    }
}

fn seqs(items: &[StoredItem]) -> Vec<u64> {
    items.iter().map(|i| i.seq).collect()
}

fn put_get<S: Store>(s: &mut S) {
    let it = item("a", 1);
    assert_eq!(s.put_item(N1, &it).unwrap(), None);
    assert_eq!(s.get_item(N1, "a").unwrap(), Some(it));
    assert_eq!(s.item_seq(N1, "a").unwrap(), Some(1));
    assert_eq!(s.get_item(N1, "missing").unwrap(), None);
    assert_eq!(s.get_item(N2, "a").unwrap(), None, "other node");
    assert_eq!(s.item_seq(N1, "missing").unwrap(), None);
}

fn republish_moves_to_newest<S: Store>(s: &mut S) {
    fill(s, N1, 3);
    let newer = StoredItem {
        payload: Some("<v2/>".into()),
        ..item("item-1", 4)
    };
    assert_eq!(s.put_item(N1, &newer).unwrap(), Some(1));
    assert_eq!(s.get_item(N1, "item-1").unwrap(), Some(newer));
    assert_eq!(s.item_seq(N1, "item-1").unwrap(), Some(4));
    let all = s.items_after(N1, 0, 10).unwrap();
    assert_eq!(seqs(&all), [2, 3, 4], "old seq entry is gone");
    assert_eq!(all[2].id, "item-1");
    assert_eq!(s.count_items(N1).unwrap(), 3);
    // Same seq again (idempotent rewrite) must not lose the item.
    assert_eq!(s.put_item(N1, &item("item-1", 4)).unwrap(), Some(4));
    assert_eq!(s.item_seq(N1, "item-1").unwrap(), Some(4));
    assert_eq!(s.count_items(N1).unwrap(), 3);
}

fn put_items_group<S: Store>(s: &mut S) {
    fill(s, N1, 2);
    let group = [
        (N1, item("new", 3)),
        (N2, item("new", 1)),
        (N1, item("item-1", 4)),
        (N1, item("new", 5)),
        (N1, item("new", 6)),
    ];
    let replaced = s.put_items(&group).unwrap();
    assert_eq!(replaced, [None, None, Some(1), Some(3), Some(5)]);
    let all = s.items_after(N1, 0, 10).unwrap();
    assert_eq!(
        seqs(&all),
        [2, 4, 6],
        "replaced entries are gone, in-group too"
    );
    assert_eq!(s.get_item(N1, "new").unwrap(), Some(item("new", 6)));
    assert_eq!(s.get_item(N2, "new").unwrap(), Some(item("new", 1)));
    assert_eq!(s.count_items(N1).unwrap(), 3);
    assert!(s.put_items(&[]).unwrap().is_empty());
}

fn items_after_pages<S: Store>(s: &mut S) {
    fill(s, N1, 10);
    fill(s, N2, 3);
    assert_eq!(seqs(&s.items_after(N1, 0, 4).unwrap()), [1, 2, 3, 4]);
    assert_eq!(seqs(&s.items_after(N1, 4, 4).unwrap()), [5, 6, 7, 8]);
    assert_eq!(seqs(&s.items_after(N1, 8, 4).unwrap()), [9, 10]);
    assert!(s.items_after(N1, 10, 4).unwrap().is_empty());
    assert!(s.items_after(N1, u64::MAX, 4).unwrap().is_empty());
    assert!(s.items_after(N1, 0, 0).unwrap().is_empty());
    assert_eq!(seqs(&s.items_after(N1, 0, 100).unwrap()).len(), 10);
    assert_eq!(s.items_after(N1, 9, 1).unwrap()[0], item("item-10", 10));
    assert!(s.items_after(3, 0, 10).unwrap().is_empty(), "unknown node");
}

fn items_before_pages<S: Store>(s: &mut S) {
    fill(s, N1, 10);
    fill(s, N2, 3);
    assert_eq!(
        seqs(&s.items_before(N1, u64::MAX, 4).unwrap()),
        [7, 8, 9, 10]
    );
    assert_eq!(seqs(&s.items_before(N1, 7, 4).unwrap()), [3, 4, 5, 6]);
    assert_eq!(seqs(&s.items_before(N1, 3, 4).unwrap()), [1, 2]);
    assert!(s.items_before(N1, 1, 4).unwrap().is_empty());
    assert!(s.items_before(N1, 0, 4).unwrap().is_empty());
    assert!(s.items_before(N1, 5, 0).unwrap().is_empty());
    assert_eq!(seqs(&s.items_before(N1, 11, 1).unwrap()), [10]);
    assert!(
        s.items_before(3, u64::MAX, 10).unwrap().is_empty(),
        "unknown node"
    );
}

fn remove_item<S: Store>(s: &mut S) {
    fill(s, N1, 3);
    assert_eq!(
        s.remove_item(N1, "item-2").unwrap(),
        Some(item("item-2", 2))
    );
    assert_eq!(s.remove_item(N1, "item-2").unwrap(), None);
    assert_eq!(s.get_item(N1, "item-2").unwrap(), None);
    assert_eq!(s.item_seq(N1, "item-2").unwrap(), None);
    assert_eq!(seqs(&s.items_after(N1, 0, 10).unwrap()), [1, 3]);
    assert_eq!(s.remove_item(N2, "item-1").unwrap(), None, "other node");
    // The ID can be published again afterwards.
    s.put_item(N1, &item("item-2", 4)).unwrap();
    assert_eq!(seqs(&s.items_after(N1, 0, 10).unwrap()), [1, 3, 4]);
}

fn remove_oldest<S: Store>(s: &mut S) {
    fill(s, N1, 5);
    fill(s, N2, 2);
    assert_eq!(s.remove_oldest(N1, 2).unwrap(), ["item-1", "item-2"]);
    assert_eq!(seqs(&s.items_after(N1, 0, 10).unwrap()), [3, 4, 5]);
    assert_eq!(s.item_seq(N1, "item-1").unwrap(), None);
    assert!(s.remove_oldest(N1, 0).unwrap().is_empty());
    assert_eq!(
        s.remove_oldest(N1, 10).unwrap(),
        ["item-3", "item-4", "item-5"]
    );
    assert!(s.remove_oldest(N1, 1).unwrap().is_empty());
    assert_eq!(s.count_items(N2).unwrap(), 2, "other node untouched");
}

fn purge<S: Store>(s: &mut S) {
    fill(s, N1, 25);
    fill(s, N2, 2);
    assert_eq!(s.purge(N1).unwrap(), 25);
    assert_eq!(s.count_items(N1).unwrap(), 0);
    assert_eq!(s.last_seq(N1).unwrap(), 0);
    assert_eq!(s.item_seq(N1, "item-7").unwrap(), None);
    assert_eq!(s.purge(N1).unwrap(), 0);
    assert_eq!(s.count_items(N2).unwrap(), 2, "other node untouched");
    s.put_item(N1, &item("item-7", 26)).unwrap();
    assert_eq!(seqs(&s.items_after(N1, 0, 10).unwrap()), [26]);
}

/// A purge in steps (what the core does for a large node): steps remove
/// items (the oldest first, at most `max` unless the backend purges
/// server-side in one), then 0 once the node is empty.
fn purge_in_steps<S: Store>(s: &mut S) {
    fill(s, N1, 25);
    fill(s, N2, 2);
    let first = s.purge_step(N1, 10).unwrap();
    assert!(first == 10 || first == 25, "{first}");
    if first == 10 {
        let next = seqs(&s.items_after(N1, 0, 1).unwrap());
        assert_eq!(next, [11], "the oldest went first");
    }
    let mut removed = first;
    loop {
        match s.purge_step(N1, 10).unwrap() {
            0 => break,
            k => removed += k,
        }
    }
    assert_eq!(removed, 25);
    assert_eq!(s.purge(N1).unwrap(), 0);
    assert_eq!(s.count_items(N1).unwrap(), 0);
    assert_eq!(s.item_seq(N1, "item-7").unwrap(), None);
    assert_eq!(s.count_items(N2).unwrap(), 2, "other node untouched");
}

fn delete_node_isolates<S: Store>(s: &mut S) {
    s.put_node_meta("one", b"meta-1").unwrap();
    s.put_node_meta("two", b"meta-2").unwrap();
    fill(s, N1, 4);
    fill(s, N2, 6);
    s.delete_node("two", N2).unwrap();
    assert_eq!(
        s.load_nodes().unwrap(),
        [("one".to_owned(), b"meta-1".to_vec())]
    );
    assert_eq!(s.count_items(N2).unwrap(), 0);
    assert_eq!(s.item_seq(N2, "item-1").unwrap(), None);
    assert!(s.items_after(N2, 0, 10).unwrap().is_empty());
    let left = s.items_after(N1, 0, 10).unwrap();
    assert_eq!(
        left,
        (1..=4)
            .map(|q| item(&format!("item-{q}"), q))
            .collect::<Vec<_>>()
    );
    assert_eq!(s.get_item(N1, "item-1").unwrap(), Some(item("item-1", 1)));
}

fn last_seq<S: Store>(s: &mut S) {
    assert_eq!(s.last_seq(N1).unwrap(), 0);
    fill(s, N1, 3);
    fill(s, N2, 7);
    assert_eq!(s.last_seq(N1).unwrap(), 3);
    s.put_item(N1, &item("item-1", 300)).unwrap();
    assert_eq!(s.last_seq(N1).unwrap(), 300);
    s.remove_item(N1, "item-1").unwrap();
    assert_eq!(s.last_seq(N1).unwrap(), 3);
    assert_eq!(s.last_seq(N2).unwrap(), 7);
}

fn count_items<S: Store>(s: &mut S) {
    assert_eq!(s.count_items(N1).unwrap(), 0);
    fill(s, N1, 12);
    fill(s, N2, 5);
    assert_eq!(s.count_items(N1).unwrap(), 12);
    s.remove_item(N1, "item-3").unwrap();
    s.put_item(N1, &item("item-4", 13)).unwrap();
    assert_eq!(s.count_items(N1).unwrap(), 11);
    assert_eq!(s.count_items(N2).unwrap(), 5);
}

fn node_meta_round_trip<S: Store>(s: &mut S) {
    assert!(s.load_nodes().unwrap().is_empty());
    s.put_node_meta("b/feed", b"\x00\xffbinary").unwrap();
    s.put_node_meta("a", b"").unwrap();
    s.put_node_meta("b/feed", b"v2").unwrap();
    let nodes = s.load_nodes().unwrap();
    let want = [
        ("a".to_owned(), Vec::new()),
        ("b/feed".to_owned(), b"v2".to_vec()),
    ];
    assert_eq!(nodes, want);
    s.flush().unwrap();
}

fn record(key: &str, created_ms: u64) -> IdempotencyRecord {
    IdempotencyRecord {
        key: key.to_owned(),
        created_ms,
        value: format!("answer-{key}").into_bytes(),
    }
}

fn idempotency_with_items<S: Store>(s: &mut S) {
    let r = record("k1", 100);
    let replaced = s.put_items_keyed(&[(N1, item("a", 1))], Some(&r)).unwrap();
    assert_eq!(replaced, vec![None]);
    assert_eq!(s.get_idempotency("k1").unwrap(), Some(r));
    assert_eq!(s.get_item(N1, "a").unwrap(), Some(item("a", 1)));
    assert_eq!(s.get_idempotency("k2").unwrap(), None);
    // A record alone, and a replacement with a newer time.
    s.put_items_keyed(&[], Some(&record("k2", 50))).unwrap();
    s.put_items_keyed(&[], Some(&record("k2", 300))).unwrap();
    assert_eq!(s.get_idempotency("k2").unwrap().unwrap().created_ms, 300);
}

fn idempotency_prune<S: Store>(s: &mut S) {
    for (i, t) in [10, 20, 30, 40, 50].into_iter().enumerate() {
        s.put_items_keyed(&[], Some(&record(&format!("k{i}"), t)))
            .unwrap();
    }
    // k0 (10) expires; of the four left, keep the newest three.
    assert_eq!(s.prune_idempotency(15, 3).unwrap(), 2);
    assert_eq!(s.get_idempotency("k0").unwrap(), None);
    assert_eq!(s.get_idempotency("k1").unwrap(), None);
    assert!(s.get_idempotency("k2").unwrap().is_some());
    assert!(s.get_idempotency("k4").unwrap().is_some());
    assert_eq!(s.prune_idempotency(0, 10).unwrap(), 0);
}

fn qkey(node: NodeId, group: &str, seq: Option<u64>) -> QueueKey {
    QueueKey {
        node,
        group: group.to_owned(),
        seq,
    }
}

fn queue_state_put_remove_in_order<S: Store>(s: &mut S) {
    assert!(s.load_queue_state().unwrap().is_empty());
    let writes = [
        QueueWrite::Put(qkey(N1, "g", None), b"pos1".to_vec()),
        QueueWrite::Put(qkey(N1, "g", Some(2)), b"e2".to_vec()),
        QueueWrite::Put(qkey(N1, "g", Some(1)), b"e1".to_vec()),
        QueueWrite::Put(qkey(N1, "g", None), b"pos2".to_vec()),
        QueueWrite::Remove(qkey(N1, "g", Some(2))),
        QueueWrite::Put(qkey(N1, "", Some(9)), b"default".to_vec()),
    ];
    s.write_queue_state(&writes).unwrap();
    let mut got = s.load_queue_state().unwrap();
    got.sort();
    let want = vec![
        (qkey(N1, "", Some(9)), b"default".to_vec()),
        (qkey(N1, "g", None), b"pos2".to_vec()),
        (qkey(N1, "g", Some(1)), b"e1".to_vec()),
    ];
    assert_eq!(got, want, "last write per key wins");
    s.flush().unwrap();
}

fn queue_state_drop_node<S: Store>(s: &mut S) {
    let writes = [
        QueueWrite::Put(qkey(N1, "g", None), b"1".to_vec()),
        QueueWrite::Put(qkey(N1, "h", Some(5)), b"x".to_vec()),
        QueueWrite::Put(qkey(N2, "g", None), b"2".to_vec()),
        QueueWrite::DropNode(N1),
        QueueWrite::Put(qkey(N1, "g", None), b"after".to_vec()),
    ];
    s.write_queue_state(&writes).unwrap();
    let mut got = s.load_queue_state().unwrap();
    got.sort();
    let want = vec![
        (qkey(N1, "g", None), b"after".to_vec()),
        (qkey(N2, "g", None), b"2".to_vec()),
    ];
    assert_eq!(got, want, "only N1's earlier records are gone");
}

fn webhook_records<S: Store>(s: &mut S) {
    assert!(s.load_webhooks().unwrap().is_empty());
    s.put_webhook("wh_a", b"a1").unwrap();
    s.put_webhook("wh_b", b"b1").unwrap();
    s.put_webhook("wh_a", b"a2 cursor 7").unwrap();
    s.flush().unwrap();
    let mut got = s.load_webhooks().unwrap();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("wh_a".into(), b"a2 cursor 7".to_vec()),
            ("wh_b".into(), b"b1".to_vec())
        ],
        "the last put per endpoint wins"
    );
    s.delete_webhook("wh_b").unwrap();
    s.delete_webhook("wh_missing").unwrap();
    s.flush().unwrap();
    assert_eq!(
        s.load_webhooks().unwrap(),
        vec![("wh_a".into(), b"a2 cursor 7".to_vec())]
    );
}

/// Runs each case as one test per store: `memory::case` and `sled::case`.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(#[test]
            fn $case() {
                super::$case(&mut super::MemoryStore::new());
            })*
        }
        mod sled {
            $(#[test]
            fn $case() {
                let dir = tempfile::tempdir().unwrap();
                super::$case(&mut super::SledStore::open(dir.path()).unwrap());
            })*
        }
        /// All cases in one test: one 3-server NATS cluster, a fresh
        /// stream prefix per case.
        #[test]
        fn jetstream_cluster() {
            crate::store::jetstream::testing::run_cases(&[$(
                (stringify!($case), $case::<crate::store::JetStreamStore> as fn(&mut _)),
            )*]);
        }
    };
}

conformance!(
    put_get,
    republish_moves_to_newest,
    put_items_group,
    items_after_pages,
    items_before_pages,
    remove_item,
    remove_oldest,
    purge,
    purge_in_steps,
    delete_node_isolates,
    last_seq,
    count_items,
    node_meta_round_trip,
    idempotency_with_items,
    idempotency_prune,
    queue_state_put_remove_in_order,
    queue_state_drop_node,
    webhook_records,
);
