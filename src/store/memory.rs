//! In-memory [`Store`] for tests of the core: same semantics, no I/O.

use super::{NodeId, QueueKey, QueueWrite, Store, StoreResult, StoredItem};
use std::collections::{BTreeMap, HashMap};

#[derive(Default)]
pub struct MemoryStore {
    nodes: BTreeMap<String, Vec<u8>>,
    /// node -> seq -> item
    items: HashMap<NodeId, BTreeMap<u64, StoredItem>>,
    /// node -> item id -> seq
    index: HashMap<NodeId, HashMap<String, u64>>,
    /// Consumer-group records.
    queues: BTreeMap<QueueKey, Vec<u8>>,
    pub flushes: u64,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
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
}
