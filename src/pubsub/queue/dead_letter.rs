//! Dead letters: an item that failed `max_deliveries` times is published
//! to `<node>/dead-letter` (created on first use with the node's
//! configuration and affiliations) by the system actor, under its own item
//! ID, wrapped so the SHIM headers travel with it:
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

use super::{DEAD_LETTER_SUFFIX, DeadLetter, QUEUE_NS};
use crate::pubsub::error::PubsubError;
use crate::pubsub::notify::Notification;
use crate::pubsub::service::Service;
use crate::pubsub::types::{Actor, NewItem};
use crate::store::Store;

const SHIM_NS: &str = "http://jabber.org/protocol/shim";

impl<S: Store> Service<S> {
    /// Moves one item to the dead-letter node. Failures are logged, not
    /// returned: the rest of the batch's queue work must still go out.
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
            .and_then(|()| self.publish(&Actor::System, &target, vec![new], None));
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
                    "dead letter could not be published; item dropped from its group");
                Ok(Vec::new())
            }
        }
    }

    /// Creates `target` like `source` (configuration and affiliations).
    fn ensure_dead_letter_node(&mut self, source: &str, target: &str) -> Result<(), PubsubError> {
        if self.nodes.contains_key(target) {
            return Ok(());
        }
        let src = self.node(source)?;
        let (config, affiliations) = (src.meta.config.clone(), src.meta.affiliations.clone());
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
