//! In-memory [`Store`] for tests of the core: same semantics, no I/O.

use super::{
    ArchiveEntry, IdempotencyRecord, NodeId, QueueKey, QueueWrite, Store, StoreResult, StoredItem,
};
use std::collections::{BTreeMap, HashMap};

#[derive(Default)]
pub struct MemoryStore {
    nodes: BTreeMap<String, Vec<u8>>,
    /// node -> seq -> item
    items: HashMap<NodeId, BTreeMap<u64, StoredItem>>,
    /// node -> item id -> seq
    index: HashMap<NodeId, HashMap<String, u64>>,
    idempotency: HashMap<String, IdempotencyRecord>,
    /// node -> seq -> history entry
    archive: HashMap<NodeId, BTreeMap<u64, ArchiveEntry>>,
    /// Consumer-group records.
    queues: BTreeMap<QueueKey, Vec<u8>>,
    /// Webhook endpoint records by id.
    webhooks: BTreeMap<String, Vec<u8>>,
    pub flushes: u64,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn append_links(&mut self, links: &[(NodeId, ArchiveEntry)]) {
        for (collection, entry) in links {
            let archive = self.archive.entry(*collection).or_default();
            archive.insert(entry.seq(), entry.clone());
        }
    }
}

impl Store for MemoryStore {
    fn load_nodes(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        Ok(self
            .nodes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn put_node_meta(&mut self, name: &str, meta: &[u8]) -> StoreResult<()> {
        self.nodes.insert(name.to_owned(), meta.to_vec());
        Ok(())
    }

    fn delete_node(&mut self, name: &str, node: NodeId) -> StoreResult<()> {
        self.nodes.remove(name);
        self.items.remove(&node);
        self.index.remove(&node);
        self.archive.remove(&node);
        Ok(())
    }

    fn put_item(&mut self, node: NodeId, item: &StoredItem) -> StoreResult<Option<u64>> {
        let old = self
            .index
            .entry(node)
            .or_default()
            .insert(item.id.clone(), item.seq);
        let items = self.items.entry(node).or_default();
        if let Some(old_seq) = old {
            items.remove(&old_seq);
        }
        items.insert(item.seq, item.clone());
        Ok(old)
    }

    fn get_item(&self, node: NodeId, id: &str) -> StoreResult<Option<StoredItem>> {
        let seq = self.item_seq(node, id)?;
        Ok(seq.and_then(|s| self.items.get(&node)?.get(&s).cloned()))
    }

    fn item_seq(&self, node: NodeId, id: &str) -> StoreResult<Option<u64>> {
        Ok(self.index.get(&node).and_then(|m| m.get(id).copied()))
    }

    fn remove_item(&mut self, node: NodeId, id: &str) -> StoreResult<Option<StoredItem>> {
        let Some(seq) = self.index.get_mut(&node).and_then(|m| m.remove(id)) else {
            return Ok(None);
        };
        Ok(self.items.get_mut(&node).and_then(|m| m.remove(&seq)))
    }

    fn items_after(&self, node: NodeId, after: u64, max: usize) -> StoreResult<Vec<StoredItem>> {
        let Some(items) = self.items.get(&node) else {
            return Ok(Vec::new());
        };
        Ok(items
            .range(after.saturating_add(1)..)
            .take(max)
            .map(|(_, i)| i.clone())
            .collect())
    }

    fn items_before(&self, node: NodeId, before: u64, max: usize) -> StoreResult<Vec<StoredItem>> {
        let Some(items) = self.items.get(&node) else {
            return Ok(Vec::new());
        };
        let mut page: Vec<_> = items
            .range(..before)
            .rev()
            .take(max)
            .map(|(_, i)| i.clone())
            .collect();
        page.reverse();
        Ok(page)
    }

    fn remove_oldest(&mut self, node: NodeId, n: usize) -> StoreResult<Vec<String>> {
        let oldest: Vec<String> = match self.items.get(&node) {
            Some(items) => items.values().take(n).map(|i| i.id.clone()).collect(),
            None => return Ok(Vec::new()),
        };
        for id in &oldest {
            self.remove_item(node, id)?;
        }
        Ok(oldest)
    }

    fn purge(&mut self, node: NodeId) -> StoreResult<u64> {
        self.index.remove(&node);
        Ok(self.items.remove(&node).map_or(0, |m| m.len() as u64))
    }

    fn last_seq(&self, node: NodeId) -> StoreResult<u64> {
        Ok(self
            .items
            .get(&node)
            .and_then(|m| m.keys().next_back().copied())
            .unwrap_or(0))
    }

    fn count_items(&self, node: NodeId) -> StoreResult<u64> {
        Ok(self.items.get(&node).map_or(0, |m| m.len() as u64))
    }

    fn remove_expired(
        &mut self,
        node: NodeId,
        before_ms: u64,
        max: usize,
    ) -> StoreResult<Vec<String>> {
        let expired: Vec<String> = match self.items.get(&node) {
            Some(items) => (items.values().take(max))
                .take_while(|i| i.published_ms < before_ms)
                .map(|i| i.id.clone())
                .collect(),
            None => return Ok(Vec::new()),
        };
        for id in &expired {
            self.remove_item(node, id)?;
        }
        Ok(expired)
    }

    fn put_group(
        &mut self,
        items: &[(NodeId, StoredItem)],
        archive: bool,
        links: &[(NodeId, ArchiveEntry)],
        record: Option<&IdempotencyRecord>,
    ) -> StoreResult<Vec<Option<u64>>> {
        self.append_links(links);
        if archive {
            for (node, item) in items {
                let entry = ArchiveEntry::Publish(item.clone());
                self.archive
                    .entry(*node)
                    .or_default()
                    .insert(item.seq, entry);
            }
        }
        if let Some(r) = record {
            self.idempotency.insert(r.key.clone(), r.clone());
        }
        items
            .iter()
            .map(|(node, item)| self.put_item(*node, item))
            .collect()
    }

    fn retract_archived(
        &mut self,
        node: NodeId,
        id: &str,
        entry: &ArchiveEntry,
        links: &[(NodeId, ArchiveEntry)],
    ) -> StoreResult<Option<StoredItem>> {
        let removed = self.remove_item(node, id)?;
        if removed.is_some() {
            let archive = self.archive.entry(node).or_default();
            archive.insert(entry.seq(), entry.clone());
            self.append_links(links);
        }
        Ok(removed)
    }

    fn archive_after(
        &self,
        node: NodeId,
        after: u64,
        max: usize,
    ) -> StoreResult<Vec<ArchiveEntry>> {
        let Some(a) = self.archive.get(&node) else {
            return Ok(Vec::new());
        };
        let Some(from) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        Ok(a.range(from..).take(max).map(|(_, e)| e.clone()).collect())
    }

    fn archive_before(
        &self,
        node: NodeId,
        before: u64,
        max: usize,
    ) -> StoreResult<Vec<ArchiveEntry>> {
        let Some(a) = self.archive.get(&node) else {
            return Ok(Vec::new());
        };
        let mut page: Vec<_> = (a.range(..before).rev().take(max))
            .map(|(_, e)| e.clone())
            .collect();
        page.reverse();
        Ok(page)
    }

    fn archive_contains(&self, node: NodeId, seq: u64) -> StoreResult<bool> {
        Ok(self
            .archive
            .get(&node)
            .is_some_and(|a| a.contains_key(&seq)))
    }

    fn trim_archive(&mut self, node: NodeId, max: usize, before_ms: u64) -> StoreResult<u64> {
        let Some(a) = self.archive.get_mut(&node) else {
            return Ok(0);
        };
        let old: Vec<u64> = (a.values().take(max))
            .take_while(|e| before_ms == u64::MAX || e.at_ms() < before_ms)
            .map(ArchiveEntry::seq)
            .collect();
        for seq in &old {
            a.remove(seq);
        }
        Ok(old.len() as u64)
    }

    fn archive_stats(&self, node: NodeId) -> StoreResult<(u64, u64)> {
        Ok(self.archive.get(&node).map_or((0, 0), |a| {
            let last = a.keys().next_back().copied().unwrap_or(0);
            (a.len() as u64, last)
        }))
    }

    fn load_queue_state(&self) -> StoreResult<Vec<(QueueKey, Vec<u8>)>> {
        Ok(self
            .queues
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn write_queue_state(&mut self, writes: &[QueueWrite]) -> StoreResult<()> {
        for w in writes {
            match w {
                QueueWrite::Put(k, v) => {
                    self.queues.insert(k.clone(), v.clone());
                }
                QueueWrite::Remove(k) => {
                    self.queues.remove(k);
                }
                QueueWrite::DropNode(node) => self.queues.retain(|k, _| k.node != *node),
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> StoreResult<()> {
        self.flushes += 1;
        Ok(())
    }

    fn get_idempotency(&self, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
        Ok(self.idempotency.get(key).cloned())
    }

    fn prune_idempotency(&mut self, created_before_ms: u64, keep_max: usize) -> StoreResult<u64> {
        let mut by_age: Vec<(u64, String)> = (self.idempotency.values())
            .map(|r| (r.created_ms, r.key.clone()))
            .collect();
        by_age.sort();
        let over = by_age.len().saturating_sub(keep_max);
        let mut removed = 0;
        for (i, (created, key)) in by_age.into_iter().enumerate() {
            if i < over || created < created_before_ms {
                self.idempotency.remove(&key);
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn load_webhooks(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        Ok(self
            .webhooks
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn put_webhook(&mut self, id: &str, record: &[u8]) -> StoreResult<()> {
        self.webhooks.insert(id.to_owned(), record.to_vec());
        Ok(())
    }

    fn delete_webhook(&mut self, id: &str) -> StoreResult<()> {
        self.webhooks.remove(id);
        Ok(())
    }
}
