//! The published-items feed: every item accepted by [`Service::publish`],
//! handed to in-process consumers (the MUC relay and chat delivery) after
//! the job that published it. Off unless enabled, so a service nobody
//! drains keeps nothing. Consumers take the feed after each job, before
//! the batch's flush; they must send what they derive from it only after
//! the flush, like every notification.

use jid::Jid;

use super::service::Service;
use super::types::Item;
use crate::store::Store;

/// Items published to one node by one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub node: String,
    /// Oldest first, as in the publish request.
    pub items: Vec<Item>,
}

impl<S: Store> Service<S> {
    /// Starts recording published items for [`Service::take_published`].
    pub fn enable_feed(&mut self) {
        self.feed.get_or_insert_with(Vec::new);
    }

    /// Everything published since the last call (empty when the feed is off).
    pub fn take_published(&mut self) -> Vec<Published> {
        self.feed.as_mut().map(std::mem::take).unwrap_or_default()
    }

    pub(crate) fn record_published(&mut self, node: &str, items: &[Item]) {
        if let Some(feed) = self.feed.as_mut() {
            feed.push(Published {
                node: node.to_owned(),
                items: items.to_vec(),
            });
        }
    }

    /// JIDs holding a deliverable `herald#chat` subscription to `node`
    /// (one entry per JID), if the node delivers notifications at all.
    pub fn chat_subscribers(&self, node: &str) -> Vec<Jid> {
        let Some(n) = self.nodes.get(node) else {
            return Vec::new();
        };
        if !n.meta.config.deliver_notifications {
            return Vec::new();
        }
        let mut out: Vec<Jid> = Vec::new();
        let chat = (n.meta.subscriptions.iter()).filter(|s| s.is_deliverable() && s.options.chat);
        for s in chat {
            if !out.contains(&s.jid) {
                out.push(s.jid.clone());
            }
        }
        out
    }
}
