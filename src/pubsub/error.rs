//! Typed errors of the pubsub core. Each variant is one XEP-0060 error
//! case; its doc says the stanza error condition (RFC 6120) and the
//! `http://jabber.org/protocol/pubsub#errors` application condition that
//! `protocol/` must render. "type" is the stanza error type.

use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PubsubError {
    /// `<item-not-found/>` (cancel), no application condition.
    /// The node does not exist.
    #[error("node does not exist")]
    NodeNotFound,
    /// `<bad-request/>` (modify) + `<nodeid-required/>`. A request that needs
    /// a node name came without one (or with an empty one).
    #[error("node ID required")]
    NodeIdRequired,
    /// `<conflict/>` (cancel), no application condition. Create of an
    /// existing node (§8.1.3).
    #[error("node already exists")]
    NodeExists,
    /// `<forbidden/>` (auth), no application condition. The actor's
    /// affiliation does not allow this action.
    #[error("insufficient privileges")]
    Forbidden,
    /// `<forbidden/>` (auth), no application condition, with the reason a
    /// client shows its user (publish and retract: the publish model or
    /// the affiliation that refused it).
    #[error("{0}")]
    ForbiddenBecause(&'static str),
    /// `<forbidden/>` (auth), no application condition. The actor is an
    /// outcast of the node (§6.1.3.8 "blocked"); refused for every action.
    #[error("you are an outcast of this node (banned by an owner)")]
    Outcast,
    /// `<not-authorized/>` (auth) + `<presence-subscription-required/>`.
    /// Access model `presence` and the entity shares no presence with the
    /// service (§6.1.3.2, §6.5.7.x).
    #[error("presence subscription required")]
    NotAuthorized,
    /// `<not-authorized/>` (auth) + `<not-in-roster-group/>`. Access model
    /// `roster`; Herald does not support that model, so the core never
    /// returns this variant (kept so protocol can map every case).
    #[error("not in an allowed roster group")]
    NotInRosterGroup,
    /// `<not-allowed/>` (cancel) + `<closed-node/>`. Access model
    /// `whitelist` and the entity is not on the list.
    #[error("node has a whitelist access model")]
    ClosedNode,
    /// `<not-authorized/>` (auth) + `<pending-subscription/>`. A subscription
    /// of this JID is still awaiting owner approval (§6.1.3.7, §6.3.4.x).
    #[error("subscription is pending approval")]
    PendingSubscription,
    /// `<not-authorized/>` (auth) + `<not-subscribed/>`. Items of an
    /// `authorize` node requested by an entity without an approved
    /// subscription (§6.5.7.3 with access model authorize).
    #[error("subscription required to read items")]
    SubscriptionRequired,
    /// `<unexpected-request/>` (cancel) + `<not-subscribed/>`. Unsubscribe or
    /// options of a JID that has no subscription (§6.2.3.2, §6.3.4.x).
    #[error("not subscribed")]
    NotSubscribed,
    /// `<bad-request/>` (modify) + `<subid-required/>`. The JID holds
    /// several subscriptions and the request named none (§6.2.3.1).
    #[error("subscription ID required")]
    SubidRequired,
    /// `<not-acceptable/>` (modify) + `<invalid-subid/>`. No subscription
    /// of that JID has this SubID (§6.2.3.5).
    #[error("invalid subscription ID")]
    InvalidSubid,
    /// `<bad-request/>` (modify) + `<invalid-jid/>`. The subscription JID's
    /// bare JID is not the requester's (§6.1.3.1, §6.2.3.3).
    #[error("JID does not match the requester")]
    InvalidJid,
    /// `<not-acceptable/>` (modify) + `<configuration-required/>`. Herald
    /// never requires subscription configuration, so never returned.
    #[error("subscription configuration required")]
    ConfigurationRequired,
    /// `<bad-request/>` (modify) + `<invalid-options/>`. A subscription
    /// options form has an unknown field or a bad value (§6.3.7).
    #[error("invalid subscription options: {0}")]
    InvalidOptions(String),
    /// `<bad-request/>` (modify) + `<item-required/>`. Publish to a
    /// persistent node without an item (§7.1.3.6), or retract without an
    /// item ID (§7.2.3.3).
    #[error("item required")]
    ItemRequired,
    /// `<bad-request/>` (modify) + `<item-forbidden/>`. Publish of an item to
    /// a transient notification-only node (§7.1.3.6).
    #[error("item forbidden on this node")]
    ItemForbidden,
    /// `<bad-request/>` (modify) + `<payload-required/>`. An item without a
    /// payload on a node that delivers payloads (§7.1.3.6).
    #[error("payload required")]
    PayloadRequired,
    /// `<not-acceptable/>` (modify) + `<payload-too-big/>` (§7.1.3.4).
    #[error("payload too big")]
    PayloadTooBig,
    /// `<bad-request/>` (modify) + `<invalid-payload/>` (§7.1.3.5). The core
    /// sees no XML: protocol returns this itself for several payload
    /// elements or a payload of the wrong `pubsub#type` namespace.
    #[error("invalid payload")]
    InvalidPayload,
    /// `<item-not-found/>` (cancel). The item (or the item ID used as a
    /// paging cursor) does not exist (any more): a catch-up client must
    /// resync.
    #[error("item does not exist")]
    ItemNotFound,
    /// `<not-allowed/>` (cancel) + `<max-nodes-exceeded/>` (§8.1.3).
    #[error("maximum number of nodes reached")]
    MaxNodesExceeded,
    /// `<conflict/>` (cancel) + `<precondition-not-met/>`. A publish-options
    /// field differs from the node's configuration (§7.1.5).
    #[error("publish-options precondition not met")]
    PreconditionNotMet,
    /// `<feature-not-implemented/>` (cancel) + `<unsupported
    /// feature='…'/>` with the feature name given (e.g. `access-roster`,
    /// `persistent-items`).
    #[error("unsupported feature: {0}")]
    UnsupportedFeature(&'static str),
    /// `<not-allowed/>` (cancel) + `<invalid-options/>` (XEP-0248 §5.2):
    /// a cycle, a leaf given children, a collection turned into a leaf.
    #[error("invalid collection configuration: {0}")]
    InvalidCollection(&'static str),
    /// `<not-acceptable/>` (modify), no application condition. A node
    /// configuration form names an unknown field or holds a bad value;
    /// the text names the field.
    #[error("not acceptable: {0}")]
    NotAcceptable(String),
    /// `<not-acceptable/>` (modify), no application condition. The change
    /// would leave a node that has owners without any owner (§8.9).
    #[error("a node cannot lose its last owner")]
    LastOwner,
    /// `<bad-request/>` (modify), no application condition.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// `<internal-server-error/>` (wait). The store failed; nothing changed
    /// in memory.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for PubsubError {
    fn from(e: StoreError) -> Self {
        PubsubError::Internal(e.to_string())
    }
}

pub type PubsubResult<T> = Result<T, PubsubError>;
