//! What webhook delivery needs from the rest of Herald, as a trait so
//! this module depends on neither the HTTP layer nor the core thread's
//! job types: log pages and node heads to deliver from, and durable
//! endpoint records. `ingest` implements it over the core's job queue.

use futures::future::BoxFuture;

use crate::node_pattern::NodePattern;
use crate::pubsub::{LogCursor, LogPage, NodeName, PubsubError};

#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error(transparent)]
    Pubsub(#[from] PubsubError),
    /// The core is busy, stopping or its store failed: try again later.
    #[error("{0}")]
    Unavailable(String),
}

pub trait CorePort: Send + Sync + 'static {
    /// Committed entries of `node` after `cursor` (see `pubsub::log`).
    fn page(
        &self,
        node: NodeName,
        cursor: LogCursor,
        max: usize,
    ) -> BoxFuture<'_, Result<LogPage, PortError>>;
    /// Nodes matching any of `patterns`, with their newest seq.
    fn heads(
        &self,
        patterns: Vec<NodePattern>,
    ) -> BoxFuture<'_, Result<Vec<(String, u64)>, PortError>>;
    /// Every stored endpoint record.
    fn load(&self) -> BoxFuture<'_, Result<Vec<Vec<u8>>, PortError>>;
    /// Stores (`Some`) or deletes (`None`) one record; `Ok` once durable.
    fn save(&self, id: String, record: Option<Vec<u8>>) -> BoxFuture<'_, Result<(), PortError>>;
}
