//! The [`Service`] object: settings, loading from the store, and the
//! helpers every use case shares (node lookup, persisting metadata, IDs,
//! recipients). The use cases live in the `ops_*` modules.

use jid::BareJid;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::access::Access;
use super::archive_ids::ArchiveKey;
use super::error::PubsubError;
use super::node::{Node, NodeMeta, decode_meta, encode_meta};
use super::retention::RetentionSettings;
use super::tracked::Tracked;
use super::types::Actor;
use crate::store::{NodeId, Store};

/// Metadata name of the service record (next node id).
/// XML text cannot contain NUL, so no real node can have this name.
pub const SERVICE_RECORD: &str = "\u{0}herald:service";

/// Service-wide settings (from `config.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSettings {
    /// Owners of every node; they may create nodes.
    pub admins: Vec<BareJid>,
    /// Users of these domains may create nodes.
    pub create_domains: Vec<String>,
    /// `pubsub#max_items` of new nodes.
    pub default_max_items: u64,
    /// Upper bound on `pubsub#max_items` (also what `max` means).
    pub max_items_cap: u64,
    /// Largest payload accepted, in bytes of serialized XML.
    pub max_payload_bytes: usize,
    /// Most items one retrieval returns.
    pub max_page_size: usize,
    /// Largest stanza Herald sends (`limits.max_stanza_bytes`): protocol
    /// pages replies and splits notifications to stay under it.
    pub max_stanza_bytes: usize,
    /// Publish to a missing node creates it when the actor may create
    /// nodes (XEP-0060 §7.1.4).
    pub auto_create_on_publish: bool,
    /// Most nodes the service holds (`None`: unlimited).
    pub max_nodes: Option<usize>,
    /// Node history (XEP-0313) limits and the expiry sweep's batch size.
    pub retention: RetentionSettings,
    /// Key of the opaque archive IDs (stanza-ids, MAM cursors).
    pub archive_key: ArchiveKey,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        ServiceSettings {
            admins: Vec::new(),
            create_domains: Vec::new(),
            default_max_items: 1000,
            max_items_cap: 1_000_000,
            max_payload_bytes: 64 * 1024,
            max_page_size: 1000,
            max_stanza_bytes: crate::limits::DEFAULT_MAX_STANZA_BYTES,
            auto_create_on_publish: true,
            max_nodes: None,
            retention: RetentionSettings::default(),
            archive_key: ArchiveKey::default(),
        }
    }
}

/// Unknown fields are ignored: records of older versions also held the
/// JIDs sharing presence with the service, which grant nothing any more.
#[derive(Serialize, Deserialize, Default)]
struct ServiceRecord {
    next_node_id: NodeId,
}

/// The pubsub service core over a [`Store`]. Single-threaded: the
/// executor owns it and calls [`Service::flush`] once per batch.
pub struct Service<S: Store> {
    /// Every store call goes through [`Tracked`], which knows whether
    /// anything is unflushed.
    pub(crate) store: Tracked<S>,
    pub(crate) settings: ServiceSettings,
    pub(crate) nodes: BTreeMap<String, Node>,
    pub(crate) next_node_id: NodeId,
    ids: IdGen,
    /// Consumer groups (`queue`): state and writes for the next flush.
    pub(crate) queues: super::queue::Queues,
    /// Published items not yet taken (`None`: feed off; see `feed.rs`).
    pub(crate) feed: Option<Vec<super::feed::Published>>,
    /// History entries not yet taken (`None`: journal off; see `log.rs`).
    pub(crate) journal: Option<Vec<super::log::LogEvent>>,
    /// The time of the job being handled (ms since the Unix epoch), set by
    /// the caller before each job: the core reads no clock of its own
    /// (docs/architecture.md, "One exit"), so tests drive time.
    now_ms: u64,
    /// Where long operations report their steps (see `progress.rs`).
    pub(crate) progress: Box<dyn super::progress::Progress>,
}

impl<S: Store> Service<S> {
    /// Loads every node's metadata and counters from the store.
    pub fn open(store: S, settings: ServiceSettings) -> Result<Self, PubsubError> {
        let mut service = Service {
            store: Tracked::new(store),
            settings,
            nodes: BTreeMap::new(),
            next_node_id: 1,
            ids: IdGen::default(),
            queues: Default::default(),
            feed: None,
            journal: None,
            now_ms: 0,
            progress: Box::new(super::progress::Silent),
        };
        let mut record = ServiceRecord::default();
        for (name, blob) in service.store.load_nodes()? {
            if name == SERVICE_RECORD {
                record = serde_json::from_slice(&blob)
                    .map_err(|e| PubsubError::Internal(format!("service record: {e}")))?;
                continue;
            }
            let (id, meta) = decode_meta(&name, &blob)?;
            let count = service.store.count_items(id)?;
            let (history, last_entry) = service.store.archive_stats(id)?;
            let high_seq = (service.store.last_seq(id)?)
                .max(meta.high_water)
                .max(last_entry);
            service.next_node_id = service.next_node_id.max(id + 1);
            let node = Node::new(id, meta, count, high_seq, history);
            service.nodes.insert(name, node);
        }
        service.next_node_id = service.next_node_id.max(record.next_node_id);
        service.load_queues()?;
        Ok(service)
    }

    /// Makes every write so far durable (group commit: once per batch,
    /// before any reply or notification of the batch is sent). Does
    /// nothing when nothing is unflushed; returns whether it flushed.
    /// Callers keep no flag: the executor calls it after every batch
    /// (docs/architecture.md, "One exit").
    pub fn flush(&mut self) -> Result<bool, PubsubError> {
        if !self.unflushed() {
            return Ok(false);
        }
        self.persist_queues()?;
        self.store.flush()?;
        Ok(true)
    }

    /// Whether anything changed since the last flush: a store write or
    /// queue state still to be written.
    pub fn unflushed(&self) -> bool {
        self.store.written() || self.queues_unflushed()
    }

    /// The readiness probe: the next [`Service::flush`] reaches the store
    /// even if nothing was written, so its answer proves the store flushes.
    pub fn require_flush(&mut self) {
        self.store.touch();
    }

    /// Long operations report to `progress` from now on.
    pub fn set_progress(&mut self, progress: Box<dyn super::progress::Progress>) {
        self.progress = progress;
    }

    /// Sets the time of the next use cases (the caller's one clock).
    pub fn set_now(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
    }

    /// The time set by [`Service::set_now`].
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    pub fn settings(&self) -> &ServiceSettings {
        &self.settings
    }

    /// Gives the store back (shutdown, tests).
    pub fn into_store(self) -> S {
        self.store.into_inner()
    }

    pub(crate) fn access(&self) -> Access<'_> {
        Access {
            admins: &self.settings.admins,
        }
    }

    /// The node by name: `NodeIdRequired` for an empty name.
    pub(crate) fn node(&self, name: &str) -> Result<&Node, PubsubError> {
        if name.is_empty() {
            return Err(PubsubError::NodeIdRequired);
        }
        self.nodes.get(name).ok_or(PubsubError::NodeNotFound)
    }

    /// Persists `meta` for node `name`, then swaps it into memory.
    pub(crate) fn commit_meta(&mut self, name: &str, meta: NodeMeta) -> Result<(), PubsubError> {
        let node = self.nodes.get_mut(name).ok_or(PubsubError::NodeNotFound)?;
        let blob = encode_meta(node.id, &meta)?;
        self.store.put_node_meta(name, &blob)?;
        node.meta = meta;
        Ok(())
    }

    /// Persists the service record with this value (memory unchanged).
    pub(crate) fn save_service_record(&mut self, next_node_id: NodeId) -> Result<(), PubsubError> {
        let record = ServiceRecord { next_node_id };
        let blob = serde_json::to_vec(&record).map_err(|e| PubsubError::Internal(e.to_string()))?;
        Ok(self.store.put_node_meta(SERVICE_RECORD, &blob)?)
    }

    /// Whether the actor may create nodes: the system, admins, and users
    /// of the configured domains.
    pub(crate) fn may_create(&self, actor: &Actor) -> bool {
        match actor {
            Actor::System => true,
            Actor::Entity(jid) => {
                self.settings.admins.contains(jid)
                    || (jid.node().is_some()
                        && (self.settings.create_domains.iter())
                            .any(|d| d == jid.domain().as_str()))
            }
        }
    }

    /// A fresh unique ID (time-ordered): item IDs, instant node names, SubIDs.
    pub(crate) fn fresh_id(&mut self) -> String {
        self.ids.next(self.now_ms)
    }
}

/// Time-based IDs: 11 hex digits of milliseconds + 5 of a counter, so they
/// sort in creation order and stay unique within a process even if the
/// clock steps back.
#[derive(Default)]
struct IdGen {
    last_ms: u64,
    counter: u32,
}

impl IdGen {
    fn next(&mut self, now_ms: u64) -> String {
        if now_ms > self.last_ms {
            self.last_ms = now_ms;
            self.counter = 0;
        } else if self.counter >= 0xF_FFFF {
            self.last_ms += 1;
            self.counter = 0;
        } else {
            self.counter += 1;
        }
        format!("{:011x}{:05x}", self.last_ms, self.counter)
    }
}

#[cfg(test)]
mod tests {
    use super::IdGen;

    #[test]
    fn generated_ids_are_unique_and_ordered_even_when_the_clock_steps_back() {
        let mut g = IdGen::default();
        let ids = [g.next(10), g.next(10), g.next(5), g.next(11)];
        let mut sorted = ids.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ids);
    }
}
