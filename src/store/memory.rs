//! In-memory [`Store`] for tests of the core: same semantics, no I/O.

use super::{IdempotencyRecord, NodeId, Store, StoreResult, StoredItem};
use std::collections::{BTreeMap, HashMap};

#[derive(Default)]
pub struct MemoryStore {
    nodes: BTreeMap<String, Vec<u8>>,
    /// node -> seq -> item
    items: HashMap<NodeId, BTreeMap<u64, StoredItem>>,
    /// node -> item id -> seq
    index: HashMap<NodeId, HashMap<String, u64>>,
    idempotency: HashMap<String, IdempotencyRecord>,
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

    fn flush(&mut self) -> StoreResult<()> {
        self.flushes += 1;
        Ok(())
    }

    fn put_items_keyed(
        &mut self,
        items: &[(NodeId, StoredItem)],
        record: Option<&IdempotencyRecord>,
    ) -> StoreResult<Vec<Option<u64>>> {
        let replaced = self.put_items(items)?;
        if let Some(r) = record {
            self.idempotency.insert(r.key.clone(), r.clone());
        }
        Ok(replaced)
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
}
