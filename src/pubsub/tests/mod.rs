//! Unit tests of the core: one module per group of use cases, on an
//! in-memory store that can be told to fail writes.

mod collections;
mod config;
mod discovery;
mod feed;
pub(crate) mod fixtures;
mod history;
mod ingest;
mod items;
mod log;
mod manage;
mod owner;
mod persistence;
mod presence;
mod publish;
mod retract;
mod revocation;
mod subscribe;

use crate::pubsub::names::iid;
use crate::pubsub::names::nn;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;
use crate::store::{
    ArchiveEntry, IdempotencyRecord, MemoryStore, NodeId, QueueKey, QueueWrite, Store, StoreError,
    StoreResult, StoredItem,
};

/// MemoryStore whose writes fail while `fail` is set.
pub struct TestStore {
    pub inner: MemoryStore,
    pub fail: Arc<AtomicBool>,
}

impl TestStore {
    fn check(&self) -> StoreResult<()> {
        match self.fail.load(Ordering::SeqCst) {
            true => Err(StoreError::Io("injected failure".into())),
            false => Ok(()),
        }
    }
}

impl Store for TestStore {
    fn load_nodes(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        self.inner.load_nodes()
    }
    fn put_node_meta(&mut self, name: &str, meta: &[u8]) -> StoreResult<()> {
        self.check()?;
        self.inner.put_node_meta(name, meta)
    }
    fn delete_node(&mut self, name: &str, node: NodeId) -> StoreResult<()> {
        self.check()?;
        self.inner.delete_node(name, node)
    }
    fn put_item(&mut self, node: NodeId, item: &StoredItem) -> StoreResult<Option<u64>> {
        self.check()?;
        self.inner.put_item(node, item)
    }
    fn get_item(&self, node: NodeId, id: &str) -> StoreResult<Option<StoredItem>> {
        self.inner.get_item(node, id)
    }
    fn item_seq(&self, node: NodeId, id: &str) -> StoreResult<Option<u64>> {
        self.inner.item_seq(node, id)
    }
    fn remove_item(&mut self, node: NodeId, id: &str) -> StoreResult<Option<StoredItem>> {
        self.check()?;
        self.inner.remove_item(node, id)
    }
    fn items_after(&self, node: NodeId, after: u64, max: usize) -> StoreResult<Vec<StoredItem>> {
        self.inner.items_after(node, after, max)
    }
    fn items_before(&self, node: NodeId, before: u64, max: usize) -> StoreResult<Vec<StoredItem>> {
        self.inner.items_before(node, before, max)
    }
    fn remove_oldest(&mut self, node: NodeId, n: usize) -> StoreResult<Vec<String>> {
        self.check()?;
        self.inner.remove_oldest(node, n)
    }
    fn purge(&mut self, node: NodeId) -> StoreResult<u64> {
        self.check()?;
        self.inner.purge(node)
    }
    fn last_seq(&self, node: NodeId) -> StoreResult<u64> {
        self.inner.last_seq(node)
    }
    fn count_items(&self, node: NodeId) -> StoreResult<u64> {
        self.inner.count_items(node)
    }
    fn remove_expired(
        &mut self,
        node: NodeId,
        before: u64,
        max: usize,
    ) -> StoreResult<Vec<String>> {
        self.check()?;
        self.inner.remove_expired(node, before, max)
    }
    fn put_group(
        &mut self,
        items: &[(NodeId, StoredItem)],
        archive: bool,
        links: &[(NodeId, ArchiveEntry)],
        record: Option<&IdempotencyRecord>,
    ) -> StoreResult<Vec<Option<u64>>> {
        self.check()?;
        self.inner.put_group(items, archive, links, record)
    }
    fn retract_archived(
        &mut self,
        node: NodeId,
        id: &str,
        entry: &ArchiveEntry,
        links: &[(NodeId, ArchiveEntry)],
    ) -> StoreResult<Option<StoredItem>> {
        self.check()?;
        self.inner.retract_archived(node, id, entry, links)
    }
    fn archive_after(
        &self,
        node: NodeId,
        after: u64,
        max: usize,
    ) -> StoreResult<Vec<ArchiveEntry>> {
        self.inner.archive_after(node, after, max)
    }
    fn archive_before(
        &self,
        node: NodeId,
        before: u64,
        max: usize,
    ) -> StoreResult<Vec<ArchiveEntry>> {
        self.inner.archive_before(node, before, max)
    }
    fn archive_contains(&self, node: NodeId, seq: u64) -> StoreResult<bool> {
        self.inner.archive_contains(node, seq)
    }
    fn trim_archive(&mut self, node: NodeId, max: usize, before_ms: u64) -> StoreResult<u64> {
        self.check()?;
        self.inner.trim_archive(node, max, before_ms)
    }
    fn archive_stats(&self, node: NodeId) -> StoreResult<(u64, u64)> {
        self.inner.archive_stats(node)
    }
    fn load_queue_state(&self) -> StoreResult<Vec<(QueueKey, Vec<u8>)>> {
        self.inner.load_queue_state()
    }
    fn write_queue_state(&mut self, writes: &[QueueWrite]) -> StoreResult<()> {
        self.check()?;
        self.inner.write_queue_state(writes)
    }
    fn flush(&mut self) -> StoreResult<()> {
        self.check()?;
        self.inner.flush()
    }
    fn get_idempotency(&self, key: &str) -> StoreResult<Option<IdempotencyRecord>> {
        self.inner.get_idempotency(key)
    }
    fn prune_idempotency(&mut self, before_ms: u64, keep_max: usize) -> StoreResult<u64> {
        self.check()?;
        self.inner.prune_idempotency(before_ms, keep_max)
    }
    fn load_webhooks(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        self.inner.load_webhooks()
    }
    fn put_webhook(&mut self, id: &str, record: &[u8]) -> StoreResult<()> {
        self.check()?;
        self.inner.put_webhook(id, record)
    }
    fn delete_webhook(&mut self, id: &str) -> StoreResult<()> {
        self.check()?;
        self.inner.delete_webhook(id)
    }
}

pub type Svc = Service<TestStore>;

pub const OWNER: &str = "owner@example.com";
pub const ADMIN: &str = "admin@example.com";
pub const NODE: &str = "events";
/// The time core tests run at (the core reads no clock: `Service::set_now`).
pub const NOW_MS: u64 = 1_700_000_000_000;

pub fn bare(s: &str) -> BareJid {
    BareJid::new(s).unwrap()
}

pub fn jid(s: &str) -> Jid {
    Jid::new(s).unwrap()
}

pub fn ent(s: &str) -> Actor {
    Actor::Entity(bare(s))
}

pub fn settings() -> ServiceSettings {
    ServiceSettings {
        admins: vec![bare(ADMIN)],
        create_domains: vec!["example.com".into()],
        default_max_items: 10,
        max_items_cap: 100,
        max_payload_bytes: 100,
        max_page_size: 5,
        max_stanza_bytes: crate::limits::DEFAULT_MAX_STANZA_BYTES,
        auto_create_on_publish: true,
        max_nodes: None,
        retention: RetentionSettings::default(),
        archive_key: Default::default(),
    }
}

pub fn service() -> Svc {
    let store = TestStore {
        inner: MemoryStore::new(),
        fail: Arc::new(AtomicBool::new(false)),
    };
    let mut svc = Service::open(store, settings()).unwrap();
    svc.set_now(NOW_MS);
    svc
}

/// Makes the store's writes fail (or succeed again).
pub fn fail_writes(svc: &Svc, fail: bool) {
    svc.store.fail.store(fail, Ordering::SeqCst);
}

/// Closes and reopens the service on the same store.
pub fn reopen(svc: Svc) -> Svc {
    let now = svc.now_ms();
    let mut svc = Service::open(svc.into_store(), settings()).unwrap();
    svc.set_now(now);
    svc
}

pub fn fields(pairs: &[(&str, &str)]) -> Vec<FieldValues> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), vec![(*v).to_owned()]))
        .collect()
}

/// A service with node `events` owned by OWNER, configured with `config`.
pub fn service_with_node(config: &[(&str, &str)]) -> Svc {
    let mut svc = service();
    let f = fields(config);
    let _ = svc
        .create_node(&ent(OWNER), Some(&nn(NODE)), Some(&f))
        .unwrap();
    svc
}

pub fn item(id: &str, payload: &str) -> NewItem {
    NewItem {
        id: Some(iid(id)),
        payload: Some(payload.to_owned()),
    }
}

/// Publishes items `ids` as OWNER with payload `<p>{id}</p>`.
pub fn publish_ids(svc: &mut Svc, ids: &[&str]) {
    let items = ids
        .iter()
        .map(|i| item(i, &format!("<p>{i}</p>")))
        .collect();
    let _ = svc.publish(&ent(OWNER), &nn(NODE), items, None).unwrap();
}

pub fn ids(page: &ItemsPage) -> Vec<&str> {
    page.items.iter().map(|i| i.id.as_str()).collect()
}

/// Subscribes `who` (bare JID) to NODE, returning the subscription.
pub fn subscribe(svc: &mut Svc, who: &str) -> Subscription {
    svc.subscribe(&ent(who), &nn(NODE), &jid(who), None)
        .unwrap()
        .reply
}

pub fn set_affiliation(svc: &mut Svc, who: &str, affiliation: Affiliation) {
    let _ = svc
        .modify_affiliations(&ent(OWNER), &nn(NODE), &[(bare(who), affiliation)])
        .unwrap();
}

/// JIDs of every recipient of the outcome's notifications.
pub fn recipients<T>(outcome: &Outcome<T>) -> Vec<String> {
    let all = outcome.notifications.iter().flat_map(|n| &n.recipients);
    all.map(|r| r.jid.to_string()).collect()
}
