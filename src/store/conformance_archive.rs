//! The history (archive) and expiry part of the [`Store`] behaviour suite,
//! run against both `MemoryStore` and `SledStore` like `conformance.rs`.

use super::{ArchiveEntry, MemoryStore, NodeId, SledStore, Store, StoredItem};

const N1: NodeId = 1;
const N2: NodeId = 2;

fn item(id: &str, seq: u64) -> StoredItem {
    StoredItem {
        id: id.to_owned(),
        seq,
        publisher: Some("alice@example.com".to_owned()),
        published_ms: 1_000 * seq,
        payload: Some(format!("<entry n='{seq}'/>")),
    }
}

/// Publishes `item-1..=n` with seq 1..=n, archived.
fn fill<S: Store>(s: &mut S, node: NodeId, n: u64) {
    let group: Vec<_> = (1..=n)
        .map(|seq| (node, item(&format!("item-{seq}"), seq)))
        .collect();
    s.put_items_archived(&group).unwrap();
}

fn seqs(entries: &[ArchiveEntry]) -> Vec<u64> {
    entries.iter().map(ArchiveEntry::seq).collect()
}

fn history_keeps_replaced_items<S: Store>(s: &mut S) {
    fill(s, N1, 3);
    let newer = StoredItem {
        payload: Some("<v2/>".into()),
        ..item("item-1", 4)
    };
    assert_eq!(
        s.put_items_archived(&[(N1, newer.clone())]).unwrap(),
        [Some(1)]
    );
    let items: Vec<u64> = s
        .items_after(N1, 0, 10)
        .unwrap()
        .iter()
        .map(|i| i.seq)
        .collect();
    assert_eq!(items, [2, 3, 4], "current items");
    let history = s.archive_after(N1, 0, 10).unwrap();
    assert_eq!(
        seqs(&history),
        [1, 2, 3, 4],
        "history keeps the replaced one"
    );
    assert_eq!(history[0], ArchiveEntry::Publish(item("item-1", 1)));
    assert_eq!(history[3], ArchiveEntry::Publish(newer));
    assert!(s.archive_after(N2, 0, 10).unwrap().is_empty(), "other node");
    assert_eq!(s.archive_stats(N1).unwrap(), (4, 4));
}

fn retract_is_archived<S: Store>(s: &mut S) {
    fill(s, N1, 2);
    let entry = ArchiveEntry::Retract {
        seq: 3,
        id: "item-1".into(),
        at_ms: 3_000,
    };
    let removed = s.retract_archived(N1, "item-1", &entry, &[]).unwrap();
    assert_eq!(removed, Some(item("item-1", 1)));
    assert_eq!(s.get_item(N1, "item-1").unwrap(), None);
    assert_eq!(
        s.archive_after(N1, 2, 10).unwrap(),
        std::slice::from_ref(&entry)
    );
    let missing = ArchiveEntry::Retract {
        seq: 4,
        id: "nope".into(),
        at_ms: 4_000,
    };
    assert_eq!(s.retract_archived(N1, "nope", &missing, &[]).unwrap(), None);
    assert!(!s.archive_contains(N1, 4).unwrap(), "nothing written");
    assert!(s.archive_contains(N1, 3).unwrap());
}

fn history_pages<S: Store>(s: &mut S) {
    fill(s, N1, 10);
    fill(s, N2, 3);
    assert_eq!(seqs(&s.archive_after(N1, 0, 4).unwrap()), [1, 2, 3, 4]);
    assert_eq!(seqs(&s.archive_after(N1, 8, 4).unwrap()), [9, 10]);
    assert!(s.archive_after(N1, u64::MAX, 4).unwrap().is_empty());
    assert_eq!(seqs(&s.archive_before(N1, 5, 3).unwrap()), [2, 3, 4]);
    assert_eq!(seqs(&s.archive_before(N1, u64::MAX, 2).unwrap()), [9, 10]);
    assert!(s.archive_before(N1, 0, 2).unwrap().is_empty());
    assert!(s.archive_before(N1, 1, 2).unwrap().is_empty());
}

fn trim_history<S: Store>(s: &mut S) {
    fill(s, N1, 10);
    assert_eq!(s.trim_archive(N1, 3, u64::MAX).unwrap(), 3);
    assert!(!s.archive_contains(N1, 3).unwrap());
    // By age: entries at 4000..=6000 ms are before 7000 ms, at most 10.
    assert_eq!(s.trim_archive(N1, 10, 7_000).unwrap(), 3);
    assert_eq!(seqs(&s.archive_after(N1, 0, 20).unwrap()), [7, 8, 9, 10]);
    assert_eq!(s.trim_archive(N1, 1, 100_000).unwrap(), 1, "max wins");
    assert_eq!(s.archive_stats(N1).unwrap(), (3, 10));
    assert_eq!(s.count_items(N1).unwrap(), 10, "items untouched");
}

fn expire_items<S: Store>(s: &mut S) {
    fill(s, N1, 10);
    // Seqs 1..=3 are older than 4000 ms, but at most 2 per call.
    assert_eq!(
        s.remove_expired(N1, 4_000, 2).unwrap(),
        ["item-1", "item-2"]
    );
    assert_eq!(s.remove_expired(N1, 4_000, 100).unwrap(), ["item-3"]);
    assert!(s.remove_expired(N1, 4_000, 100).unwrap().is_empty());
    assert_eq!(s.item_seq(N1, "item-3").unwrap(), None);
    assert_eq!(s.count_items(N1).unwrap(), 7);
    assert!(s.remove_expired(N2, u64::MAX, 100).unwrap().is_empty());
    assert_eq!(s.archive_stats(N1).unwrap(), (10, 10), "history untouched");
}

fn purge_keeps_history_delete_drops_it<S: Store>(s: &mut S) {
    fill(s, N1, 5);
    fill(s, N2, 2);
    s.put_node_meta("n1", b"m").unwrap();
    assert_eq!(s.purge(N1).unwrap(), 5);
    assert_eq!(s.archive_stats(N1).unwrap(), (5, 5));
    s.delete_node("n1", N1).unwrap();
    assert_eq!(s.archive_stats(N1).unwrap(), (0, 0));
    assert_eq!(s.archive_stats(N2).unwrap(), (2, 2), "other node kept");
    s.flush().unwrap();
}

const COLLECTION: NodeId = 9;

fn link(seq: u64, leaf: NodeId, leaf_seq: u64) -> ArchiveEntry {
    ArchiveEntry::Link {
        seq,
        leaf,
        leaf_seq,
        at_ms: 1_000 * leaf_seq,
    }
}

/// A collection's links are written with the leaf's entries (publication
/// and retraction), page, trim and drop like any history entry, and leave
/// the leaves' histories as they were.
fn collection_links_are_history<S: Store>(s: &mut S) {
    let group = [(N1, item("a", 1)), (N2, item("b", 1))];
    let links = [(COLLECTION, link(1, N1, 1)), (COLLECTION, link(2, N2, 1))];
    s.put_group(&group, true, &links, None).unwrap();
    let retract = ArchiveEntry::Retract {
        seq: 2,
        id: "a".into(),
        at_ms: 2_000,
    };
    let retracted = [(COLLECTION, link(3, N1, 2))];
    assert!(
        s.retract_archived(N1, "a", &retract, &retracted)
            .unwrap()
            .is_some()
    );
    let none = [(COLLECTION, link(4, N1, 3))];
    let missing = ArchiveEntry::Retract {
        seq: 3,
        id: "a".into(),
        at_ms: 3_000,
    };
    assert_eq!(s.retract_archived(N1, "a", &missing, &none).unwrap(), None);
    assert!(
        !s.archive_contains(COLLECTION, 4).unwrap(),
        "nothing written"
    );

    let history = s.archive_after(COLLECTION, 0, 10).unwrap();
    assert_eq!(
        history,
        [
            links[0].1.clone(),
            links[1].1.clone(),
            retracted[0].1.clone()
        ]
    );
    assert_eq!(seqs(&s.archive_before(COLLECTION, 3, 1).unwrap()), [2]);
    assert_eq!(s.archive_stats(COLLECTION).unwrap(), (3, 3));
    assert_eq!(
        s.archive_stats(N1).unwrap(),
        (2, 2),
        "leaf history as before"
    );
    assert_eq!(
        s.count_items(COLLECTION).unwrap(),
        0,
        "a collection holds no items"
    );
    // By age, as any entry: link 1 is at 1000 ms.
    assert_eq!(s.trim_archive(COLLECTION, 10, 1_500).unwrap(), 2);
    assert_eq!(seqs(&s.archive_after(COLLECTION, 0, 10).unwrap()), [3]);
    s.put_node_meta("c", b"m").unwrap();
    s.delete_node("c", COLLECTION).unwrap();
    assert_eq!(s.archive_stats(COLLECTION).unwrap(), (0, 0));
    assert_eq!(s.archive_stats(N2).unwrap(), (1, 1), "leaf history kept");
    s.flush().unwrap();
}

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
    history_keeps_replaced_items,
    retract_is_archived,
    history_pages,
    trim_history,
    expire_items,
    purge_keeps_history_delete_drops_it,
    collection_links_are_history,
);
