//! Subscriber use cases (XEP-0060 §6.1–6.4): subscribe, unsubscribe,
//! subscription options.

use super::names::NodeName;
use jid::Jid;

use super::error::{PubsubError, PubsubResult};
use super::form::FieldValues;
use super::node::{NodeMeta, NodeSub};
use super::node_config::{NotificationType, SendLastPublished};
use super::notify::{Event, Notification, Recipient, to_recipients};
use super::ops_publish::from_stored;
use super::service::Service;
use super::sub_options::SubscriptionOptions;
use super::types::{Actor, Affiliation, Outcome, Subscription, SubscriptionState};
use crate::store::Store;

impl<S: Store> Service<S> {
    /// §6.1 Subscribe `jid` (bare or full) to a node, with optional
    /// options (§6.3.6 subscribe-and-configure). The access model decides
    /// (open, presence, authorize → `pending` plus an approval request to
    /// the owners, whitelist). An owner or the system may subscribe other
    /// JIDs, bypassing the access model. Several subscriptions per JID are
    /// allowed when their options differ; repeating an identical subscribe
    /// returns the existing subscription. With `send_last_published_item`
    /// on_sub or on_sub_and_presence the last item goes to the new
    /// subscriber (§6.1.7).
    ///
    /// Errors: `NodeIdRequired`, `NodeNotFound`, `InvalidJid` (bare JID is
    /// not the requester's), `Outcast`, `Forbidden` (publish-only),
    /// `NotAuthorized` (presence), `ClosedNode` (whitelist),
    /// `PendingSubscription`, `InvalidOptions`, `Internal`.
    pub(super) fn subscribe_unpumped(
        &mut self,
        actor: &Actor,
        node: &NodeName,
        jid: &Jid,
        options: Option<&[FieldValues]>,
    ) -> PubsubResult<Outcome<Subscription>> {
        let n = self.node(node)?;
        let on_behalf = self
            .acts_for(&n.meta, actor, jid)
            .ok_or(PubsubError::InvalidJid)?;
        let state = self
            .access()
            .subscribe_state(&n.meta, &jid.to_bare(), on_behalf)?;
        let options = SubscriptionOptions::default().with_fields(options.unwrap_or(&[]))?;
        let mine = n.meta.subscriptions.iter().filter(|s| s.jid == *jid);
        if mine.clone().any(|s| s.state == SubscriptionState::Pending) {
            return Err(PubsubError::PendingSubscription);
        }
        if let Some(same) = mine.clone().find(|s| s.options == options) {
            let reply = same.to_public(node);
            let last = self.last_item_for(node, &n.meta, same)?;
            return Ok(Outcome {
                reply,
                notifications: last.into_iter().collect(),
                published: Vec::new(),
            });
        }
        let subid = self.fresh_id();
        let sub = NodeSub {
            jid: jid.clone(),
            subid,
            state,
            options,
        };
        let mut meta = self.node(node)?.meta.clone();
        meta.subscriptions.push(sub.clone());
        self.commit_meta(node, meta)?;
        let meta = &self.node(node)?.meta;
        let notice = match state {
            SubscriptionState::Pending => self.approval_request(node, meta, &sub),
            _ => self.last_item_for(node, meta, &sub)?,
        };
        Ok(Outcome {
            reply: sub.to_public(node),
            notifications: notice.into_iter().collect(),
            published: Vec::new(),
        })
    }

    /// Whether `actor` may act for `jid`: `Some(false)` for its own bare
    /// JID, `Some(true)` for an owner or the system acting for another.
    pub(crate) fn acts_for(&self, meta: &NodeMeta, actor: &Actor, jid: &Jid) -> Option<bool> {
        match actor {
            Actor::Entity(me) if *me == jid.to_bare() => Some(false),
            _ if self.access().affiliation(meta, actor) == Affiliation::Owner => Some(true),
            _ => None,
        }
    }

    /// The last published item for a new subscriber (§6.1.7), if the node
    /// is configured to send it and the subscription delivers.
    pub(crate) fn last_item_for(
        &self,
        node: &str,
        meta: &NodeMeta,
        sub: &NodeSub,
    ) -> PubsubResult<Option<Notification>> {
        let config = &meta.config;
        let send = config.send_last_published_item != SendLastPublished::Never;
        if !send || !sub.gets_events() || !config.deliver_notifications {
            return Ok(None);
        }
        let n = self.node(node)?;
        let Some(last) = self.store.items_before(n.id, u64::MAX, 1)?.pop() else {
            return Ok(None);
        };
        let event = Event::Items {
            items: vec![from_stored(last)],
            include_payload: config.deliver_payloads,
            last_published: true,
        };
        let several = meta
            .subscriptions
            .iter()
            .filter(|s| s.jid == sub.jid)
            .count()
            > 1;
        let mut to = Recipient::plain(sub.jid.clone());
        if several {
            to.subids.push(sub.subid.clone());
        }
        Ok(to_recipients(node, config, event, vec![to]))
    }

    /// §8.6.1 The approval request sent to the node owners (the service
    /// admins when the node has no explicit owner).
    pub(crate) fn approval_request(
        &self,
        node: &str,
        meta: &NodeMeta,
        sub: &NodeSub,
    ) -> Option<Notification> {
        let mut owners = meta.owners();
        if owners.is_empty() {
            owners = self.settings.admins.clone();
        }
        let recipients = owners
            .into_iter()
            .map(|o| Recipient::plain(Jid::from(o)))
            .collect();
        let event = Event::ApprovalRequest {
            jid: sub.jid.clone(),
            subid: sub.subid.clone(),
        };
        let mut notice = to_recipients(node, &meta.config, event, recipients)?;
        notice.message_type = NotificationType::Normal;
        Some(notice)
    }

    /// §6.2 Unsubscribe `jid`. Without `subid`, the JID must hold exactly
    /// one subscription.
    ///
    /// Errors: `NodeIdRequired`, `NodeNotFound`, `Forbidden` (another
    /// entity's JID, requester not owner), `NotSubscribed`, `SubidRequired`,
    /// `InvalidSubid`, `Internal`.
    pub(super) fn unsubscribe_unpumped(
        &mut self,
        actor: &Actor,
        node: &NodeName,
        jid: &Jid,
        subid: Option<&str>,
    ) -> PubsubResult<Outcome<()>> {
        let n = self.node(node)?;
        self.acts_for(&n.meta, actor, jid)
            .ok_or(PubsubError::Forbidden)?;
        let index = find_sub(&n.meta, jid, subid)?;
        let mut meta = n.meta.clone();
        meta.subscriptions.remove(index);
        self.commit_meta(node, meta)?;
        Ok(Outcome::reply(()))
    }

    /// §6.3 Request the options of `jid`'s subscription (render with
    /// [`SubscriptionOptions::to_fields`]).
    ///
    /// Errors: `NodeIdRequired`, `NodeNotFound`, `Forbidden`,
    /// `NotSubscribed`, `SubidRequired`, `InvalidSubid`.
    pub fn subscription_options(
        &self,
        actor: &Actor,
        node: &NodeName,
        jid: &Jid,
        subid: Option<&str>,
    ) -> PubsubResult<SubscriptionOptions> {
        let n = self.node(node)?;
        self.acts_for(&n.meta, actor, jid)
            .ok_or(PubsubError::Forbidden)?;
        let index = find_sub(&n.meta, jid, subid)?;
        Ok(n.meta.subscriptions[index].options.clone())
    }

    /// §6.3.5 Submit subscription options.
    ///
    /// Errors: those of [`Service::subscription_options`], plus
    /// `InvalidOptions` and `Internal`.
    pub(super) fn set_subscription_options_unpumped(
        &mut self,
        actor: &Actor,
        node: &NodeName,
        jid: &Jid,
        subid: Option<&str>,
        fields: &[FieldValues],
    ) -> PubsubResult<Outcome<()>> {
        let n = self.node(node)?;
        self.acts_for(&n.meta, actor, jid)
            .ok_or(PubsubError::Forbidden)?;
        let index = find_sub(&n.meta, jid, subid)?;
        let options = n.meta.subscriptions[index].options.with_fields(fields)?;
        let mut meta = n.meta.clone();
        meta.subscriptions[index].options = options;
        self.commit_meta(node, meta)?;
        Ok(Outcome::reply(()))
    }

    /// §6.4 Default subscription options. No errors.
    pub fn default_subscription_options(&self) -> SubscriptionOptions {
        SubscriptionOptions::default()
    }
}

/// Index of `jid`'s subscription selected by `subid` (§6.2.3 rules).
pub(crate) fn find_sub(meta: &NodeMeta, jid: &Jid, subid: Option<&str>) -> PubsubResult<usize> {
    let mut mine = (meta.subscriptions.iter().enumerate()).filter(|(_, s)| s.jid == *jid);
    match subid {
        Some(wanted) => {
            let mut mine = mine.peekable();
            if mine.peek().is_none() {
                return Err(PubsubError::NotSubscribed);
            }
            let found = mine.find(|(_, s)| s.subid == wanted);
            found.map(|(i, _)| i).ok_or(PubsubError::InvalidSubid)
        }
        None => match (mine.next(), mine.next()) {
            (None, _) => Err(PubsubError::NotSubscribed),
            (Some((i, _)), None) => Ok(i),
            (Some(_), Some(_)) => Err(PubsubError::SubidRequired),
        },
    }
}
