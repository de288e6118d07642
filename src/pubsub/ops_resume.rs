//! Resuming fan-out where another instance stopped (`[cluster]`): items it
//! stored but may not have notified are notified again, to the node's
//! subscribers of now. At-least-once: a subscriber may see an item twice
//! (the same stanza-id both times), never miss it.

use super::notify::{Event, Notification, to_subscribers};
use super::ops_publish::from_stored;
use super::service::Service;
use crate::store::{NodeId, Store, StoredItem};
use std::collections::HashMap;

impl<S: Store> Service<S> {
    /// Notifications of the stored items `items` (node, item as stored
    /// now), in the order given, before this service wrote anything (the
    /// copies are those read from the log: reading each again would cost
    /// a store round trip per item while fan-out waits). Items of nodes
    /// that no longer exist are skipped.
    pub fn renotify(&self, items: &[(NodeId, StoredItem)]) -> Vec<Notification> {
        let names: HashMap<NodeId, &str> = self
            .nodes
            .iter()
            .map(|(name, n)| (n.id, name.as_str()))
            .collect();
        let key = &self.settings.archive_key;
        let archiving = self.settings.retention.archiving();
        let mut out = Vec::new();
        for (node_id, stored) in items {
            let Some(n) = names.get(node_id).and_then(|name| self.nodes.get(*name)) else {
                continue;
            };
            let item = from_stored(stored.clone());
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
