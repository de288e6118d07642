//! Consumer groups: XEP-0254 (PubSub Queueing) with named groups.
//!
//! A subscription whose options carry `pubsub#queue_group` or
//! `pubsub#queue_requests` is a *member* of a group of its node (no group
//! name: the node's default group `""`, XEP-0254's single queue). Every
//! group gets every item of the node once (Kafka style), and hands each
//! item to exactly one member that has credit (`queue_requests` minus the
//! items it holds). Plain subscribers keep getting every item.
//!
//! The member settles an item by retracting it (XEP-0254 §2.3: for that
//! member's group only, the item stays in the node), by the ack IQ, or
//! gives it back with `<unlock/>` (§2.4). An item goes back to its group
//! when the ack deadline passes (with an unlock notice to the member),
//! when the member goes unavailable, unsubscribes or leaves the group.
//! After a nack or timeout it waits `backoff_base * 2^(deliveries-1)`
//! (capped); once it has been delivered `max_deliveries` times, the next
//! failure moves it to the node `<node>/dead-letter` (created on demand
//! with the node's configuration and affiliations), wrapped with SHIM
//! headers that carry the delivery count.
//!
//! State per group: the position (last seq handed out) and the entries
//! (held or waiting items), kept in memory and written through the store's
//! queue records at the next [`Service::flush`]. On startup held entries
//! come back as waiting and are redelivered.
//!
//! Entry points (all take `now` in ms, so tests drive the clock):
//! [`Service::queue_pump`] after any change on a node,
//! [`Service::queue_settle`] for ack / retract / unlock,
//! [`Service::queue_presence`], [`Service::queue_tick`] (timeouts).

mod dead_letter;
mod deliver;
#[cfg(test)]
mod exit_tests;
mod presence;
mod resend;
mod settle;
mod state;
mod stats;
#[cfg(test)]
mod tests;

pub use dead_letter::{DeadLetterRecord, RenderDeadLetter};
pub use settle::Settle;
pub use stats::{GroupMember, GroupStats, ServiceStats};

use std::collections::{BTreeMap, HashMap};

use super::error::PubsubError;
use super::notify::Notification;
use super::service::Service;
use crate::store::Store;
use presence::PresenceBook;
use state::{NodeQueues, WriteLog};

/// The XEP-0254 namespace and disco feature.
pub const QUEUE_NS: &str = "urn:xmpp:pubsub:queueing:0";
/// Suffix of the dead-letter node of a node.
pub const DEAD_LETTER_SUFFIX: &str = "/dead-letter";

/// Service-wide queue settings (`[queue]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    /// A held item goes back to its group after this long without ack.
    pub ack_timeout_ms: u64,
    /// Deliveries before the next failure dead-letters the item.
    pub max_deliveries: u32,
    /// Wait before redelivering after the first failure; doubles each time.
    pub backoff_base_ms: u64,
    /// Longest wait before a redelivery.
    pub backoff_max_ms: u64,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            ack_timeout_ms: 30_000,
            max_deliveries: 5,
            backoff_base_ms: 1_000,
            backoff_max_ms: 60_000,
        }
    }
}

impl QueueSettings {
    /// The wait before redelivery after the `deliveries`-th delivery failed.
    pub fn backoff(&self, deliveries: u32) -> u64 {
        let doublings = deliveries.saturating_sub(1).min(32);
        let wait = self.backoff_base_ms.saturating_mul(1u64 << doublings);
        wait.min(self.backoff_max_ms)
    }
}

/// Errors of ack and unlock (XEP-0254 §2.3, §2.4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error(transparent)]
    Pubsub(#[from] PubsubError),
    /// `<forbidden/>` (auth): the requester is no group member of the node.
    #[error("not a consumer-group member of this node")]
    NotMember,
    /// `<conflict/>` (cancel): another member holds the item.
    #[error("item is locked by another subscriber")]
    LockedByOther,
    /// `<unexpected-request/>` (wait): the requester no longer holds it.
    #[error("item is not locked by this subscriber")]
    NotLocked,
}

impl From<crate::store::StoreError> for QueueError {
    fn from(e: crate::store::StoreError) -> Self {
        QueueError::Pubsub(e.into())
    }
}

/// All queue state of the service.
#[derive(Debug, Default)]
pub(crate) struct Queues {
    pub settings: QueueSettings,
    pub nodes: BTreeMap<String, NodeQueues>,
    pub presence: PresenceBook,
    pub log: WriteLog,
    /// Renders dead-letter payloads (`protocol/` in the running service).
    pub render_dead_letter: Option<RenderDeadLetter>,
}

impl Queues {
    /// The node's groups taken out for changing (put back with
    /// `self.nodes.insert`); state of an older node of that name is dropped.
    fn take(&mut self, name: &str, id: crate::store::NodeId) -> NodeQueues {
        match self.nodes.remove(name) {
            Some(nq) if nq.id == id => nq,
            Some(old) => {
                self.log.drop_node(old.id);
                NodeQueues::new(id)
            }
            None => NodeQueues::new(id),
        }
    }
}

/// An item to move to the dead-letter node.
#[derive(Debug)]
struct DeadLetter {
    node: String,
    group: String,
    seq: u64,
    deliveries: u32,
}

/// What queue operations produced: notifications in order, dead letters
/// to publish once the groups are back in place.
#[derive(Debug, Default)]
struct Work {
    notes: Vec<Notification>,
    dead: Vec<DeadLetter>,
}

impl<S: Store> Service<S> {
    /// Replaces the queue settings (from the configuration).
    pub fn set_queue_settings(&mut self, settings: QueueSettings) {
        self.queues.settings = settings;
    }

    /// Loads queue state (startup, after the nodes are loaded).
    pub(crate) fn load_queues(&mut self) -> Result<(), PubsubError> {
        let names: HashMap<_, _> = (self.nodes.iter())
            .map(|(n, node)| (node.id, n.clone()))
            .collect();
        let records = self.store.load_queue_state()?;
        self.queues.nodes = state::load(records, &names, &mut self.queues.log)?;
        Ok(())
    }

    /// Writes queue changes to the store (called by `flush`).
    pub(crate) fn persist_queues(&mut self) -> Result<(), PubsubError> {
        if self.queues.log.is_empty() {
            return Ok(());
        }
        let writes = self.queues.log.take();
        Ok(self.store.write_queue_state(&writes)?)
    }

    /// Whether queue state changed since the last flush.
    pub(crate) fn queues_unflushed(&self) -> bool {
        !self.queues.log.is_empty()
    }

    /// Ack deadlines: every held item past it goes back (with an unlock
    /// notice to its holder); then every group delivers what it can.
    ///
    /// Errors: `Internal` (store).
    pub fn queue_tick(&mut self, now: u64) -> Result<Vec<Notification>, PubsubError> {
        let mut work = Work::default();
        let names: Vec<String> = self.queues.nodes.keys().cloned().collect();
        for name in &names {
            self.expire_node(name, now, &mut work);
            self.pump_into(name, now, &mut work)?;
        }
        self.finish(work, now)
    }

    /// Presence from `jid` to the service. Unavailable: items it holds go
    /// back to their groups at once. Then every group delivers.
    ///
    /// Errors: `Internal` (store).
    pub fn queue_presence(
        &mut self,
        jid: &jid::Jid,
        available: bool,
        now: u64,
    ) -> Result<Vec<Notification>, PubsubError> {
        if available {
            self.queues.presence.available(jid);
        } else {
            let member = self.is_member_jid(jid);
            self.queues.presence.unavailable(jid, member);
        }
        let mut work = Work::default();
        let names: Vec<String> = self.queues.nodes.keys().cloned().collect();
        for name in &names {
            if !available {
                self.release_unavailable(name, now, &mut work);
            }
            self.pump_into(name, now, &mut work)?;
        }
        self.finish(work, now)
    }

    fn is_member_jid(&self, jid: &jid::Jid) -> bool {
        let bare = jid.to_bare();
        self.nodes.values().any(|n| {
            let subs = n.meta.subs_of_bare(&bare);
            subs.into_iter().any(|s| s.options.is_queue_member())
        })
    }

    /// Dead letters out, then all notifications in order.
    fn finish(&mut self, work: Work, now: u64) -> Result<Vec<Notification>, PubsubError> {
        let mut notes = work.notes;
        for dead in work.dead {
            notes.extend(self.dead_letter(dead, now)?);
        }
        Ok(notes)
    }
}
