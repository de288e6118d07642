//! The node history (XEP-0313 archive) in the `items` tree: `A` keys of
//! [`super::keys`], in seq order per node.

use super::{SledStore, keys, sled_err};
use crate::store::{ArchiveEntry, NodeId, Store, StoreResult, StoredItem};
use sled::{Batch, IVec, Tree};

/// The node's history entries with `from <= seq <= to`, in seq order.
fn range(items: &Tree, node: NodeId, from: u64, to: u64) -> sled::Iter {
    items.range(keys::archive_key(node, from)..=keys::archive_key(node, to))
}

fn decode(node: NodeId, entry: sled::Result<(IVec, IVec)>) -> StoreResult<ArchiveEntry> {
    let (k, v) = entry.map_err(sled_err)?;
    keys::decode_archive(keys::parse_archive_key(node, &k)?, &v)
}

pub(super) fn retract(
    store: &SledStore,
    node: NodeId,
    id: &str,
    entry: &ArchiveEntry,
    links: &[(NodeId, ArchiveEntry)],
) -> StoreResult<Option<StoredItem>> {
    let Some(item) = store.get_item(node, id)? else {
        return Ok(None);
    };
    let mut batch = Batch::default();
    batch.remove(&keys::seq_key(node, item.seq));
    batch.remove(keys::id_key(node, id));
    batch.insert(
        &keys::archive_key(node, entry.seq()),
        keys::encode_archive(entry),
    );
    add_links(&mut batch, links);
    store.items.apply_batch(batch).map_err(sled_err)?;
    Ok(Some(item))
}

/// Adds the collections' entries (`Store::put_group`'s `links`) to a
/// batch, so they commit with the leaf's.
pub(super) fn add_links(batch: &mut Batch, links: &[(NodeId, ArchiveEntry)]) {
    for (collection, entry) in links {
        let key = keys::archive_key(*collection, entry.seq());
        batch.insert(&key, keys::encode_archive(entry));
    }
}

pub(super) fn after(
    items: &Tree,
    node: NodeId,
    after: u64,
    max: usize,
) -> StoreResult<Vec<ArchiveEntry>> {
    let Some(from) = after.checked_add(1) else {
        return Ok(Vec::new());
    };
    range(items, node, from, u64::MAX)
        .take(max)
        .map(|e| decode(node, e))
        .collect()
}

pub(super) fn before(
    items: &Tree,
    node: NodeId,
    before: u64,
    max: usize,
) -> StoreResult<Vec<ArchiveEntry>> {
    let Some(to) = before.checked_sub(1) else {
        return Ok(Vec::new());
    };
    let mut page = range(items, node, 0, to)
        .rev()
        .take(max)
        .map(|e| decode(node, e))
        .collect::<StoreResult<Vec<_>>>()?;
    page.reverse();
    Ok(page)
}

pub(super) fn trim(items: &Tree, node: NodeId, max: usize, before_ms: u64) -> StoreResult<u64> {
    let mut batch = Batch::default();
    let mut n = 0;
    for entry in range(items, node, 0, u64::MAX).take(max) {
        let (k, v) = entry.map_err(sled_err)?;
        if before_ms != u64::MAX && keys::decode_archive_time(&v)? >= before_ms {
            break;
        }
        batch.remove(k);
        n += 1;
    }
    if n > 0 {
        items.apply_batch(batch).map_err(sled_err)?;
    }
    Ok(n)
}

pub(super) fn stats(items: &Tree, node: NodeId) -> StoreResult<(u64, u64)> {
    let mut count = 0;
    let mut last = 0;
    for key in range(items, node, 0, u64::MAX).keys() {
        last = keys::parse_archive_key(node, &key.map_err(sled_err)?)?;
        count += 1;
    }
    Ok((count, last))
}
