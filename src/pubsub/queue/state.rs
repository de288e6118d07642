//! Consumer-group state: per node, per group, the position (last seq
//! handed out) and the entries (items held by a member, or waiting to go
//! out again), plus the log of writes for the next flush.

use jid::Jid;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

use crate::pubsub::error::PubsubError;
use crate::store::{NodeId, QueueKey, QueueWrite};

/// The member holding an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Holder {
    pub jid: Jid,
    pub subid: String,
}

/// An item of a group that is not settled: held by a member until its ack
/// deadline, or waiting (no holder) until `due_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub item_id: String,
    pub holder: Option<Holder>,
    /// Held: the ack deadline. Waiting: when it may go out again.
    pub due_ms: u64,
    /// Times it was handed to a member.
    pub deliveries: u32,
}

/// One consumer group of a node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Group {
    /// The last seq handed out; newer items have never left.
    pub position: u64,
    /// Unsettled items by seq.
    pub entries: BTreeMap<u64, Entry>,
    /// Round-robin cursor over the members (memory only).
    pub next_member: usize,
    /// Hand-outs of an item already handed out before, since the start
    /// (memory only: the console's redelivery count).
    pub redeliveries: u64,
}

impl Group {
    pub fn new(position: u64) -> Self {
        Group {
            position,
            ..Group::default()
        }
    }

    /// Entries the subscription holds.
    pub fn held_by(&self, subid: &str) -> u32 {
        let held = self.entries.values().filter_map(|e| e.holder.as_ref());
        held.filter(|h| h.subid == subid).count() as u32
    }
}

/// The groups of one node (keyed by name in [`super::Queues`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeQueues {
    /// The node's internal id: a recreated node gets a new one.
    pub id: NodeId,
    pub groups: BTreeMap<String, Group>,
}

impl NodeQueues {
    pub fn new(id: NodeId) -> Self {
        NodeQueues {
            id,
            groups: BTreeMap::new(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct EntryRecord {
    item: String,
    /// (JID, SubID) of the holder.
    #[serde(default)]
    holder: Option<(String, String)>,
    due: u64,
    deliveries: u32,
}

#[derive(Serialize, Deserialize)]
struct PositionRecord {
    position: u64,
}

/// Queue writes made since the last flush, in order.
#[derive(Debug, Default)]
pub(crate) struct WriteLog(Vec<QueueWrite>);

fn key(node: NodeId, group: &str, seq: Option<u64>) -> QueueKey {
    QueueKey {
        node,
        group: group.to_owned(),
        seq,
    }
}

impl WriteLog {
    pub fn position(&mut self, node: NodeId, group: &str, position: u64) {
        let value = serde_json::to_vec(&PositionRecord { position }).unwrap_or_default();
        self.0.push(QueueWrite::Put(key(node, group, None), value));
    }

    /// Stores the entry, or removes it (`None`).
    pub fn entry(&mut self, node: NodeId, group: &str, seq: u64, entry: Option<&Entry>) {
        let k = key(node, group, Some(seq));
        let Some(e) = entry else {
            self.0.push(QueueWrite::Remove(k));
            return;
        };
        let record = EntryRecord {
            item: e.item_id.clone(),
            holder: (e.holder.as_ref()).map(|h| (h.jid.to_string(), h.subid.clone())),
            due: e.due_ms,
            deliveries: e.deliveries,
        };
        let value = serde_json::to_vec(&record).unwrap_or_default();
        self.0.push(QueueWrite::Put(k, value));
    }

    pub fn drop_node(&mut self, node: NodeId) {
        self.0.push(QueueWrite::DropNode(node));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn take(&mut self) -> Vec<QueueWrite> {
        std::mem::take(&mut self.0)
    }
}

/// Rebuilds the groups from stored records. Records of nodes that no
/// longer exist are dropped (through `log`). Held entries come back as
/// waiting and due at once: whatever was in flight is redelivered.
pub(crate) fn load(
    records: Vec<(QueueKey, Vec<u8>)>,
    names: &HashMap<NodeId, String>,
    log: &mut WriteLog,
) -> Result<BTreeMap<String, NodeQueues>, PubsubError> {
    let corrupt = |k: &QueueKey, e: serde_json::Error| {
        PubsubError::Internal(format!("queue record {k:?}: {e}"))
    };
    let mut out: BTreeMap<String, NodeQueues> = BTreeMap::new();
    for (k, value) in records {
        let Some(name) = names.get(&k.node) else {
            if !out.values().any(|nq| nq.id == k.node) {
                log.drop_node(k.node);
            }
            continue;
        };
        let nq = (out.entry(name.clone())).or_insert_with(|| NodeQueues::new(k.node));
        let group = nq.groups.entry(k.group.clone()).or_default();
        match k.seq {
            None => {
                let r: PositionRecord =
                    serde_json::from_slice(&value).map_err(|e| corrupt(&k, e))?;
                group.position = r.position;
            }
            Some(seq) => {
                let r: EntryRecord = serde_json::from_slice(&value).map_err(|e| corrupt(&k, e))?;
                let entry = Entry {
                    item_id: r.item,
                    holder: None,
                    due_ms: if r.holder.is_some() { 0 } else { r.due },
                    deliveries: r.deliveries,
                };
                group.entries.insert(seq, entry);
            }
        }
    }
    Ok(out)
}
