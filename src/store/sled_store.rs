//! sled implementation of [`Store`]. Byte layout lives in [`super::keys`].
//!
//! Durability comes only from [`Store::flush`]: sled's periodic flusher is
//! off, so the caller decides when (group commit) and acknowledges after.
//! sled's own flush survives a process crash only; the [`DiskBarrier`]
//! after it makes the flush survive a power loss too (see `durable.rs`).

use super::keys::{self, decode_item, decode_item_id, decode_seq, encode_item, encode_seq};
use super::queue::{self as qkeys, QueueKey, QueueWrite};
use super::{ArchiveEntry, IdempotencyRecord, NodeId, Store, StoreError, StoreResult, StoredItem};
pub use durable::BarrierStats;
use durable::DiskBarrier;
use sled::{Batch, IVec};
use std::collections::HashMap;
use std::path::Path;

/// sled's page cache in MiB unless configured otherwise: the one
/// definition of the default, also `storage.cache_mb`'s in `config.rs`.
pub const DEFAULT_CACHE_MB: u64 = 4;
/// Keys removed per batch by purge/delete: bounds one batch's memory.
const CHUNK: usize = 10_000;
/// Every item key of every node (`S` and `I` kinds, see `keys.rs`).
const ITEMS_TREE: &str = "items";
/// Node name -> opaque metadata blob from the core.
const NODES_TREE: &str = "nodes";
/// Consumer-group positions and entries (layout in `queue.rs`).
const QUEUES_TREE: &str = "queues";
/// Webhook endpoint records by endpoint id (opaque to the store).
const WEBHOOKS_TREE: &str = "webhooks";

pub struct SledStore {
    db: sled::Db,
    items: sled::Tree,
    nodes: sled::Tree,
    queues: sled::Tree,
    webhooks: sled::Tree,
    barrier: DiskBarrier,
}

impl SledStore {
    pub fn open(path: &Path) -> StoreResult<Self> {
        Self::open_with_cache(path, DEFAULT_CACHE_MB * 1024 * 1024)
    }

    pub fn open_with_cache(path: &Path, cache_bytes: u64) -> StoreResult<Self> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            // 0.34.7 stores but never reads the mode; harmless either way.
            .mode(sled::Mode::HighThroughput)
            // No background flush: only our explicit flush() makes writes
            // durable, so acknowledgements never depend on a timer.
            .flush_every_ms(None)
            .open()
            .map_err(sled_err)?;
        let items = db.open_tree(ITEMS_TREE).map_err(sled_err)?;
        let nodes = db.open_tree(NODES_TREE).map_err(sled_err)?;
        let queues = db.open_tree(QUEUES_TREE).map_err(sled_err)?;
        let webhooks = db.open_tree(WEBHOOKS_TREE).map_err(sled_err)?;
        let barrier = DiskBarrier::open(path).map_err(barrier_err)?;
        Ok(Self {
            db,
            items,
            nodes,
            queues,
            webhooks,
            barrier,
        })
    }

    /// What the durability barriers did so far.
    pub fn barrier_stats(&self) -> BarrierStats {
        self.barrier.stats()
    }

    /// The node's seq entries with `from <= seq <= to`, in seq order.
    fn seq_range(&self, node: NodeId, from: u64, to: u64) -> sled::Iter {
        self.items
            .range(keys::seq_key(node, from)..=keys::seq_key(node, to))
    }

    /// Up to `max` of the node's oldest seq keys, each with its item ID
    /// (an `Err` where the value does not decode).
    fn front(&self, node: NodeId, max: usize) -> StoreResult<Vec<(IVec, StoreResult<String>)>> {
        self.seq_range(node, 0, u64::MAX)
            .take(max)
            .map(|entry| {
                let (k, v) = entry.map_err(sled_err)?;
                Ok((k, decode_item_id(&v)))
            })
            .collect()
    }

    /// One atomic write storing a group of items, with `archive` their
    /// history entries too, and an idempotency record.
    fn write_group(
        &self,
        items: &[(NodeId, StoredItem)],
        archive: bool,
        links: &[(NodeId, ArchiveEntry)],
        record: Option<&IdempotencyRecord>,
    ) -> StoreResult<Vec<Option<u64>>> {
        // Seqs given earlier in this group: the tree cannot show them yet.
        let mut pending: HashMap<(NodeId, &str), u64> = HashMap::new();
        let mut batch = Batch::default();
        let mut replaced = Vec::with_capacity(items.len());
        for (node, item) in items {
            let old = match pending.insert((*node, &item.id), item.seq) {
                Some(seq) => Some(seq),
                None => self.item_seq(*node, &item.id)?,
            };
            add_put(&mut batch, *node, item, old);
            if archive {
                let key = keys::archive_key(*node, item.seq);
                batch.insert(&key, keys::encode_archived_item(item));
            }
            replaced.push(old);
        }
        archive::add_links(&mut batch, links);
        if let Some(r) = record {
            if let Some(old) = self.get_idempotency(&r.key)? {
                batch.remove(keys::idem_time_key(old.created_ms, &old.key));
            }
            batch.insert(
                keys::idem_key(&r.key),
                keys::encode_idem(r.created_ms, &r.value),
            );
            batch.insert(keys::idem_time_key(r.created_ms, &r.key), &[][..]);
        }
        self.items.apply_batch(batch).map_err(sled_err)?;
        Ok(replaced)
    }

    /// Removes every remaining `I` key of the node, chunk by chunk. Only
    /// finds anything if a value was corrupt, but purge must leave nothing.
    fn sweep_ids(&self, node: NodeId) -> StoreResult<()> {
        loop {
            let mut batch = Batch::default();
            let mut n = 0;
            for key in self
                .items
                .scan_prefix(keys::id_prefix(node))
                .keys()
                .take(CHUNK)
            {
                batch.remove(key.map_err(sled_err)?);
                n += 1;
            }
            if n == 0 {
                return Ok(());
            }
            self.items.apply_batch(batch).map_err(sled_err)?;
        }
    }
}

impl SledStore {
    /// Removes every queue record of the node.
    fn drop_queue_node(&self, node: NodeId) -> StoreResult<()> {
        let mut batch = Batch::default();
        for key in self.queues.scan_prefix(qkeys::node_prefix(node)).keys() {
            batch.remove(key.map_err(sled_err)?);
        }
        self.queues.apply_batch(batch).map_err(sled_err)
    }
}

fn queue_key(k: &QueueKey) -> StoreResult<Vec<u8>> {
    qkeys::encode_key(k).ok_or_else(|| StoreError::Io("queue group name too long".into()))
}

/// sled reports detected on-disk corruption separately; keep that meaning.
pub(super) fn sled_err(e: sled::Error) -> StoreError {
    match e {
        sled::Error::Corruption { .. } => StoreError::Corrupt(e.to_string()),
        other => StoreError::Io(other.to_string()),
    }
}

fn barrier_err(e: std::io::Error) -> StoreError {
    StoreError::Io(format!("fsync of the sled files failed: {e}"))
}

/// Adds the writes storing `item` and dropping its `old` seq entry.
fn add_put(batch: &mut Batch, node: NodeId, item: &StoredItem, old: Option<u64>) {
    batch.insert(&keys::seq_key(node, item.seq), encode_item(item));
    batch.insert(keys::id_key(node, &item.id), &encode_seq(item.seq));
    // A batch keeps the last write per key: never remove what we insert.
    if let Some(old_seq) = old.filter(|&s| s != item.seq) {
        batch.remove(&keys::seq_key(node, old_seq));
    }
}

fn decode_entry(node: NodeId, entry: sled::Result<(IVec, IVec)>) -> StoreResult<StoredItem> {
    let (k, v) = entry.map_err(sled_err)?;
    decode_item(keys::parse_seq_key(node, &k)?, &v)
}

impl Store for SledStore {
    fn load_nodes(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        self.nodes
            .iter()
            .map(|entry| {
                let (k, v) = entry.map_err(sled_err)?;
                let name = String::from_utf8(k.to_vec())
                    .map_err(|_| StoreError::Corrupt("node name is not UTF-8".into()))?;
                Ok((name, v.to_vec()))
            })
            .collect()
    }

    fn put_node_meta(&mut self, name: &str, meta: &[u8]) -> StoreResult<()> {
        self.nodes.insert(name, meta).map_err(sled_err)?;
        Ok(())
    }

    fn delete_node(&mut self, name: &str, node: NodeId) -> StoreResult<()> {
        // Items first: a crash in between leaves the node with fewer items
        // (the delete was not acknowledged) rather than orphaned items.
        self.purge(node)?;
        while self.trim_archive(node, CHUNK, u64::MAX)? > 0 {}
        self.nodes.remove(name).map_err(sled_err)?;
        Ok(())
    }

    fn put_item(&mut self, node: NodeId, item: &StoredItem) -> StoreResult<Option<u64>> {
        let old = self.item_seq(node, &item.id)?;
        let mut batch = Batch::default();
        add_put(&mut batch, node, item, old);
        self.items.apply_batch(batch).map_err(sled_err)?;
        Ok(old)
    }

    fn put_group(
        &mut self,
        items: &[(NodeId, StoredItem)],
        archive: bool,
        links: &[(NodeId, ArchiveEntry)],
        record: Option<&IdempotencyRecord>,
    ) -> StoreResult<Vec<Option<u64>>> {
        self.write_group(items, archive, links, record)
    }

    fn get_item(&self, node: NodeId, id: &str) -> StoreResult<Option<StoredItem>> {
        let Some(seq) = self.item_seq(node, id)? else {
            return Ok(None);
        };
        match self.items.get(keys::seq_key(node, seq)).map_err(sled_err)? {
            Some(v) => decode_item(seq, &v).map(Some),
            None => Err(StoreError::Corrupt(format!("item {id:?} has no seq entry"))),
        }
    }

    fn item_seq(&self, node: NodeId, id: &str) -> StoreResult<Option<u64>> {
        let v = self.items.get(keys::id_key(node, id)).map_err(sled_err)?;
        v.map(|v| decode_seq(&v)).transpose()
    }

    fn remove_item(&mut self, node: NodeId, id: &str) -> StoreResult<Option<StoredItem>> {
        let Some(item) = self.get_item(node, id)? else {
            return Ok(None);
        };
        let mut batch = Batch::default();
        batch.remove(&keys::seq_key(node, item.seq));
        batch.remove(keys::id_key(node, id));
        self.items.apply_batch(batch).map_err(sled_err)?;
        Ok(Some(item))
    }

    fn items_after(&self, node: NodeId, after: u64, max: usize) -> StoreResult<Vec<StoredItem>> {
        let Some(from) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        self.seq_range(node, from, u64::MAX)
            .take(max)
            .map(|e| decode_entry(node, e))
            .collect()
    }

    fn items_before(&self, node: NodeId, before: u64, max: usize) -> StoreResult<Vec<StoredItem>> {
        let Some(to) = before.checked_sub(1) else {
            return Ok(Vec::new());
        };
        let mut page = self
            .seq_range(node, 0, to)
            .rev()
            .take(max)
            .map(|e| decode_entry(node, e))
            .collect::<StoreResult<Vec<_>>>()?;
        page.reverse();
        Ok(page)
    }

    fn remove_oldest(&mut self, node: NodeId, n: usize) -> StoreResult<Vec<String>> {
        let mut removed = Vec::new();
        while removed.len() < n {
            let chunk = self.front(node, (n - removed.len()).min(CHUNK))?;
            if chunk.is_empty() {
                break;
            }
            let mut batch = Batch::default();
            for (seq_key, id) in chunk {
                let id = id?;
                batch.remove(seq_key);
                batch.remove(keys::id_key(node, &id));
                removed.push(id);
            }
            self.items.apply_batch(batch).map_err(sled_err)?;
        }
        Ok(removed)
    }

    fn size_on_disk(&self) -> Option<u64> {
        self.db.size_on_disk().ok()
    }

    fn purge(&mut self, node: NodeId) -> StoreResult<u64> {
        // Each batch removes whole items (S and I together), so a crash
        // mid-purge leaves a consistent, shorter node.
        let mut count = 0;
        loop {
            let chunk = self.front(node, CHUNK)?;
            if chunk.is_empty() {
                break;
            }
            let mut batch = Batch::default();
            for (seq_key, id) in chunk {
                batch.remove(seq_key);
                if let Ok(id) = id {
                    batch.remove(keys::id_key(node, &id));
                }
                count += 1;
            }
            self.items.apply_batch(batch).map_err(sled_err)?;
        }
        self.sweep_ids(node)?;
        Ok(count)
    }

    fn last_seq(&self, node: NodeId) -> StoreResult<u64> {
        match self.seq_range(node, 0, u64::MAX).next_back() {
            Some(entry) => keys::parse_seq_key(node, &entry.map_err(sled_err)?.0),
            None => Ok(0),
        }
    }

    fn count_items(&self, node: NodeId) -> StoreResult<u64> {
        let mut n = 0;
        for key in self.seq_range(node, 0, u64::MAX).keys() {
            key.map_err(sled_err)?;
            n += 1;
        }
        Ok(n)
    }

    fn remove_expired(
        &mut self,
        node: NodeId,
        before_ms: u64,
        max: usize,
    ) -> StoreResult<Vec<String>> {
        let mut batch = Batch::default();
        let mut removed = Vec::new();
        for entry in self.seq_range(node, 0, u64::MAX).take(max) {
            let (k, v) = entry.map_err(sled_err)?;
            let (published_ms, id) = keys::decode_item_head(&v)?;
            if published_ms >= before_ms {
                break;
            }
            batch.remove(k);
            batch.remove(keys::id_key(node, &id));
            removed.push(id);
        }
        if !removed.is_empty() {
            self.items.apply_batch(batch).map_err(sled_err)?;
        }
        Ok(removed)
    }

    fn retract_archived(
        &mut self,
        node: NodeId,
        id: &str,
        entry: &ArchiveEntry,
        links: &[(NodeId, ArchiveEntry)],
    ) -> StoreResult<Option<StoredItem>> {
        archive::retract(self, node, id, entry, links)
    }

    fn archive_after(
        &self,
        node: NodeId,
        after: u64,
        max: usize,
    ) -> StoreResult<Vec<ArchiveEntry>> {
        archive::after(&self.items, node, after, max)
    }

    fn archive_before(
        &self,
        node: NodeId,
        before: u64,
        max: usize,
    ) -> StoreResult<Vec<ArchiveEntry>> {
        archive::before(&self.items, node, before, max)
    }

    fn archive_contains(&self, node: NodeId, seq: u64) -> StoreResult<bool> {
        let key = keys::archive_key(node, seq);
        self.items.contains_key(key).map_err(sled_err)
    }

    fn trim_archive(&mut self, node: NodeId, max: usize, before_ms: u64) -> StoreResult<u64> {
        archive::trim(&self.items, node, max, before_ms)
    }

    fn archive_stats(&self, node: NodeId) -> StoreResult<(u64, u64)> {
        archive::stats(&self.items, node)
    }

    fn load_queue_state(&self) -> StoreResult<Vec<(QueueKey, Vec<u8>)>> {
        self.queues
            .iter()
            .map(|entry| {
                let (k, v) = entry.map_err(sled_err)?;
                Ok((qkeys::decode_key(&k)?, v.to_vec()))
            })
            .collect()
    }

    fn write_queue_state(&mut self, writes: &[QueueWrite]) -> StoreResult<()> {
        let mut batch = Batch::default();
        for w in writes {
            match w {
                QueueWrite::Put(k, v) => batch.insert(queue_key(k)?, v.as_slice()),
                QueueWrite::Remove(k) => batch.remove(queue_key(k)?),
                QueueWrite::DropNode(node) => {
                    self.queues
                        .apply_batch(std::mem::take(&mut batch))
                        .map_err(sled_err)?;
                    self.drop_queue_node(*node)?;
                }
            }
        }
        self.queues.apply_batch(batch).map_err(sled_err)
    }

    fn flush(&mut self) -> StoreResult<()> {
        self.db.flush().map_err(sled_err)?;
        self.barrier.sync().map_err(barrier_err)
    }

    fn get_idempotency(&self, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
        let Some(v) = self.items.get(keys::idem_key(key)).map_err(sled_err)? else {
            return Ok(None);
        };
        let (created_ms, value) = keys::decode_idem(&v)?;
        Ok(Some(IdempotencyRecord {
            key: key.to_owned(),
            created_ms,
            value,
        }))
    }

    fn prune_idempotency(&mut self, created_before_ms: u64, keep_max: usize) -> StoreResult<u64> {
        let mut index = Vec::new();
        for k in self.items.scan_prefix(keys::IDEM_TIME_PREFIX).keys() {
            index.push(k.map_err(sled_err)?);
        }
        let over = index.len().saturating_sub(keep_max);
        let mut removed = 0;
        for chunk in index.chunks(CHUNK) {
            let mut batch = Batch::default();
            for k in chunk {
                let (created, key) = keys::parse_idem_time_key(k)?;
                if removed < over as u64 || created < created_before_ms {
                    batch.remove(k.clone());
                    batch.remove(keys::idem_key(&key));
                    removed += 1;
                }
            }
            self.items.apply_batch(batch).map_err(sled_err)?;
        }
        Ok(removed)
    }

    fn load_webhooks(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        self.webhooks
            .iter()
            .map(|entry| {
                let (k, v) = entry.map_err(sled_err)?;
                let id = String::from_utf8(k.to_vec())
                    .map_err(|_| StoreError::Corrupt("webhook id is not UTF-8".into()))?;
                Ok((id, v.to_vec()))
            })
            .collect()
    }

    fn put_webhook(&mut self, id: &str, record: &[u8]) -> StoreResult<()> {
        self.webhooks
            .insert(id.as_bytes(), record)
            .map_err(sled_err)?;
        Ok(())
    }

    fn delete_webhook(&mut self, id: &str) -> StoreResult<()> {
        self.webhooks.remove(id.as_bytes()).map_err(sled_err)?;
        Ok(())
    }
}

mod archive;
mod durable;
#[cfg(test)]
mod tests;
