//! Access decisions (XEP-0060 §4.1 affiliation table, access models,
//! publish models). Pure functions of a node's metadata and the actor.
//!
//! Affiliation table as implemented (Yes = allowed):
//!
//! | affiliation  | subscribe | retrieve | publish | retract | purge/configure/delete |
//! |--------------|-----------|----------|---------|---------|------------------------|
//! | owner        | yes       | yes      | yes     | any     | yes                    |
//! | publisher    | yes       | yes      | yes     | any     | no                     |
//! | publish-only | no        | no       | yes     | no      | no                     |
//! | member       | yes       | yes      | model   | no      | no                     |
//! | none         | model     | model    | model   | no      | no                     |
//! | outcast      | no        | no       | no      | no      | no                     |
//!
//! "model" = decided by the access model (subscribe, retrieve) or the
//! publish model (publish). [`Actor::System`] and service admins are owners
//! of every node.
//!
//! Access model `presence` (XEP-0060 §4.5: entities with a presence
//! subscription from/both to the owner) needs the owner's roster, which
//! lives in ejabberd and which Herald cannot read (`xep-0060.md`,
//! "Presence access model"). So it admits what Herald can know: owners,
//! publishers and members, and entities an owner approved. A subscribe
//! from anyone else goes `pending` with the §8.6 approval form to the
//! owners; a presence subscription to the service itself grants nothing.

use jid::BareJid;

use super::error::PubsubError;
use super::node::NodeMeta;
use super::node_config::{AccessModel, PublishModel};
use super::types::{Actor, Affiliation, SubscriptionState};

type Check = Result<(), PubsubError>;

/// What access decisions need besides the node: the service admins.
pub(crate) struct Access<'a> {
    pub admins: &'a [BareJid],
}

impl Access<'_> {
    /// Effective affiliation of the actor: System and admins are owners.
    pub fn affiliation(&self, meta: &NodeMeta, actor: &Actor) -> Affiliation {
        match actor {
            Actor::System => Affiliation::Owner,
            Actor::Entity(jid) => self.affiliation_of(meta, jid),
        }
    }

    pub fn affiliation_of(&self, meta: &NodeMeta, jid: &BareJid) -> Affiliation {
        if self.admins.contains(jid) {
            return Affiliation::Owner;
        }
        meta.affiliations
            .get(jid)
            .copied()
            .unwrap_or(Affiliation::None)
    }

    /// Owner-only actions (configure, delete, purge, manage).
    pub fn require_owner(&self, meta: &NodeMeta, actor: &Actor) -> Check {
        match self.affiliation(meta, actor) {
            Affiliation::Owner => Ok(()),
            Affiliation::Outcast => Err(PubsubError::Outcast),
            _ => Err(PubsubError::Forbidden),
        }
    }

    /// Publish (§7.1.3.1): affiliation, then the publish model.
    pub fn check_publish(&self, meta: &NodeMeta, actor: &Actor) -> Check {
        let aff = self.affiliation(meta, actor);
        match aff {
            Affiliation::Outcast => return Err(PubsubError::Outcast),
            a if a.may_publish() => return Ok(()),
            _ => {}
        }
        let subscribed = actor.bare().is_some_and(|j| meta.is_subscribed(j));
        match meta.config.publish_model {
            PublishModel::Open => Ok(()),
            PublishModel::Subscribers if subscribed => Ok(()),
            _ => Err(PubsubError::Forbidden),
        }
    }

    /// Retract (§7.2.3.1): owners and publishers, any item.
    pub fn check_retract(&self, meta: &NodeMeta, actor: &Actor) -> Check {
        match self.affiliation(meta, actor) {
            Affiliation::Owner | Affiliation::Publisher => Ok(()),
            Affiliation::Outcast => Err(PubsubError::Outcast),
            _ => Err(PubsubError::Forbidden),
        }
    }

    /// Retrieve items (§6.5.7) and node meta-data visibility.
    pub fn check_read(&self, meta: &NodeMeta, actor: &Actor) -> Check {
        let Actor::Entity(jid) = actor else {
            return Ok(());
        };
        match self.affiliation_of(meta, jid) {
            Affiliation::Outcast => return Err(PubsubError::Outcast),
            Affiliation::PublishOnly => return Err(PubsubError::Forbidden),
            a if a.is_member_or_above() => return Ok(()),
            _ if meta.is_subscribed(jid) => return Ok(()),
            _ => {}
        }
        match meta.config.access_model {
            AccessModel::Open => Ok(()),
            AccessModel::Presence => Err(PubsubError::NotAuthorized),
            AccessModel::Authorize => Err(PubsubError::SubscriptionRequired),
            AccessModel::Whitelist => Err(PubsubError::ClosedNode),
        }
    }

    /// Whether a node appears in the actor's disco#items (§5.2): hidden
    /// from outcasts, and whitelist nodes from entities not on the list.
    pub fn may_see(&self, meta: &NodeMeta, actor: &Actor) -> bool {
        let Actor::Entity(jid) = actor else {
            return true;
        };
        match self.affiliation_of(meta, jid) {
            Affiliation::Outcast => false,
            a if a.is_member_or_above() => true,
            _ => meta.config.access_model != AccessModel::Whitelist || meta.is_subscribed(jid),
        }
    }

    /// The state a new subscription of `target` gets (§6.1.3), or why it is
    /// refused. `on_behalf` is true when an owner or the system subscribes
    /// someone: the access model is then bypassed (outcasts stay refused).
    pub fn subscribe_state(
        &self,
        meta: &NodeMeta,
        target: &BareJid,
        on_behalf: bool,
    ) -> Result<SubscriptionState, PubsubError> {
        match self.affiliation_of(meta, target) {
            Affiliation::Outcast => return Err(PubsubError::Outcast),
            _ if on_behalf => return Ok(SubscriptionState::Subscribed),
            Affiliation::PublishOnly => return Err(PubsubError::Forbidden),
            a if a.is_member_or_above() => return Ok(SubscriptionState::Subscribed),
            _ => {}
        }
        match meta.config.access_model {
            AccessModel::Open => Ok(SubscriptionState::Subscribed),
            AccessModel::Presence | AccessModel::Authorize => Ok(SubscriptionState::Pending),
            AccessModel::Whitelist => Err(PubsubError::ClosedNode),
        }
    }
}
