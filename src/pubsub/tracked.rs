//! The store as the service sees it: every call goes to the backend, and
//! every call that changed something marks the service unflushed, so the
//! service alone decides whether [`Service::flush`] has work
//! (docs/architecture.md, "One exit"). A call that reports it changed
//! nothing (no expired item, no retracted item) leaves it clean, so an
//! idle retention tick costs no flush; a failed call marks it unflushed,
//! since part of it may have been written.
//!
//! [`Service::flush`]: super::Service::flush

use crate::store::{
    ArchiveEntry, IdempotencyRecord, NodeId, QueueKey, QueueWrite, Store, StoreResult, StoredItem,
};

pub struct Tracked<S> {
    backend: S,
    /// The backend saw a write since its last successful flush.
    written: bool,
}

impl<S: Store> Tracked<S> {
    pub(crate) fn new(backend: S) -> Self {
        Tracked {
            backend,
            written: false,
        }
    }

    pub(crate) fn into_inner(self) -> S {
        self.backend
    }

    pub(crate) fn written(&self) -> bool {
        self.written
    }

    /// Makes the next flush reach the backend although nothing was written
    /// (the readiness probe asks whether the store can flush at all).
    pub(crate) fn touch(&mut self) {
        self.written = true;
    }

    /// Records a mutating call: `changed` says whether its result reports
    /// a change; an error counts as one.
    fn mark<T>(&mut self, result: StoreResult<T>, changed: impl Fn(&T) -> bool) -> StoreResult<T> {
        match &result {
            Ok(v) if !changed(v) => {}
            _ => self.written = true,
        }
        result
    }
}

/// Read access to the backend (tests read the memory store's counters).
impl<S> std::ops::Deref for Tracked<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.backend
    }
}

fn always<T>(_: &T) -> bool {
    true
}

impl<S: Store> Store for Tracked<S> {
    fn size_on_disk(&self) -> Option<u64> {
        self.backend.size_on_disk()
    }
    fn load_nodes(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        self.backend.load_nodes()
    }
    fn put_node_meta(&mut self, name: &str, meta: &[u8]) -> StoreResult<()> {
        let r = self.backend.put_node_meta(name, meta);
        self.mark(r, always)
    }
    fn delete_node(&mut self, name: &str, node: NodeId) -> StoreResult<()> {
        let r = self.backend.delete_node(name, node);
        self.mark(r, always)
    }
    fn put_item(&mut self, node: NodeId, item: &StoredItem) -> StoreResult<Option<u64>> {
        let r = self.backend.put_item(node, item);
        self.mark(r, always)
    }
    fn put_items(&mut self, items: &[(NodeId, StoredItem)]) -> StoreResult<Vec<Option<u64>>> {
        let r = self.backend.put_items(items);
        self.mark(r, |_| !items.is_empty())
    }
    fn put_group(
        &mut self,
        items: &[(NodeId, StoredItem)],
        archive: bool,
        links: &[(NodeId, ArchiveEntry)],
        record: Option<&IdempotencyRecord>,
    ) -> StoreResult<Vec<Option<u64>>> {
        let r = self.backend.put_group(items, archive, links, record);
        self.mark(r, |_| {
            !items.is_empty() || !links.is_empty() || record.is_some()
        })
    }
    fn get_item(&self, node: NodeId, id: &str) -> StoreResult<Option<StoredItem>> {
        self.backend.get_item(node, id)
    }
    fn item_seq(&self, node: NodeId, id: &str) -> StoreResult<Option<u64>> {
        self.backend.item_seq(node, id)
    }
    fn remove_item(&mut self, node: NodeId, id: &str) -> StoreResult<Option<StoredItem>> {
        let r = self.backend.remove_item(node, id);
        self.mark(r, Option::is_some)
    }
    fn items_after(&self, node: NodeId, after: u64, max: usize) -> StoreResult<Vec<StoredItem>> {
        self.backend.items_after(node, after, max)
    }
    fn items_before(&self, node: NodeId, before: u64, max: usize) -> StoreResult<Vec<StoredItem>> {
        self.backend.items_before(node, before, max)
    }
    fn remove_oldest(&mut self, node: NodeId, n: usize) -> StoreResult<Vec<String>> {
        let r = self.backend.remove_oldest(node, n);
        self.mark(r, |gone| !gone.is_empty())
    }
    fn purge(&mut self, node: NodeId) -> StoreResult<u64> {
        let r = self.backend.purge(node);
        self.mark(r, |n| *n > 0)
    }
    fn purge_step(&mut self, node: NodeId, max: usize) -> StoreResult<u64> {
        let r = self.backend.purge_step(node, max);
        self.mark(r, |n| *n > 0)
    }
    fn last_seq(&self, node: NodeId) -> StoreResult<u64> {
        self.backend.last_seq(node)
    }
    fn count_items(&self, node: NodeId) -> StoreResult<u64> {
        self.backend.count_items(node)
    }
    fn remove_expired(
        &mut self,
        node: NodeId,
        before_ms: u64,
        max: usize,
    ) -> StoreResult<Vec<String>> {
        let r = self.backend.remove_expired(node, before_ms, max);
        self.mark(r, |gone| !gone.is_empty())
    }
    fn put_items_archived(
        &mut self,
        items: &[(NodeId, StoredItem)],
    ) -> StoreResult<Vec<Option<u64>>> {
        let r = self.backend.put_items_archived(items);
        self.mark(r, |_| !items.is_empty())
    }
    fn retract_archived(
        &mut self,
        node: NodeId,
        id: &str,
        entry: &ArchiveEntry,
        links: &[(NodeId, ArchiveEntry)],
    ) -> StoreResult<Option<StoredItem>> {
        let r = self.backend.retract_archived(node, id, entry, links);
        self.mark(r, Option::is_some)
    }
    fn archive_after(
        &self,
        node: NodeId,
        after: u64,
        max: usize,
    ) -> StoreResult<Vec<ArchiveEntry>> {
        self.backend.archive_after(node, after, max)
    }
    fn archive_before(
        &self,
        node: NodeId,
        before: u64,
        max: usize,
    ) -> StoreResult<Vec<ArchiveEntry>> {
        self.backend.archive_before(node, before, max)
    }
    fn archive_contains(&self, node: NodeId, seq: u64) -> StoreResult<bool> {
        self.backend.archive_contains(node, seq)
    }
    fn trim_archive(&mut self, node: NodeId, max: usize, before_ms: u64) -> StoreResult<u64> {
        let r = self.backend.trim_archive(node, max, before_ms);
        self.mark(r, |n| *n > 0)
    }
    fn archive_stats(&self, node: NodeId) -> StoreResult<(u64, u64)> {
        self.backend.archive_stats(node)
    }
    fn load_queue_state(&self) -> StoreResult<Vec<(QueueKey, Vec<u8>)>> {
        self.backend.load_queue_state()
    }
    fn write_queue_state(&mut self, writes: &[QueueWrite]) -> StoreResult<()> {
        let r = self.backend.write_queue_state(writes);
        self.mark(r, |_| !writes.is_empty())
    }
    fn flush(&mut self) -> StoreResult<()> {
        self.backend.flush()?;
        self.written = false;
        Ok(())
    }
    fn put_items_keyed(
        &mut self,
        items: &[(NodeId, StoredItem)],
        record: Option<&IdempotencyRecord>,
    ) -> StoreResult<Vec<Option<u64>>> {
        let r = self.backend.put_items_keyed(items, record);
        self.mark(r, |_| !items.is_empty() || record.is_some())
    }
    fn get_idempotency(&self, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
        self.backend.get_idempotency(key)
    }
    fn prune_idempotency(&mut self, created_before_ms: u64, keep_max: usize) -> StoreResult<u64> {
        let r = self.backend.prune_idempotency(created_before_ms, keep_max);
        self.mark(r, |n| *n > 0)
    }
    fn load_webhooks(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        self.backend.load_webhooks()
    }
    fn put_webhook(&mut self, id: &str, record: &[u8]) -> StoreResult<()> {
        let r = self.backend.put_webhook(id, record);
        self.mark(r, always)
    }
    fn delete_webhook(&mut self, id: &str) -> StoreResult<()> {
        let r = self.backend.delete_webhook(id);
        self.mark(r, always)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn changes_mark_it_and_a_flush_clears_it_but_no_ops_do_not() {
        let mut t = Tracked::new(MemoryStore::new());
        assert!(t.remove_expired(1, u64::MAX, 10).unwrap().is_empty());
        assert_eq!(t.trim_archive(1, 10, u64::MAX).unwrap(), 0);
        assert!(t.remove_item(1, "x").unwrap().is_none());
        assert!(!t.written(), "nothing changed");
        t.put_node_meta("n", b"{}").unwrap();
        assert!(t.written());
        t.flush().unwrap();
        assert!(!t.written());
        assert_eq!(t.flushes, 1);
    }
}
