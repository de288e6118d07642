//! `Box<dyn Store>`: the backend chosen by the config at startup
//! (`[storage] backend`), behind the same trait, so the core stays generic
//! and does not know which one it has. Every method forwards, defaults
//! included, so a backend's own group writes are used.

use super::{
    ArchiveEntry, IdempotencyRecord, NodeId, QueueKey, QueueWrite, Store, StoreResult, StoredItem,
};

impl Store for Box<dyn Store> {
    fn size_on_disk(&self) -> Option<u64> {
        (**self).size_on_disk()
    }
    fn load_nodes(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        (**self).load_nodes()
    }
    fn put_node_meta(&mut self, name: &str, meta: &[u8]) -> StoreResult<()> {
        (**self).put_node_meta(name, meta)
    }
    fn delete_node(&mut self, name: &str, node: NodeId) -> StoreResult<()> {
        (**self).delete_node(name, node)
    }
    fn put_item(&mut self, node: NodeId, item: &StoredItem) -> StoreResult<Option<u64>> {
        (**self).put_item(node, item)
    }
    fn put_items(&mut self, items: &[(NodeId, StoredItem)]) -> StoreResult<Vec<Option<u64>>> {
        (**self).put_items(items)
    }
    fn put_group(
        &mut self,
        items: &[(NodeId, StoredItem)],
        archive: bool,
        links: &[(NodeId, ArchiveEntry)],
        record: Option<&IdempotencyRecord>,
    ) -> StoreResult<Vec<Option<u64>>> {
        (**self).put_group(items, archive, links, record)
    }
    fn get_item(&self, node: NodeId, id: &str) -> StoreResult<Option<StoredItem>> {
        (**self).get_item(node, id)
    }
    fn item_seq(&self, node: NodeId, id: &str) -> StoreResult<Option<u64>> {
        (**self).item_seq(node, id)
    }
    fn remove_item(&mut self, node: NodeId, id: &str) -> StoreResult<Option<StoredItem>> {
        (**self).remove_item(node, id)
    }
    fn items_after(&self, node: NodeId, after: u64, max: usize) -> StoreResult<Vec<StoredItem>> {
        (**self).items_after(node, after, max)
    }
    fn items_before(&self, node: NodeId, before: u64, max: usize) -> StoreResult<Vec<StoredItem>> {
        (**self).items_before(node, before, max)
    }
    fn remove_oldest(&mut self, node: NodeId, n: usize) -> StoreResult<Vec<String>> {
        (**self).remove_oldest(node, n)
    }
    fn purge(&mut self, node: NodeId) -> StoreResult<u64> {
        (**self).purge(node)
    }
    fn purge_step(&mut self, node: NodeId, max: usize) -> StoreResult<u64> {
        (**self).purge_step(node, max)
    }
    fn last_seq(&self, node: NodeId) -> StoreResult<u64> {
        (**self).last_seq(node)
    }
    fn count_items(&self, node: NodeId) -> StoreResult<u64> {
        (**self).count_items(node)
    }
    fn remove_expired(
        &mut self,
        node: NodeId,
        before_ms: u64,
        max: usize,
    ) -> StoreResult<Vec<String>> {
        (**self).remove_expired(node, before_ms, max)
    }
    fn put_items_archived(
        &mut self,
        items: &[(NodeId, StoredItem)],
    ) -> StoreResult<Vec<Option<u64>>> {
        (**self).put_items_archived(items)
    }
    fn retract_archived(
        &mut self,
        node: NodeId,
        id: &str,
        entry: &ArchiveEntry,
        links: &[(NodeId, ArchiveEntry)],
    ) -> StoreResult<Option<StoredItem>> {
        (**self).retract_archived(node, id, entry, links)
    }
    fn archive_after(
        &self,
        node: NodeId,
        after: u64,
        max: usize,
    ) -> StoreResult<Vec<ArchiveEntry>> {
        (**self).archive_after(node, after, max)
    }
    fn archive_before(
        &self,
        node: NodeId,
        before: u64,
        max: usize,
    ) -> StoreResult<Vec<ArchiveEntry>> {
        (**self).archive_before(node, before, max)
    }
    fn archive_contains(&self, node: NodeId, seq: u64) -> StoreResult<bool> {
        (**self).archive_contains(node, seq)
    }
    fn trim_archive(&mut self, node: NodeId, max: usize, before_ms: u64) -> StoreResult<u64> {
        (**self).trim_archive(node, max, before_ms)
    }
    fn archive_stats(&self, node: NodeId) -> StoreResult<(u64, u64)> {
        (**self).archive_stats(node)
    }
    fn load_queue_state(&self) -> StoreResult<Vec<(QueueKey, Vec<u8>)>> {
        (**self).load_queue_state()
    }
    fn write_queue_state(&mut self, writes: &[QueueWrite]) -> StoreResult<()> {
        (**self).write_queue_state(writes)
    }
    fn flush(&mut self) -> StoreResult<()> {
        (**self).flush()
    }
    fn put_items_keyed(
        &mut self,
        items: &[(NodeId, StoredItem)],
        record: Option<&IdempotencyRecord>,
    ) -> StoreResult<Vec<Option<u64>>> {
        (**self).put_items_keyed(items, record)
    }
    fn get_idempotency(&self, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
        (**self).get_idempotency(key)
    }
    fn prune_idempotency(&mut self, created_before_ms: u64, keep_max: usize) -> StoreResult<u64> {
        (**self).prune_idempotency(created_before_ms, keep_max)
    }
    fn load_webhooks(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        (**self).load_webhooks()
    }
    fn put_webhook(&mut self, id: &str, record: &[u8]) -> StoreResult<()> {
        (**self).put_webhook(id, record)
    }
    fn delete_webhook(&mut self, id: &str) -> StoreResult<()> {
        (**self).delete_webhook(id)
    }
}
