//! Owner management of subscriptions and affiliations (XEP-0060
//! §8.6–8.9).

use super::names::NodeName;
use jid::{BareJid, Jid};

use super::error::{PubsubError, PubsubResult};
use super::node::{NodeMeta, NodeSub};
use super::notify::{Event, Notification, Recipient, to_recipients};
use super::ops_subscribe::find_sub;
use super::revoke::revoke;
use super::service::Service;
use super::types::{
    Actor, Affiliation, Outcome, Subscription, SubscriptionChange, SubscriptionState,
};
use crate::store::Store;

impl<S: Store> Service<S> {
    /// §8.6 Approve (`allow`) or deny a pending subscription. The
    /// subscriber is told the new state (subscribed / none); on approval it
    /// also gets the last item if the node sends it on subscription.
    /// Answering for a subscription that is no longer pending is a no-op.
    ///
    /// Errors: `NodeIdRequired`, `NodeNotFound`, `Forbidden`, `Outcast`,
    /// `NotSubscribed` (no such request), `SubidRequired`, `InvalidSubid`,
    /// `Internal`.
    pub(super) fn approve_subscription_unpumped(
        &mut self,
        actor: &Actor,
        node: &NodeName,
        jid: &Jid,
        subid: Option<&str>,
        allow: bool,
    ) -> PubsubResult<Outcome<()>> {
        let n = self.node(node)?;
        self.access().require_owner(&n.meta, actor)?;
        let index = find_sub(&n.meta, jid, subid)?;
        if n.meta.subscriptions[index].state != SubscriptionState::Pending {
            return Ok(Outcome::reply(()));
        }
        let mut meta = n.meta.clone();
        let mut sub = meta.subscriptions[index].clone();
        if allow {
            sub.state = SubscriptionState::Subscribed;
            meta.subscriptions[index] = sub.clone();
        } else {
            sub.state = SubscriptionState::None;
            meta.subscriptions.remove(index);
        }
        self.commit_meta(node, meta)?;
        let meta = &self.node(node)?.meta;
        let mut notifications: Vec<_> = state_notice(node, meta, &sub).into_iter().collect();
        notifications.extend(self.last_item_for(node, meta, &sub)?);
        Ok(Outcome {
            reply: (),
            notifications,
            published: Vec::new(),
        })
    }

    /// §8.7 Nodes owned by the actor that have pending subscriptions.
    pub fn pending_nodes(&self, actor: &Actor) -> Vec<String> {
        let access = self.access();
        let owned =
            (self.nodes.iter()).filter(|(_, n)| access.require_owner(&n.meta, actor).is_ok());
        let pending = owned.filter(|(_, n)| {
            (n.meta.subscriptions.iter()).any(|s| s.state == SubscriptionState::Pending)
        });
        pending.map(|(name, _)| name.clone()).collect()
    }

    /// §8.7 The pending subscriptions of a node; the outcome re-sends one
    /// approval request per pending subscription to the requesting owner.
    ///
    /// Errors: `NodeIdRequired`, `NodeNotFound`, `Forbidden`, `Outcast`.
    pub fn pending_subscriptions(
        &self,
        actor: &Actor,
        node: &NodeName,
    ) -> PubsubResult<Outcome<Vec<Subscription>>> {
        let n = self.node(node)?;
        self.access().require_owner(&n.meta, actor)?;
        let pending: Vec<&NodeSub> = (n.meta.subscriptions.iter())
            .filter(|s| s.state == SubscriptionState::Pending)
            .collect();
        let mut notifications = Vec::new();
        if let Actor::Entity(owner) = actor {
            for sub in &pending {
                let mut request = self.approval_request(node, &n.meta, sub);
                if let Some(r) = request.as_mut() {
                    r.recipients = vec![Recipient::plain(Jid::from(owner.clone()))];
                }
                notifications.extend(request);
            }
        }
        Ok(Outcome {
            reply: pending.iter().map(|s| s.to_public(node)).collect(),
            notifications,
            published: Vec::new(),
        })
    }

    /// §8.8.1 All subscriptions of a node (owner).
    ///
    /// Errors: `NodeIdRequired`, `NodeNotFound`, `Forbidden`, `Outcast`.
    pub fn node_subscriptions(
        &self,
        actor: &Actor,
        node: &NodeName,
    ) -> PubsubResult<Vec<Subscription>> {
        let n = self.node(node)?;
        self.access().require_owner(&n.meta, actor)?;
        Ok(n.meta
            .subscriptions
            .iter()
            .map(|s| s.to_public(node))
            .collect())
    }

    /// §8.8.2 Modify subscriptions (owner): state `none` removes the JID's
    /// subscription (the one named by `subid`, else all of them);
    /// `subscribed` / `pending` update it or create one. Each affected JID
    /// is notified of its new state (§8.8.4); a subscription that becomes
    /// `subscribed` here also gets the last item when the node sends it on
    /// subscription (§6.1.7, as after approval). All changes or none apply.
    ///
    /// Errors: `NodeIdRequired`, `NodeNotFound`, `Forbidden`, `Outcast`
    /// (also when a change targets an outcast), `NotAcceptable`
    /// (`unconfigured`), `InvalidSubid`, `SubidRequired`, `Internal`.
    pub(super) fn modify_subscriptions_unpumped(
        &mut self,
        actor: &Actor,
        node: &NodeName,
        changes: &[SubscriptionChange],
    ) -> PubsubResult<Outcome<()>> {
        let n = self.node(node)?;
        self.access().require_owner(&n.meta, actor)?;
        let was_subscribed: Vec<String> = (n.meta.subscriptions.iter())
            .filter(|s| s.state == SubscriptionState::Subscribed)
            .map(|s| s.subid.clone())
            .collect();
        let mut meta = n.meta.clone();
        let mut changed = Vec::new();
        for change in changes {
            changed.extend(self.apply_sub_change(&mut meta, change)?);
        }
        self.commit_meta(node, meta)?;
        let meta = &self.node(node)?.meta;
        let mut notifications = Vec::new();
        for sub in &changed {
            notifications.extend(state_notice(node, meta, sub));
            let newly =
                sub.state == SubscriptionState::Subscribed && !was_subscribed.contains(&sub.subid);
            if newly {
                notifications.extend(self.last_item_for(node, meta, sub)?);
            }
        }
        Ok(Outcome {
            reply: (),
            notifications,
            published: Vec::new(),
        })
    }

    /// Applies one owner change to `meta`, returning the affected
    /// subscriptions in their new state.
    fn apply_sub_change(
        &mut self,
        meta: &mut NodeMeta,
        change: &SubscriptionChange,
    ) -> PubsubResult<Vec<NodeSub>> {
        let subid = change.subid.as_deref();
        let found = match find_sub(meta, &change.jid, subid) {
            Ok(i) => Some(i),
            Err(PubsubError::NotSubscribed) => None,
            Err(PubsubError::SubidRequired) if change.state == SubscriptionState::None => {
                return Ok(remove_all_of(meta, &change.jid));
            }
            Err(e) => return Err(e),
        };
        match (change.state, found) {
            (SubscriptionState::Unconfigured, _) => Err(PubsubError::NotAcceptable(
                "subscription state unconfigured cannot be set".into(),
            )),
            (SubscriptionState::None, None) => Ok(Vec::new()),
            (SubscriptionState::None, Some(i)) => {
                let mut sub = meta.subscriptions.remove(i);
                sub.state = SubscriptionState::None;
                Ok(vec![sub])
            }
            (state, Some(i)) => {
                meta.subscriptions[i].state = state;
                Ok(vec![meta.subscriptions[i].clone()])
            }
            (state, None) => {
                self.access()
                    .subscribe_state(meta, &change.jid.to_bare(), true)?;
                let sub = NodeSub {
                    jid: change.jid.clone(),
                    subid: self.fresh_id(),
                    state,
                    options: Default::default(),
                };
                meta.subscriptions.push(sub.clone());
                Ok(vec![sub])
            }
        }
    }

    /// §8.9.1 All explicit affiliations of a node (owner). Service admins
    /// are implicit owners and not listed.
    ///
    /// Errors: `NodeIdRequired`, `NodeNotFound`, `Forbidden`, `Outcast`.
    pub fn node_affiliations(
        &self,
        actor: &Actor,
        node: &NodeName,
    ) -> PubsubResult<Vec<(BareJid, Affiliation)>> {
        let n = self.node(node)?;
        self.access().require_owner(&n.meta, actor)?;
        Ok(n.meta
            .affiliations
            .iter()
            .map(|(j, a)| (j.clone(), *a))
            .collect())
    }

    /// §8.9.2 Modify affiliations (owner): `none` removes one; `outcast`
    /// also removes all the entity's subscriptions, and any entity left
    /// without access loses its subscriptions (`revoke.rs`), each notified. A node that has
    /// explicit owners cannot be left without one (`LastOwner`), unless the
    /// system does it. Each affected entity is notified (§8.9.4).
    ///
    /// Errors: `NodeIdRequired`, `NodeNotFound`, `Forbidden`, `Outcast`,
    /// `LastOwner`, `Internal`.
    pub(super) fn modify_affiliations_unpumped(
        &mut self,
        actor: &Actor,
        node: &NodeName,
        changes: &[(BareJid, Affiliation)],
    ) -> PubsubResult<Outcome<()>> {
        let n = self.node(node)?;
        self.access().require_owner(&n.meta, actor)?;
        let mut meta = n.meta.clone();
        for (jid, affiliation) in changes {
            match affiliation {
                Affiliation::None => meta.affiliations.remove(jid),
                other => meta.affiliations.insert(jid.clone(), *other),
            };
        }
        let had_owners = !n.meta.owners().is_empty();
        if had_owners && meta.owners().is_empty() && *actor != Actor::System {
            return Err(PubsubError::LastOwner);
        }
        let revoked = revoke(&self.access(), &n.meta, &mut meta);
        self.commit_meta(node, meta)?;
        let config = &self.node(node)?.meta.config;
        let notices = changes.iter().filter_map(|(jid, affiliation)| {
            let event = Event::Affiliation {
                jid: jid.clone(),
                affiliation: *affiliation,
            };
            let to = vec![Recipient::plain(Jid::from(jid.clone()))];
            to_recipients(node, config, event, to)
        });
        let mut notifications: Vec<_> = notices.collect();
        notifications.extend(self.revocation_notices(node, &revoked)?);
        Ok(Outcome {
            reply: (),
            notifications,
            published: Vec::new(),
        })
    }
}

/// Removes every subscription of exactly `jid`, returning them marked none.
fn remove_all_of(meta: &mut NodeMeta, jid: &Jid) -> Vec<NodeSub> {
    let (mut gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut meta.subscriptions)
        .into_iter()
        .partition(|s| s.jid == *jid);
    meta.subscriptions = kept;
    for s in &mut gone {
        s.state = SubscriptionState::None;
    }
    gone
}

/// Tells a subscriber its subscription's new state (§8.6, §8.8.4).
pub(crate) fn state_notice(node: &str, meta: &NodeMeta, sub: &NodeSub) -> Option<Notification> {
    let event = Event::Subscription {
        jid: sub.jid.clone(),
        subid: sub.subid.clone(),
        state: sub.state,
    };
    to_recipients(
        node,
        &meta.config,
        event,
        vec![Recipient::plain(sub.jid.clone())],
    )
}
