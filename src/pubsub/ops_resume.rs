//! Resuming fan-out where another instance stopped (`[cluster]`): items it
//! stored but may not have notified are notified again, to the node's
//! subscribers of now. At-least-once: a subscriber may see an item twice
//! (the same stanza-id both times), never miss it.

use super::notify::{Event, Notification, to_subscribers};
use super::ops_publish::from_stored;
use super::service::Service;
use crate::store::{NodeId, Store};
use std::collections::HashMap;

impl<S: Store> Service<S> {
    /// Notifications of the stored items `items` (node, item ID), in the
    /// order given. Items removed since, and nodes deleted since, are
    /// skipped: there is nothing left to notify.
    pub fn renotify(&self, items: &[(NodeId, String)]) -> Vec<Notification> {
        let names: HashMap<NodeId, &str> = self
            .nodes
            .iter()
            .map(|(name, n)| (n.id, name.as_str()))
            .collect();
        let key = &self.settings.archive_key;
        let archiving = self.settings.retention.archiving();
        let mut out = Vec::new();
        for (node_id, item_id) in items {
            let Some(n) = names.get(node_id).and_then(|name| self.nodes.get(*name)) else {
                continue;
            };
            let stored = match self.store.get_item(*node_id, item_id) {
                Ok(Some(stored)) => stored,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "item to notify again could not be read");
                    continue;
                }
            };
            let item = from_stored(stored);
            let archive_id =
                (archiving && n.meta.config.persist_items).then(|| key.encode(n.id, item.seq));
            let event = Event::Items {
                items: vec![item],
                include_payload: n.meta.config.deliver_payloads,
                last_published: false,
            };
            let name = names[node_id];
            if let Some(mut note) = to_subscribers(name, &n.meta, event) {
                note.archive_id = archive_id;
                out.push(note);
            }
        }
        out
    }
}
