//! The published-items feed: every item accepted by [`Service::publish`],
//! handed to in-process consumers (the MUC relay and chat delivery) after
//! the job that published it. Off unless enabled, so a service nobody
//! drains keeps nothing. Consumers take the feed after each job, before
//! the batch's flush; they must send what they derive from it only after
//! the flush, like every notification.

use jid::{BareJid, Jid};

use super::collections::{ancestors, within};
use super::service::Service;
use super::types::{Actor, Item};
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

    /// JIDs holding a deliverable `herald#chat` items subscription to a
    /// collection above `leaf` whose depth reaches it (XEP-0248), each once
    /// with the nearest such collection, and only those who may read the
    /// leaf: the rule of `via_collections`, so chat and pubsub collection
    /// subscribers see the same items. A leaf moved out is no longer above.
    pub fn chat_collection_subscribers(&self, leaf: &str) -> Vec<(Jid, String)> {
        let Some(l) = self.nodes.get(leaf) else {
            return Vec::new();
        };
        if !l.meta.config.deliver_notifications {
            return Vec::new();
        }
        let access = self.access();
        let mut out: Vec<(Jid, String)> = Vec::new();
        for (collection, depth) in self.collections_by_depth(leaf) {
            let Some(c) = self.nodes.get(&collection) else {
                continue;
            };
            let chat = (c.meta.subscriptions.iter())
                .filter(|s| s.is_deliverable() && s.options.chat)
                .filter(|s| s.options.subscription_type.wants_items())
                .filter(|s| within(depth, s.options.subscription_depth));
            for s in chat {
                let reader = Actor::Entity(s.jid.to_bare());
                let new = !out.iter().any(|(j, _)| *j == s.jid);
                if new && access.check_read(&l.meta, &reader).is_ok() {
                    out.push((s.jid.clone(), collection.clone()));
                }
            }
        }
        out
    }

    /// Every collection above `leaf` at any depth, nearest first (then by
    /// name): what the relay matches its room patterns against.
    pub fn collections_above(&self, leaf: &str) -> Vec<String> {
        let above = self.collections_by_depth(leaf);
        above.into_iter().map(|(c, _)| c).collect()
    }

    /// Whether `reader` may read `leaf`'s items (§6.5.7, the check a
    /// collection subscriber passes for each leaf); false for no such leaf.
    pub fn may_read(&self, leaf: &str, reader: &BareJid) -> bool {
        let Some(l) = self.nodes.get(leaf) else {
            return false;
        };
        let actor = Actor::Entity(reader.clone());
        self.access().check_read(&l.meta, &actor).is_ok()
    }

    fn collections_by_depth(&self, leaf: &str) -> Vec<(String, u32)> {
        let parents = |n: &str| (self.nodes.get(n)).map(|n| n.meta.config.collections.as_slice());
        let mut above: Vec<(String, u32)> = ancestors(leaf, parents).into_iter().collect();
        above.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        above
    }
}
