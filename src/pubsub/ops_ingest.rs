//! Platform ingest (HTTP, [`Actor::System`]): publish with the retry
//! guarantees an HTTP API needs.
//!
//! - An item given with its ID whose stored payload is byte-identical is
//!   `Unchanged`: nothing is written and nobody is notified, so a retried
//!   PUT answers as the first one did. A different payload replaces the
//!   item as XEP-0060 §12 says (new seq, newest, notified).
//! - With an idempotency key the answer is stored in the same atomic write
//!   as the items; a retry with the same key and the same request gets
//!   that answer back (`replayed`), the same key with another request is
//!   refused ([`IngestError::KeyReused`]). Records expire after the
//!   retention given with the key; [`Service::prune_idempotency`] bounds
//!   how many are kept.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;

use super::error::PubsubError;
use super::names::{ItemId, NodeName};
use super::service::Service;
use super::types::{Actor, Item, NewItem, Outcome};
use crate::store::{IdempotencyRecord, Store};

/// One item to ingest: the payload is one serialized XML element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestItem {
    /// `None`: the service assigns an ID.
    pub id: Option<ItemId>,
    pub payload: String,
}

/// A caller's idempotency key, already scoped to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    pub now_ms: u64,
    /// A record older than this is forgotten: the request runs anew.
    pub retention_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestRequest {
    pub node: NodeName,
    pub items: Vec<IngestItem>,
    /// Whether a missing node may be created (else `NodeNotFound`).
    pub may_create: bool,
    pub idempotency: Option<IdempotencyKey>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    Created,
    Replaced,
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestedItem {
    pub id: String,
    /// The item's per-node sequence number (0 on nodes that keep no items).
    pub seq: u64,
    pub status: ItemStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestReply {
    pub node: String,
    /// In request order.
    pub items: Vec<IngestedItem>,
    /// This answer was stored by an earlier request with the same key.
    #[serde(default)]
    pub replayed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Pubsub(#[from] PubsubError),
    #[error("this Idempotency-Key was already used for a different request")]
    KeyReused,
}

/// What an idempotency record holds.
#[derive(Serialize, Deserialize)]
struct StoredAnswer {
    fingerprint: String,
    reply: IngestReply,
}

impl<S: Store> Service<S> {
    /// Publishes `req.items` to `req.node` as the system (see module doc).
    ///
    /// Errors: `KeyReused`; `NodeNotFound` (missing, no create right);
    /// `ItemRequired` (no items); `BadRequest` (an ID twice); and those
    /// of [`Service::publish`] (`PayloadTooBig`, `Internal`, ...).
    pub(super) fn ingest_unpumped(
        &mut self,
        req: &IngestRequest,
    ) -> Result<Outcome<IngestReply>, IngestError> {
        let fingerprint = fingerprint(&req.node, &req.items);
        if let Some(k) = &req.idempotency
            && let Some(reply) = self.replay(k, &fingerprint)?
        {
            return Ok(Outcome::reply(reply));
        }
        if req.items.is_empty() {
            return Err(PubsubError::ItemRequired.into());
        }
        if !self.nodes.contains_key(req.node.as_str()) && !req.may_create {
            self.node(&req.node)?;
            return Err(PubsubError::NodeNotFound.into());
        }
        let known = self.classify(req)?;
        let changed: Vec<NewItem> = (req.items.iter().zip(&known))
            .filter(|(_, k)| !matches!(k, Slot::Unchanged(_)))
            .map(|(i, _)| NewItem {
                id: i.id.clone(),
                payload: Some(i.payload.clone()),
            })
            .collect();
        let make_reply = |published: &[Item]| merge(req, &known, published);
        let record = |reply: &IngestReply| {
            let k = req.idempotency.as_ref()?;
            let answer = StoredAnswer {
                fingerprint: fingerprint.clone(),
                reply: reply.clone(),
            };
            Some(IdempotencyRecord {
                key: k.key.clone(),
                created_ms: k.now_ms,
                value: serde_json::to_vec(&answer).ok()?,
            })
        };
        if changed.is_empty() {
            let reply = make_reply(&[]);
            if let Some(r) = record(&reply) {
                (self.store.put_items_keyed(&[], Some(&r))).map_err(PubsubError::from)?;
            }
            return Ok(Outcome::reply(reply));
        }
        let mut built = None;
        let (outcome, _) =
            self.publish_recorded(&Actor::System, &req.node, changed, None, |published| {
                let reply = make_reply(published);
                let r = record(&reply);
                built = Some(reply);
                r
            })?;
        let reply = built.ok_or_else(|| PubsubError::Internal("no ingest reply".into()))?;
        Ok(Outcome {
            reply,
            notifications: outcome.notifications,
            published: outcome.published,
        })
    }

    /// The stored answer for `key` if it is still retained: `KeyReused`
    /// when it was given for another request.
    fn replay(
        &self,
        k: &IdempotencyKey,
        fingerprint: &str,
    ) -> Result<Option<IngestReply>, IngestError> {
        let Some(record) = self
            .store
            .get_idempotency(&k.key)
            .map_err(PubsubError::from)?
        else {
            return Ok(None);
        };
        if record.created_ms.saturating_add(k.retention_ms) <= k.now_ms {
            return Ok(None);
        }
        let answer: StoredAnswer = serde_json::from_slice(&record.value)
            .map_err(|e| PubsubError::Internal(format!("idempotency record: {e}")))?;
        if answer.fingerprint != fingerprint {
            return Err(IngestError::KeyReused);
        }
        let mut reply = answer.reply;
        reply.replayed = true;
        Ok(Some(reply))
    }

    /// What to do with each item: keep it (same payload stored) or
    /// publish it, replacing an existing one or not.
    fn classify(&self, req: &IngestRequest) -> Result<Vec<Slot>, IngestError> {
        let mut seen = HashSet::new();
        let node = self.nodes.get(req.node.as_str());
        let mut out = Vec::with_capacity(req.items.len());
        for item in &req.items {
            let Some(id) = &item.id else {
                out.push(Slot::Publish { replaces: false });
                continue;
            };
            if !seen.insert(id.as_str()) {
                let msg = format!("item ID {id:?} appears more than once");
                return Err(PubsubError::BadRequest(msg).into());
            }
            let stored = match node {
                Some(n) => self.store.get_item(n.id, id).map_err(PubsubError::from)?,
                None => None,
            };
            out.push(match stored {
                Some(s) if s.payload.as_deref() == Some(item.payload.as_str()) => {
                    Slot::Unchanged(s.seq)
                }
                Some(_) => Slot::Publish { replaces: true },
                None => Slot::Publish { replaces: false },
            });
        }
        Ok(out)
    }

    /// Forgets idempotency records older than the retention, then the
    /// oldest beyond `keep_max`. Returns how many were removed.
    pub fn prune_idempotency(
        &mut self,
        now_ms: u64,
        retention_ms: u64,
        keep_max: usize,
    ) -> Result<u64, PubsubError> {
        let before = now_ms.saturating_sub(retention_ms);
        Ok(self.store.prune_idempotency(before, keep_max)?)
    }

    /// Every node with its number of stored items (for metrics).
    pub fn node_item_counts(&self) -> Vec<(String, u64)> {
        (self.nodes.iter())
            .map(|(name, n)| (name.clone(), n.count))
            .collect()
    }
}

/// What ingest does with one item of a request.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// Stored with this seq and the same payload: left alone.
    Unchanged(u64),
    Publish {
        replaces: bool,
    },
}

/// The reply from the slots and what was just published (in order, one
/// per `Publish` slot).
fn merge(req: &IngestRequest, slots: &[Slot], published: &[Item]) -> IngestReply {
    let mut fresh = published.iter();
    let items = (req.items.iter().zip(slots))
        .filter_map(|(item, slot)| match *slot {
            Slot::Unchanged(seq) => Some(IngestedItem {
                id: item.id.as_deref().unwrap_or_default().to_owned(),
                seq,
                status: ItemStatus::Unchanged,
            }),
            Slot::Publish { replaces } => fresh.next().map(|p| IngestedItem {
                id: p.id.clone(),
                seq: p.seq,
                status: match replaces {
                    true => ItemStatus::Replaced,
                    false => ItemStatus::Created,
                },
            }),
        })
        .collect();
    IngestReply {
        node: req.node.to_string(),
        items,
        replayed: false,
    }
}

/// A digest of what the request asks for, to recognize a retry.
fn fingerprint(node: &str, items: &[IngestItem]) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(node.as_bytes());
    for item in items {
        match &item.id {
            Some(id) => field(format!("={id}").as_bytes()),
            None => field(b"*"),
        }
        field(item.payload.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
