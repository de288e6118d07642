//! The one exit of the core (docs/architecture.md, "One exit"): every
//! state-changing use case, as callers see it. Each runs its step (the
//! `*_unpumped` method next to its rules) and then lets its node's consumer
//! groups deliver what the change made deliverable, so the returned
//! [`Outcome`] is complete: callers render it and add nothing. Whether the
//! change must be flushed is the service's own business
//! ([`Service::unflushed`]). The queue tick is left with deadlines only.

use jid::{BareJid, Jid};

use super::error::PubsubResult;
use super::form::FieldValues;
use super::names::{ItemId, NodeName};
use super::ops_ingest::{IngestError, IngestReply, IngestRequest};
use super::service::Service;
use super::types::{
    Actor, Affiliation, NewItem, Outcome, PublishReply, Subscription, SubscriptionChange,
};
use crate::store::Store;

impl<S: Store> Service<S> {
    /// Adds the deliveries of `node`'s consumer groups to a successful
    /// write. A failed delivery pass is logged, not returned: the write
    /// itself happened, and the queue tick retries the deliveries.
    fn pumped<T>(&mut self, node: &NodeName, mut outcome: Outcome<T>) -> Outcome<T> {
        match self.queue_pump(node.as_str(), self.now_ms()) {
            Ok(notes) => outcome.notifications.extend(notes),
            Err(e) => tracing::warn!(node = node.as_str(), error = %e, "queue delivery failed"),
        }
        outcome
    }

    /// §7.1 publish: see [`Service::publish_unpumped`].
    pub fn publish(
        &mut self,
        actor: &Actor,
        node: &NodeName,
        items: Vec<NewItem>,
        publish_options: Option<&[FieldValues]>,
    ) -> PubsubResult<Outcome<PublishReply>> {
        let o = self.publish_unpumped(actor, node, items, publish_options)?;
        Ok(self.pumped(node, o))
    }

    /// §7.2 retract by an actor: see [`Service::retract_unpumped`]. Over
    /// XMPP use [`Service::retract_as`], where a group member's retract of
    /// an item it holds is its ack.
    pub fn retract(
        &mut self,
        actor: &Actor,
        node: &NodeName,
        item_id: &ItemId,
        notify: Option<bool>,
    ) -> PubsubResult<Outcome<()>> {
        let o = self.retract_unpumped(actor, node, item_id, notify)?;
        Ok(self.pumped(node, o))
    }

    /// HTTP ingest: see [`Service::ingest_unpumped`].
    pub fn ingest(&mut self, req: IngestRequest) -> Result<Outcome<IngestReply>, IngestError> {
        let o = self.ingest_unpumped(&req)?;
        Ok(self.pumped(&req.node, o))
    }

    /// §6.1 subscribe: see [`Service::subscribe_unpumped`].
    pub fn subscribe(
        &mut self,
        actor: &Actor,
        node: &NodeName,
        jid: &Jid,
        options: Option<&[FieldValues]>,
    ) -> PubsubResult<Outcome<Subscription>> {
        let o = self.subscribe_unpumped(actor, node, jid, options)?;
        Ok(self.pumped(node, o))
    }

    /// §6.2 unsubscribe: see [`Service::unsubscribe_unpumped`].
    pub fn unsubscribe(
        &mut self,
        actor: &Actor,
        node: &NodeName,
        jid: &Jid,
        subid: Option<&str>,
    ) -> PubsubResult<Outcome<()>> {
        let o = self.unsubscribe_unpumped(actor, node, jid, subid)?;
        Ok(self.pumped(node, o))
    }

    /// §6.3.5 set options: see [`Service::set_subscription_options_unpumped`].
    pub fn set_subscription_options(
        &mut self,
        actor: &Actor,
        node: &NodeName,
        jid: &Jid,
        subid: Option<&str>,
        fields: &[FieldValues],
    ) -> PubsubResult<Outcome<()>> {
        let o = self.set_subscription_options_unpumped(actor, node, jid, subid, fields)?;
        Ok(self.pumped(node, o))
    }

    /// §8.2.5 configure: see [`Service::configure_unpumped`].
    pub fn configure(
        &mut self,
        actor: &Actor,
        node: &NodeName,
        fields: &[FieldValues],
    ) -> PubsubResult<Outcome<()>> {
        let o = self.configure_unpumped(actor, node, fields)?;
        Ok(self.pumped(node, o))
    }

    /// §8.4 delete: see [`Service::delete_node_unpumped`] (the pump drops
    /// the node's queue state).
    pub fn delete_node(
        &mut self,
        actor: &Actor,
        node: &NodeName,
        redirect: Option<&str>,
    ) -> PubsubResult<Outcome<()>> {
        let o = self.delete_node_unpumped(actor, node, redirect)?;
        Ok(self.pumped(node, o))
    }

    /// The operator resends a dead letter of `node`: see
    /// [`Service::resend_dead_letter_unpumped`].
    pub fn resend_dead_letter(
        &mut self,
        node: &NodeName,
        item: &ItemId,
    ) -> PubsubResult<Outcome<()>> {
        let o = self.resend_dead_letter_unpumped(node, item)?;
        Ok(self.pumped(node, o))
    }

    /// §8.5 purge: see [`Service::purge_unpumped`].
    pub fn purge(&mut self, actor: &Actor, node: &NodeName) -> PubsubResult<Outcome<()>> {
        let o = self.purge_unpumped(actor, node)?;
        Ok(self.pumped(node, o))
    }

    /// §8.6 approve or deny: see [`Service::approve_subscription_unpumped`].
    pub fn approve_subscription(
        &mut self,
        actor: &Actor,
        node: &NodeName,
        jid: &Jid,
        subid: Option<&str>,
        allow: bool,
    ) -> PubsubResult<Outcome<()>> {
        let o = self.approve_subscription_unpumped(actor, node, jid, subid, allow)?;
        Ok(self.pumped(node, o))
    }

    /// §8.8.2 owner changes subscriptions: see
    /// [`Service::modify_subscriptions_unpumped`].
    pub fn modify_subscriptions(
        &mut self,
        actor: &Actor,
        node: &NodeName,
        changes: &[SubscriptionChange],
    ) -> PubsubResult<Outcome<()>> {
        let o = self.modify_subscriptions_unpumped(actor, node, changes)?;
        Ok(self.pumped(node, o))
    }

    /// §8.9.2 owner changes affiliations: see
    /// [`Service::modify_affiliations_unpumped`].
    pub fn modify_affiliations(
        &mut self,
        actor: &Actor,
        node: &NodeName,
        changes: &[(BareJid, Affiliation)],
    ) -> PubsubResult<Outcome<()>> {
        let o = self.modify_affiliations_unpumped(actor, node, changes)?;
        Ok(self.pumped(node, o))
    }
}
