//! Dead letters: an item that failed `max_deliveries` times is published
//! to `<node>/dead-letter` by the system actor, under its own item ID,
//! wrapped so the SHIM headers travel with it. The dead-letter node is
//! created on first use with the node's configuration and affiliations,
//! but access model `whitelist` and publish model `publishers` (failed
//! items are often more sensitive than the stream), and outside
//! `limits.max_nodes` (`reserved.rs`). Dead letters only go into a node
//! whose owners all own the node: a node squatted under the reserved name
//! before it was reserved gets nothing. Whenever the dead letter cannot be
//! written, the item stays in its group, waiting `backoff_max_ms`, and is
//! delivered again: a failed item is never dropped.
//!
//! The core does not write XML: it hands a [`DeadLetterRecord`] to the
//! [`RenderDeadLetter`] function the service was given
//! ([`Service::set_dead_letter_renderer`], `protocol/dead_letter.rs` in
//! the running service; see xep-notes/decisions.md), and stores what that
//! returns as the dead letter's payload, for example:
//!
//! ```xml
//! <dead-letter xmlns='urn:xmpp:pubsub:queueing:0'>
//!   <headers xmlns='http://jabber.org/protocol/shim'>
//!     <header name='Delivery-Count'>5</header>
//!     <header name='Queue-Group'>workers</header>
//!     <header name='Original-Node'>jobs</header>
//!     <header name='Original-Item'>item-7</header>
//!   </headers>
//!   …original payload…
//! </dead-letter>
//! ```

use super::state::Entry;
use super::{DEAD_LETTER_SUFFIX, DeadLetter};
use crate::pubsub::error::PubsubError;
use crate::pubsub::names::{ItemId, NodeName};
use crate::pubsub::node_config::{AccessModel, PublishModel};
use crate::pubsub::notify::Notification;
use crate::pubsub::service::Service;
use crate::pubsub::types::{Actor, NewItem};
use crate::store::Store;

/// What the core knows of a dead letter; rendered into its payload by the
/// service's [`RenderDeadLetter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadLetterRecord<'a> {
    /// The node the item failed on.
    pub node: &'a str,
    /// The item's ID (the dead letter keeps it).
    pub item_id: &'a str,
    /// The consumer group it failed in.
    pub group: &'a str,
    /// How many times it was delivered.
    pub deliveries: u32,
    /// The original payload (serialized XML), if the item had one.
    pub payload: Option<&'a str>,
}

/// Renders a dead letter into the payload stored on the dead-letter node.
pub type RenderDeadLetter = fn(&DeadLetterRecord<'_>) -> String;

impl<S: Store> Service<S> {
    /// Sets how dead letters are rendered (at startup, from `app/`).
    /// Without one, failed items stay in their group.
    pub fn set_dead_letter_renderer(&mut self, render: RenderDeadLetter) {
        self.queues.render_dead_letter = Some(render);
    }

    /// Moves one item to the dead-letter node. Failures are logged, not
    /// returned (the rest of the batch's queue work must still go out),
    /// and the item goes back to its group.
    pub(super) fn dead_letter(
        &mut self,
        dead: DeadLetter,
        now: u64,
    ) -> Result<Vec<Notification>, PubsubError> {
        let Some(id) = self.nodes.get(&dead.node).map(|n| n.id) else {
            return Ok(Vec::new());
        };
        let Some(item) = self.item_at(id, dead.seq)? else {
            tracing::warn!(node = %dead.node, seq = dead.seq, "dead letter: item is gone");
            return Ok(Vec::new());
        };
        // Derived from a checked name; may pass the length limit (see
        // `NodeName::trusted`).
        let target = NodeName::trusted(format!("{}{DEAD_LETTER_SUFFIX}", dead.node));
        let Some(render) = self.queues.render_dead_letter else {
            tracing::error!(node = %dead.node, item = %item.id,
                "no dead-letter renderer set; the item stays in its group");
            self.keep_pending(dead, item.id, now);
            return Ok(Vec::new());
        };
        let payload = render(&DeadLetterRecord {
            node: &dead.node,
            item_id: &item.id,
            group: &dead.group,
            deliveries: dead.deliveries,
            payload: item.payload.as_deref(),
        });
        let new = NewItem {
            id: Some(ItemId::trusted(item.id.clone())),
            payload: Some(payload),
        };
        let published = self
            .ensure_dead_letter_node(&dead.node, &target)
            .and_then(|()| self.publish_unpumped(&Actor::System, &target, vec![new], None));
        match published {
            Ok(o) => {
                tracing::info!(node = %dead.node, item = %item.id, group = %dead.group,
                    deliveries = dead.deliveries, "item moved to the dead-letter node");
                let mut notes = o.notifications;
                notes.extend(self.queue_pump(&target, now)?);
                Ok(notes)
            }
            Err(e) => {
                tracing::error!(node = %dead.node, item = %item.id, error = %e,
                    "dead letter could not be published; the item stays in its group");
                self.keep_pending(dead, item.id, now);
                Ok(Vec::new())
            }
        }
    }

    /// Puts a dead letter that could not be written back into its group,
    /// waiting the longest backoff before it goes out again.
    fn keep_pending(&mut self, dead: DeadLetter, item_id: String, now: u64) {
        let Some(id) = self.nodes.get(&dead.node).map(|n| n.id) else {
            return;
        };
        let entry = Entry {
            item_id,
            holder: None,
            due_ms: now.saturating_add(self.queues.settings.backoff_max_ms),
            deliveries: dead.deliveries,
        };
        let mut nq = self.queues.take(&dead.node, id);
        let group = nq.groups.entry(dead.group.clone()).or_default();
        group.entries.insert(dead.seq, entry.clone());
        self.queues
            .log
            .entry(id, &dead.group, dead.seq, Some(&entry));
        self.queues.nodes.insert(dead.node, nq);
    }

    /// Creates `target` like `source` (configuration and affiliations, but
    /// closed), or checks that an existing `target` is owned like `source`.
    fn ensure_dead_letter_node(&mut self, source: &str, target: &str) -> Result<(), PubsubError> {
        let src = self.node(source)?;
        if let Some(existing) = self.nodes.get(target) {
            return match self.owned_like_parent(&src.meta, &existing.meta) {
                true => Ok(()),
                false => Err(PubsubError::BadRequest(format!(
                    "{target} has owners who do not own {source}; delete it to get dead letters"
                ))),
            };
        }
        let mut config = src.meta.config.clone();
        config.access_model = AccessModel::Whitelist;
        config.publish_model = PublishModel::Publishers;
        let affiliations = src.meta.affiliations.clone();
        self.insert_node(&Actor::System, target, config)?;
        let mut meta = self.node(target)?.meta.clone();
        meta.affiliations = affiliations;
        self.commit_meta(target, meta)
    }
}
