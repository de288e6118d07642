//! One node in memory, and its persisted metadata record (serde_json in
//! the store's opaque blob). JIDs are stored as strings because the `jid`
//! crate is built without serde here.

use jid::{BareJid, Jid};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::error::PubsubError;
use super::node_config::NodeConfig;
use super::sub_options::SubscriptionOptions;
use super::types::{Affiliation, Subscription, SubscriptionState};
use crate::store::NodeId;

/// A subscription as kept inside its node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeSub {
    pub jid: Jid,
    pub subid: String,
    pub state: SubscriptionState,
    pub options: SubscriptionOptions,
}

impl NodeSub {
    /// Subscribed with `pubsub#deliver` on, and a plain subscriber:
    /// consumer-group members get items from `pubsub::queue` instead.
    pub fn is_deliverable(&self) -> bool {
        self.is_active() && !self.options.is_queue_member()
    }

    /// Subscribed with `pubsub#deliver` on (plain or group member).
    pub fn is_active(&self) -> bool {
        self.state == SubscriptionState::Subscribed && self.options.deliver
    }

    /// Deliverable as a `pubsub#event` message (not a chat subscription).
    pub fn gets_events(&self) -> bool {
        self.is_deliverable() && !self.options.chat
    }

    pub fn to_public(&self, node: &str) -> Subscription {
        Subscription {
            node: node.to_owned(),
            jid: self.jid.clone(),
            subid: self.subid.clone(),
            state: self.state,
            options: self.options.clone(),
        }
    }
}

/// The persisted part of a node. Changes are made on a clone, written to
/// the store, then swapped in ("persist first, then change memory").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeMeta {
    pub config: NodeConfig,
    /// Explicit affiliations; `none` is never stored.
    pub affiliations: BTreeMap<BareJid, Affiliation>,
    pub subscriptions: Vec<NodeSub>,
    pub created_ms: u64,
    /// Persisted seq high-water: written when the newest items are removed
    /// (retract, purge) so seqs never go backwards after a restart.
    pub high_water: u64,
}

impl NodeMeta {
    pub fn new(config: NodeConfig, created_ms: u64) -> Self {
        NodeMeta {
            config,
            affiliations: BTreeMap::new(),
            subscriptions: Vec::new(),
            created_ms,
            high_water: 0,
        }
    }

    /// Explicit owners (service admins are implicit and not listed).
    pub fn owners(&self) -> Vec<BareJid> {
        self.with_affiliation(Affiliation::Owner)
    }

    pub fn with_affiliation(&self, wanted: Affiliation) -> Vec<BareJid> {
        let matching = self.affiliations.iter().filter(|(_, a)| **a == wanted);
        matching.map(|(j, _)| j.clone()).collect()
    }

    /// Subscriptions whose JID has this bare JID (any resource).
    pub fn subs_of_bare<'a>(&'a self, bare: &'a BareJid) -> impl Iterator<Item = &'a NodeSub> {
        self.subscriptions
            .iter()
            .filter(move |s| s.jid.to_bare() == *bare)
    }

    /// Whether the bare JID holds an approved subscription.
    pub fn is_subscribed(&self, bare: &BareJid) -> bool {
        self.subs_of_bare(bare)
            .any(|s| s.state == SubscriptionState::Subscribed)
    }
}

/// A node: identity, persisted metadata and in-memory counters.
#[derive(Debug)]
pub(crate) struct Node {
    pub id: NodeId,
    pub meta: NodeMeta,
    /// Items currently stored (kept in memory: the store's count scans).
    pub count: u64,
    /// Highest seq ever given out; the next item gets `high_seq + 1`.
    /// Publications and retractions share this sequence (history order).
    pub high_seq: u64,
    /// History (archive) entries currently stored.
    pub history: u64,
    /// Not before this time can an item expire (`pubsub#item_expire`):
    /// the retention tick skips the node until then. A lower bound only.
    pub expiry_due_ms: u64,
    /// Same for the history's age limit.
    pub history_due_ms: u64,
}

impl Node {
    /// A node as loaded or created: retention checked at the next tick.
    pub fn new(id: NodeId, meta: NodeMeta, count: u64, high_seq: u64, history: u64) -> Self {
        Node {
            id,
            meta,
            count,
            high_seq,
            history,
            expiry_due_ms: 0,
            history_due_ms: 0,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct MetaRecord {
    version: u32,
    id: NodeId,
    created_ms: u64,
    high_water: u64,
    config: NodeConfig,
    affiliations: Vec<(String, Affiliation)>,
    subscriptions: Vec<SubRecord>,
}

#[derive(Serialize, Deserialize)]
struct SubRecord {
    jid: String,
    subid: String,
    state: SubscriptionState,
    options: SubscriptionOptions,
}

/// Serializes a node's metadata blob.
pub(crate) fn encode_meta(id: NodeId, meta: &NodeMeta) -> Result<Vec<u8>, PubsubError> {
    let record = MetaRecord {
        version: 1,
        id,
        created_ms: meta.created_ms,
        high_water: meta.high_water,
        config: meta.config.clone(),
        affiliations: (meta.affiliations.iter())
            .map(|(j, a)| (j.to_string(), *a))
            .collect(),
        subscriptions: (meta.subscriptions.iter())
            .map(|s| SubRecord {
                jid: s.jid.to_string(),
                subid: s.subid.clone(),
                state: s.state,
                options: s.options.clone(),
            })
            .collect(),
    };
    serde_json::to_vec(&record).map_err(|e| PubsubError::Internal(e.to_string()))
}

/// Parses a node's metadata blob.
pub(crate) fn decode_meta(name: &str, blob: &[u8]) -> Result<(NodeId, NodeMeta), PubsubError> {
    let corrupt = |why: String| PubsubError::Internal(format!("node {name:?} metadata: {why}"));
    let record: MetaRecord = serde_json::from_slice(blob).map_err(|e| corrupt(e.to_string()))?;
    let mut affiliations = BTreeMap::new();
    for (jid, aff) in record.affiliations {
        let jid = BareJid::new(&jid).map_err(|e| corrupt(format!("{jid:?}: {e}")))?;
        affiliations.insert(jid, aff);
    }
    let mut subscriptions = Vec::new();
    for s in record.subscriptions {
        let jid = Jid::new(&s.jid).map_err(|e| corrupt(format!("{:?}: {e}", s.jid)))?;
        let (subid, state, options) = (s.subid, s.state, s.options);
        subscriptions.push(NodeSub {
            jid,
            subid,
            state,
            options,
        });
    }
    let meta = NodeMeta {
        config: record.config,
        affiliations,
        subscriptions,
        created_ms: record.created_ms,
        high_water: record.high_water,
    };
    Ok((record.id, meta))
}
