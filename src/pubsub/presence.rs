//! Presence shared with the service, for the `presence` access model and
//! `send_last_published_item = on_sub_and_presence`.
//!
//! Interpretation: the service itself stands in for the node owners'
//! roster. A bare JID "has a presence subscription" when the presence
//! subscription between it and the service's JID is approved (the user
//! accepted the service's subscription request, or the service approved
//! the user's: protocol reports either with [`Service::presence_subscribed`]).
//! The set is persisted in the service record ([`super::SERVICE_RECORD`]).

use tokio_xmpp::jid::{BareJid, Jid};

use super::error::PubsubResult;
use super::node_config::{AccessModel, SendLastPublished};
use super::notify::Notification;
use super::ops_manage::state_notice;
use super::ops_subscribe::drop_subs_of;
use super::service::Service;
use super::types::{Affiliation, Outcome};
use crate::store::Store;

impl<S: Store> Service<S> {
    /// Records whether `jid` shares presence with the service. When the
    /// presence subscription ends, the entity's subscriptions to
    /// presence-model nodes it is not affiliated with are cancelled
    /// (XEP-0060 §4.5 "presence" access) and it is notified of each.
    ///
    /// Errors: `Internal`.
    pub fn presence_subscribed(
        &mut self,
        jid: &BareJid,
        subscribed: bool,
    ) -> PubsubResult<Outcome<()>> {
        let mut presence = self.presence.clone();
        let changed = match subscribed {
            true => presence.insert(jid.clone()),
            false => presence.remove(jid),
        };
        if !changed {
            return Ok(Outcome::reply(()));
        }
        self.save_service_record(self.next_node_id, &presence)?;
        self.presence = presence;
        let mut notifications = Vec::new();
        if !subscribed {
            for name in self.presence_nodes_of(jid) {
                notifications.extend(self.cancel_presence_subs(&name, jid)?);
            }
        }
        Ok(Outcome {
            reply: (),
            notifications,
        })
    }

    /// Presence-model nodes where `jid` holds subscriptions only thanks to
    /// its presence (no affiliation of member or above).
    fn presence_nodes_of(&self, jid: &BareJid) -> Vec<String> {
        let access = self.access();
        let hit = |meta: &super::node::NodeMeta| {
            meta.config.access_model == AccessModel::Presence
                && meta.subs_of_bare(jid).next().is_some()
                && access.affiliation_of(meta, jid) == Affiliation::None
        };
        let nodes = self.nodes.iter().filter(|(_, n)| hit(&n.meta));
        nodes.map(|(name, _)| name.clone()).collect()
    }

    fn cancel_presence_subs(
        &mut self,
        name: &str,
        jid: &BareJid,
    ) -> PubsubResult<Vec<Notification>> {
        let mut meta = self.node(name)?.meta.clone();
        let mut gone = drop_subs_of(&mut meta, jid);
        self.commit_meta(name, meta)?;
        let meta = &self.node(name)?.meta;
        for s in &mut gone {
            s.state = super::types::SubscriptionState::None;
        }
        Ok(gone
            .iter()
            .filter_map(|s| state_notice(name, meta, s))
            .collect())
    }

    /// An entity sent available presence (`jid`, usually full): the last
    /// item of every node configured `on_sub_and_presence` that it is
    /// subscribed to (by that full JID or its bare JID) (§6.1.7).
    ///
    /// Errors: `Internal`.
    pub fn presence_available(&self, jid: &Jid) -> PubsubResult<Outcome<()>> {
        let bare = jid.to_bare();
        let mut notifications = Vec::new();
        for (name, n) in &self.nodes {
            let config = &n.meta.config;
            if config.send_last_published_item != SendLastPublished::OnSubAndPresence {
                continue;
            }
            let mine = (n.meta.subscriptions.iter()).filter(|s| s.jid == *jid || s.jid == bare);
            for sub in mine {
                notifications.extend(self.last_item_for(name, &n.meta, sub)?);
            }
        }
        Ok(Outcome {
            reply: (),
            notifications,
        })
    }
}
