//! The partition streams read as one log per partition, for handing fan-out
//! from one instance to the next (`[cluster]`): the stream sequences the
//! leader has had acknowledged, and the items written after a recorded
//! point. The core never sees this; the cluster wiring does.

use super::names::Names;
use super::retry::{ATTEMPT, CONSUMER_IDLE, retrying};
use crate::store::{NodeId, StoreError, StoreResult, StoredItem, keys};
use async_nats::jetstream::{self, consumer, stream};
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Highest acknowledged stream sequence per partition, raised at each
/// flush by the store and read by the cluster's fan-out recorder.
#[derive(Debug)]
pub struct AckedMarks(Vec<AtomicU64>);

impl AckedMarks {
    pub fn new(partitions: u32) -> Self {
        Self((0..partitions).map(|_| AtomicU64::new(0)).collect())
    }

    pub fn raise(&self, partition: usize, seq: u64) {
        if let Some(m) = self.0.get(partition) {
            m.fetch_max(seq, Ordering::Relaxed);
        }
    }

    pub fn snapshot(&self) -> Vec<u64> {
        self.0.iter().map(|m| m.load(Ordering::Relaxed)).collect()
    }
}

/// An item written to a partition, as stored now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedItem {
    pub node: NodeId,
    pub item: StoredItem,
}

/// Read access to the partition streams, cheap to clone.
#[derive(Clone)]
pub struct PartitionLog {
    pub(super) js: jetstream::Context,
    pub(super) names: Names,
    pub(super) acked: Arc<AckedMarks>,
}

impl PartitionLog {
    pub fn partitions(&self) -> u32 {
        self.names.partitions
    }

    /// What this process has had acknowledged so far, per partition.
    pub fn acked(&self) -> Vec<u64> {
        self.acked.snapshot()
    }

    /// The last stream sequence of every partition, now.
    pub async fn heads(&self) -> StoreResult<Vec<u64>> {
        let mut out = Vec::new();
        for p in 0..self.names.partitions {
            let name = self.names.stream(p);
            // get_stream reads the stream's info afresh.
            let s: stream::Stream =
                retrying("stream", ATTEMPT, || self.js.get_stream(name.clone())).await?;
            out.push(s.cached_info().state.last_sequence);
        }
        Ok(out)
    }

    /// The items of partition `p` whose message is after stream sequence
    /// `after` and not after `until`, in stream order. A re-published ID
    /// is found once, at its newest position (older copies are replaced).
    pub async fn items_between(
        &self,
        p: u32,
        after: u64,
        until: u64,
    ) -> StoreResult<Vec<LoggedItem>> {
        let mut out = Vec::new();
        if until <= after {
            return Ok(out);
        }
        let name = self.names.stream(p);
        let s: stream::Stream =
            retrying("stream", ATTEMPT, || self.js.get_stream(name.clone())).await?;
        let config = consumer::pull::OrderedConfig {
            filter_subject: format!("{}.p{p}.i.>", self.names.prefix),
            deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                start_sequence: after + 1,
            },
            ..Default::default()
        };
        let c = s
            .create_consumer(config)
            .await
            .map_err(|e| StoreError::Io(format!("jetstream ordered consumer: {e}")))?;
        let mut messages = c
            .messages()
            .await
            .map_err(|e| StoreError::Io(format!("jetstream messages: {e}")))?;
        loop {
            let next = tokio::time::timeout(CONSUMER_IDLE, messages.next()).await;
            let Ok(Some(msg)) = next else { break };
            let msg = msg.map_err(|e| StoreError::Io(format!("jetstream read: {e}")))?;
            let info = msg
                .info()
                .map_err(|e| StoreError::Io(format!("jetstream message info: {e}")))?;
            let (sseq, pending) = (info.stream_sequence, info.pending);
            if sseq > until {
                break;
            }
            let node = node_of_item_subject(&msg.subject).ok_or_else(|| {
                StoreError::Corrupt(format!("item subject {} has no node", msg.subject))
            })?;
            // Decoded here: the new leader notifies from these copies
            // without reading each item again.
            let head: [u8; 8] = msg
                .payload
                .get(..8)
                .and_then(|h| h.try_into().ok())
                .ok_or_else(|| StoreError::Corrupt(format!("message {sseq} has no seq")))?;
            let body = msg.payload.get(8..).unwrap_or_default();
            out.push(LoggedItem {
                node,
                item: keys::decode_item(u64::from_be_bytes(head), body)?,
            });
            if pending == 0 || sseq == until {
                break;
            }
        }
        Ok(out)
    }
}

/// `{prefix}.p{n}.i.{node}.{hash}` -> node.
fn node_of_item_subject(subject: &str) -> Option<NodeId> {
    let mut tokens = subject.rsplit('.');
    tokens.next()?; // hash
    tokens.next()?.parse().ok()
}

/// Partition index of a stream name `{prefix}_P{n}`.
pub(super) fn partition_of_stream(names: &Names, stream: &str) -> Option<usize> {
    let rest = stream.strip_prefix(&names.prefix)?.strip_prefix("_P")?;
    rest.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_subjects_and_stream_names_are_read_back() {
        assert_eq!(node_of_item_subject("hx.p3.i.42.abcdef"), Some(42));
        assert_eq!(node_of_item_subject("hx.p3.i.x.abcdef"), None);
        let names = Names {
            prefix: "hx".into(),
            partitions: 4,
        };
        assert_eq!(partition_of_stream(&names, "hx_P3"), Some(3));
        assert_eq!(partition_of_stream(&names, "KV_hx_nodes"), None);
        let marks = AckedMarks::new(2);
        marks.raise(1, 7);
        marks.raise(1, 5);
        marks.raise(9, 1);
        assert_eq!(marks.snapshot(), vec![0, 7]);
    }
}
