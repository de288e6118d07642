//! Durable storage behind a narrow trait, so the pubsub core never sees sled
//! and tests of the core run on memory. Key layout lives in `keys.rs` only.
//!
//! All methods are synchronous: the core runs on its own thread and batches
//! writes, then calls [`Store::flush`] once per batch (group commit).

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod conformance_archive;
pub mod dynamic;
pub mod jetstream;
pub mod keys;
pub mod memory;
pub mod queue;
pub mod sled_store;

pub use jetstream::{
    JetStreamSettings, JetStreamStore, LoggedItem, NatsCredentials, PartitionLog, connect_client,
    open_bucket,
};
pub use memory::MemoryStore;
pub use queue::{QueueKey, QueueWrite};
pub use sled_store::SledStore;

/// Internal numeric node id: keeps item keys short and lets a deleted
/// node's name be reused without meeting old items.
pub type NodeId = u64;

/// One item as stored, in its node's publication order (`seq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    /// The XEP-0060 item ID.
    pub id: String,
    /// Per-node publication sequence; re-publishing an ID gives it a new,
    /// higher seq (XEP-0060 §12: replaced items move to newest).
    pub seq: u64,
    /// Bare JID of the publisher, `None` for the system (HTTP ingest).
    pub publisher: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub published_ms: u64,
    /// Serialized XML payload, `None` for notification-only nodes.
    pub payload: Option<String>,
}

/// One entry of a node's publication history (the XEP-0313 archive),
/// keyed by its seq, which is also its archive ID. A publication's seq is
/// its item's seq; a retraction takes a seq of its own from the same
/// per-node sequence, so history entries are in event order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveEntry {
    /// An item as published (kept after it is replaced or retracted).
    Publish(StoredItem),
    /// Item `id` was retracted at `at_ms`.
    Retract { seq: u64, id: String, at_ms: u64 },
    /// A collection's entry (XEP-0248 catch-up): entry `leaf_seq` of the
    /// history of node `leaf`, below the collection, happened at `at_ms`.
    /// A reference, not a copy: a payload is stored once however many
    /// collections contain its leaf.
    Link {
        seq: u64,
        leaf: NodeId,
        leaf_seq: u64,
        at_ms: u64,
    },
}

impl ArchiveEntry {
    pub fn seq(&self) -> u64 {
        match self {
            ArchiveEntry::Publish(item) => item.seq,
            ArchiveEntry::Retract { seq, .. } | ArchiveEntry::Link { seq, .. } => *seq,
        }
    }

    /// When the event happened (ms since the Unix epoch).
    pub fn at_ms(&self) -> u64 {
        match self {
            ArchiveEntry::Publish(item) => item.published_ms,
            ArchiveEntry::Retract { at_ms, .. } | ArchiveEntry::Link { at_ms, .. } => *at_ms,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage I/O failed: {0}")]
    Io(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// An HTTP `Idempotency-Key` and the answer it produced (opaque to the
/// store), kept so a retried request gets the same answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub key: String,
    /// Milliseconds since the Unix epoch: retention is counted from here.
    pub created_ms: u64,
    pub value: Vec<u8>,
}

/// What the core needs from storage. Node metadata (config, affiliations,
/// subscriptions) is an opaque blob serialized by the core; items are
/// ordered by `seq` within a node.
pub trait Store: Send {
    /// Every node's metadata blob, keyed by node name (startup only).
    fn load_nodes(&self) -> StoreResult<Vec<(String, Vec<u8>)>>;
    fn put_node_meta(&mut self, name: &str, meta: &[u8]) -> StoreResult<()>;
    /// Removes the node's metadata, all its items and its history.
    fn delete_node(&mut self, name: &str, node: NodeId) -> StoreResult<()>;

    /// Stores `item`, replacing an item with the same ID (whose old seq
    /// entry is removed atomically). Returns the replaced item's seq.
    fn put_item(&mut self, node: NodeId, item: &StoredItem) -> StoreResult<Option<u64>>;
    /// Stores a group of items (any nodes) in one atomic write, with the
    /// results `put_item` would give one by one; a later item replaces an
    /// earlier one with the same ID. Use it for a group commit: on sled each
    /// atomic write costs ~70 µs, so per-item `put_item` caps near 14k/s.
    fn put_items(&mut self, items: &[(NodeId, StoredItem)]) -> StoreResult<Vec<Option<u64>>> {
        self.put_group(items, false, &[], None)
    }
    /// The one group write behind [`Store::put_items`],
    /// [`Store::put_items_archived`] and [`Store::put_items_keyed`]: the
    /// items, with `archive` their history entries, `links` (history
    /// entries of the collections above them, keyed by collection and the
    /// entry's seq) and `record`, all in one atomic write (a crash keeps
    /// all or none).
    fn put_group(
        &mut self,
        items: &[(NodeId, StoredItem)],
        archive: bool,
        links: &[(NodeId, ArchiveEntry)],
        record: Option<&IdempotencyRecord>,
    ) -> StoreResult<Vec<Option<u64>>>;
    fn get_item(&self, node: NodeId, id: &str) -> StoreResult<Option<StoredItem>>;
    /// The current seq of item `id`, if it exists.
    fn item_seq(&self, node: NodeId, id: &str) -> StoreResult<Option<u64>>;
    fn remove_item(&mut self, node: NodeId, id: &str) -> StoreResult<Option<StoredItem>>;
    /// Up to `max` items with seq > `after`, oldest first.
    fn items_after(&self, node: NodeId, after: u64, max: usize) -> StoreResult<Vec<StoredItem>>;
    /// Up to `max` items with seq < `before`, the newest of them, oldest first.
    fn items_before(&self, node: NodeId, before: u64, max: usize) -> StoreResult<Vec<StoredItem>>;
    /// Removes the `n` oldest items, returning their IDs (max_items trimming).
    fn remove_oldest(&mut self, node: NodeId, n: usize) -> StoreResult<Vec<String>>;
    /// Removes every item of the node, returning how many there were.
    fn purge(&mut self, node: NodeId) -> StoreResult<u64>;
    /// One step of a purge the caller reports on: removes up to `max` of
    /// the node's oldest items, returning how many (0 once none are left).
    /// A backend that purges server-side (JetStream) may remove them all
    /// in one step. A [`Store::purge`] after the last step removes what
    /// steps cannot see (sled's stray ID entries).
    fn purge_step(&mut self, node: NodeId, max: usize) -> StoreResult<u64> {
        Ok(self.remove_oldest(node, max)?.len() as u64)
    }
    /// Highest seq ever stored for the node still present (0 if none).
    fn last_seq(&self, node: NodeId) -> StoreResult<u64>;
    /// Number of items (scans: startup only).
    fn count_items(&self, node: NodeId) -> StoreResult<u64>;

    /// Removes up to `max` of the oldest items published before
    /// `before_ms`, stopping at the first newer one (`pubsub#item_expire`).
    /// Returns their IDs. Reads only what it removes, plus one item.
    fn remove_expired(
        &mut self,
        node: NodeId,
        before_ms: u64,
        max: usize,
    ) -> StoreResult<Vec<String>>;

    /// Like [`Store::put_items`], and in the same atomic write appends each
    /// item to its node's history (archive key = the item's seq).
    fn put_items_archived(
        &mut self,
        items: &[(NodeId, StoredItem)],
    ) -> StoreResult<Vec<Option<u64>>> {
        self.put_group(items, true, &[], None)
    }
    /// Removes item `id` and appends `entry` (its retraction) to the
    /// node's history, and `links` (see [`Store::put_group`]), in one
    /// atomic write. Writes nothing and returns `None` if the item does
    /// not exist.
    fn retract_archived(
        &mut self,
        node: NodeId,
        id: &str,
        entry: &ArchiveEntry,
        links: &[(NodeId, ArchiveEntry)],
    ) -> StoreResult<Option<StoredItem>>;
    /// Up to `max` history entries with seq > `after`, oldest first.
    fn archive_after(&self, node: NodeId, after: u64, max: usize)
    -> StoreResult<Vec<ArchiveEntry>>;
    /// Up to `max` history entries with seq < `before`, the newest of
    /// them, oldest first.
    fn archive_before(
        &self,
        node: NodeId,
        before: u64,
        max: usize,
    ) -> StoreResult<Vec<ArchiveEntry>>;
    /// Whether the history entry `seq` exists (cursor check).
    fn archive_contains(&self, node: NodeId, seq: u64) -> StoreResult<bool>;
    /// Removes up to `max` of the oldest history entries, stopping at the
    /// first one at or after `before_ms` (`u64::MAX`: no age limit).
    /// Returns how many were removed.
    fn trim_archive(&mut self, node: NodeId, max: usize, before_ms: u64) -> StoreResult<u64>;
    /// Number of history entries and the highest seq among them (scans:
    /// startup only).
    fn archive_stats(&self, node: NodeId) -> StoreResult<(u64, u64)>;

    /// Every consumer-group record (`pubsub::queue`), at startup.
    fn load_queue_state(&self) -> StoreResult<Vec<(QueueKey, Vec<u8>)>>;
    /// Applies queue-state writes in order (one atomic write on sled,
    /// except that a `DropNode` splits the group).
    fn write_queue_state(&mut self, writes: &[QueueWrite]) -> StoreResult<()>;

    /// Makes every write so far durable. Called once per batch.
    fn flush(&mut self) -> StoreResult<()>;
    /// Bytes the store takes on this machine's disk, if it knows (the
    /// console's "store size"; `None` for memory and remote stores).
    fn size_on_disk(&self) -> Option<u64> {
        None
    }

    /// Like [`Store::put_items`], and stores `record` (replacing one with
    /// the same key) in the same atomic write: a crash keeps both or neither.
    fn put_items_keyed(
        &mut self,
        items: &[(NodeId, StoredItem)],
        record: Option<&IdempotencyRecord>,
    ) -> StoreResult<Vec<Option<u64>>> {
        self.put_group(items, false, &[], record)
    }
    fn get_idempotency(&self, key: &str) -> StoreResult<Option<IdempotencyRecord>>;
    /// Removes records created before `created_before_ms`, then the oldest
    /// ones beyond `keep_max`; returns how many were removed (scans).
    fn prune_idempotency(&mut self, created_before_ms: u64, keep_max: usize) -> StoreResult<u64>;

    /// Every webhook endpoint record by endpoint id (opaque blobs of
    /// `webhooks/`: definition, secrets, cursor), at startup.
    fn load_webhooks(&self) -> StoreResult<Vec<(String, Vec<u8>)>>;
    /// Stores or replaces endpoint `id`'s record; durable at the next flush
    /// (a cursor advance is a put of the whole record).
    fn put_webhook(&mut self, id: &str, record: &[u8]) -> StoreResult<()>;
    /// Removes endpoint `id`'s record (nothing if there is none).
    fn delete_webhook(&mut self, id: &str) -> StoreResult<()>;
}
