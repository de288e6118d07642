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
use super::{DEAD_LETTER_SUFFIX, DeadLetter, QUEUE_NS};
use crate::pubsub::error::PubsubError;
use crate::pubsub::node_config::{AccessModel, PublishModel};
use crate::pubsub::notify::Notification;
use crate::pubsub::service::Service;
use crate::pubsub::types::{Actor, NewItem};
use crate::store::Store;

const SHIM_NS: &str = "http://jabber.org/protocol/shim";

impl<S: Store> Service<S> {
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
        let target = format!("{}{DEAD_LETTER_SUFFIX}", dead.node);
        let payload = wrap(&dead, &item.id, item.payload.as_deref());
        let new = NewItem {
            id: Some(item.id.clone()),
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

/// The dead-letter payload: SHIM headers, then the original payload.
fn wrap(dead: &DeadLetter, item_id: &str, payload: Option<&str>) -> String {
    let headers = [
        ("Delivery-Count", dead.deliveries.to_string()),
        ("Queue-Group", dead.group.clone()),
        ("Original-Node", dead.node.clone()),
        ("Original-Item", item_id.to_owned()),
    ];
    let mut out = format!("<dead-letter xmlns='{QUEUE_NS}'><headers xmlns='{SHIM_NS}'>");
    for (name, value) in headers {
        out.push_str(&format!(
            "<header name='{name}'>{}</header>",
            escape(&value)
        ));
    }
    out.push_str("</headers>");
    out.push_str(payload.unwrap_or(""));
    out.push_str("</dead-letter>");
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
