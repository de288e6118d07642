//! Plain data types of the pubsub core: who acts, affiliations,
//! subscriptions, items and the values methods return.

use jid::{BareJid, Jid};
use std::sync::Arc;

use super::feed::Published;
use super::names::ItemId;
use super::notify::Notification;

/// Who performs a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// The platform itself (HTTP ingest): all-powerful, owner of every node.
    System,
    /// An XMPP entity, identified by its bare JID (the `from` of the stanza
    /// with the resource dropped).
    Entity(BareJid),
}

impl Actor {
    /// The entity's bare JID, `None` for [`Actor::System`].
    pub fn bare(&self) -> Option<&BareJid> {
        match self {
            Actor::System => None,
            Actor::Entity(jid) => Some(jid),
        }
    }
}

/// XEP-0060 §4.1 affiliations (wire names via [`Affiliation::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Affiliation {
    Owner,
    Publisher,
    PublishOnly,
    Member,
    None,
    Outcast,
}

impl Affiliation {
    /// The XEP-0060 attribute value: `owner`, `publisher`, `publish-only`,
    /// `member`, `none`, `outcast`.
    pub fn as_str(self) -> &'static str {
        match self {
            Affiliation::Owner => "owner",
            Affiliation::Publisher => "publisher",
            Affiliation::PublishOnly => "publish-only",
            Affiliation::Member => "member",
            Affiliation::None => "none",
            Affiliation::Outcast => "outcast",
        }
    }

    /// Parses an XEP-0060 affiliation attribute value.
    pub fn parse(value: &str) -> Option<Affiliation> {
        Some(match value {
            "owner" => Affiliation::Owner,
            "publisher" => Affiliation::Publisher,
            "publish-only" => Affiliation::PublishOnly,
            "member" => Affiliation::Member,
            "none" => Affiliation::None,
            "outcast" => Affiliation::Outcast,
            _ => return None,
        })
    }

    /// Owner, publisher or member: may read a whitelist/authorize node.
    pub fn is_member_or_above(self) -> bool {
        matches!(
            self,
            Affiliation::Owner | Affiliation::Publisher | Affiliation::Member
        )
    }

    /// Owner, publisher or publish-only: may publish under `publishers`.
    pub fn may_publish(self) -> bool {
        matches!(
            self,
            Affiliation::Owner | Affiliation::Publisher | Affiliation::PublishOnly
        )
    }
}

/// XEP-0060 subscription states (wire names via [`SubscriptionState::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionState {
    /// No subscription (used in replies and owner changes that remove one).
    None,
    /// Waiting for an owner's approval (access model `authorize`).
    Pending,
    /// Subscribed, must configure options first (never produced: Herald
    /// does not require subscription configuration).
    Unconfigured,
    Subscribed,
}

impl SubscriptionState {
    /// The XEP-0060 `subscription` attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionState::None => "none",
            SubscriptionState::Pending => "pending",
            SubscriptionState::Unconfigured => "unconfigured",
            SubscriptionState::Subscribed => "subscribed",
        }
    }

    pub fn parse(value: &str) -> Option<SubscriptionState> {
        Some(match value {
            "none" => SubscriptionState::None,
            "pending" => SubscriptionState::Pending,
            "unconfigured" => SubscriptionState::Unconfigured,
            "subscribed" => SubscriptionState::Subscribed,
            _ => return None,
        })
    }
}

/// One subscription of a JID (bare or full) to a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub node: String,
    /// The subscribed JID, exactly as requested (may carry a resource).
    pub jid: Jid,
    /// Unique per node; always present (XEP-0060 §6.1.6).
    pub subid: String,
    pub state: SubscriptionState,
    pub options: super::sub_options::SubscriptionOptions,
}

/// One published item as the core hands it out. Cloning is cheap: the
/// payload is shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: String,
    /// Per-node publication sequence (ordering only; not on the wire);
    /// 0 for items of nodes that do not persist items.
    pub seq: u64,
    /// `None` when published by [`Actor::System`].
    pub publisher: Option<BareJid>,
    /// Milliseconds since the Unix epoch (for XEP-0203 delay stamps).
    pub published_ms: u64,
    /// The serialized XML payload (one element), if any.
    pub payload: Option<Arc<str>>,
}

/// One item of a publish request (XEP-0060 §7.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewItem {
    /// `None` lets the service generate a unique ID.
    pub id: Option<ItemId>,
    /// The serialized XML payload (one element); size-checked by the core.
    pub payload: Option<String>,
}

/// A page of items, oldest first in publication order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ItemsPage {
    pub items: Vec<Item>,
    /// Items the node holds in total (XEP-0059 `<count/>`).
    pub total: u64,
    /// For a page of a collection (XEP-0248 §4.2), one per item: the leaf
    /// it is in and its collection archive ID (the RSM cursor). Empty for
    /// a leaf's page, whose cursors are the item IDs.
    pub via: Vec<ItemVia>,
}

/// Where an item of a collection's page comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemVia {
    pub leaf: String,
    pub archive_id: String,
}

/// Reply to a publish (XEP-0060 §7.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReply {
    /// The node published to (it may have just been auto-created).
    pub node: String,
    /// IDs of the published items in request order (generated ones included).
    pub item_ids: Vec<String>,
}

/// A node as listed by disco#items (XEP-0060 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSummary {
    pub node: String,
    /// `pubsub#title`, usable as the disco item `name`; empty if unset.
    pub title: String,
}

/// An owner's change to one subscription (XEP-0060 §8.8.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionChange {
    pub jid: Jid,
    /// `None` removes the JID's subscription(s); `Pending`/`Subscribed`
    /// set or create one; `Unconfigured` is refused.
    pub state: SubscriptionState,
    /// Selects one of several subscriptions of the JID.
    pub subid: Option<String>,
}

/// The result of a state-changing use case, complete (docs/architecture.md,
/// "One exit"): the reply data, every notification to send *after* the
/// batch has been flushed (consumer-group deliveries of the node
/// included), and the items it published (for metrics and bridges).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[must_use]
pub struct Outcome<T = ()> {
    pub reply: T,
    pub notifications: Vec<Notification>,
    /// Items this call stored or sent as new (one entry per node).
    pub published: Vec<Published>,
}

impl<T> Outcome<T> {
    /// A reply that notifies nobody.
    pub fn reply(reply: T) -> Self {
        Outcome::notify(reply, Vec::new())
    }

    /// A reply and its notifications; nothing published.
    pub fn notify(reply: T, notifications: Vec<Notification>) -> Self {
        Outcome {
            reply,
            notifications,
            published: Vec::new(),
        }
    }
}

/// Node meta-data for disco#info (XEP-0060 §5.4): render `fields` into a
/// `http://jabber.org/protocol/pubsub#meta-data` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeMetadata {
    /// XEP-0248: the disco identity is `pubsub/collection`, else `leaf`.
    pub is_collection: bool,
    pub fields: Vec<super::form::FormField>,
    /// Creation time in ms since the epoch (for `pubsub#creation_date`).
    pub created_ms: u64,
}

/// A XEP-0313 query of a node's history (XEP-0442), as the core sees it.
/// Cursors are archive IDs; each must still exist (else `ItemNotFound`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistoryQuery {
    /// Entries at or after this time (form field `start`).
    pub start_ms: Option<u64>,
    /// Entries at or before this time (form field `end`).
    pub end_ms: Option<u64>,
    /// Entries after each of these (form `after-id`, RSM `<after/>`).
    pub after: Vec<String>,
    /// Entries before each of these (form `before-id`, RSM `<before/>`).
    pub before: Vec<String>,
    /// Only these entries (form `ids`); other filters are then ignored.
    pub ids: Vec<String>,
    /// Page size (RSM `<max/>`), capped at the service's page size.
    pub max: Option<usize>,
    /// Page from the end (RSM `<before/>`, empty or not).
    pub from_end: bool,
}

/// What one history entry records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryEvent {
    Published(Item),
    /// The item with this ID was retracted.
    Retracted(String),
}

/// One history entry with its archive ID (XEP-0313 result `id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub archive_id: String,
    /// The leaf the event happened on, in a collection's history
    /// (XEP-0248); `None` for the queried node's own.
    pub leaf: Option<String>,
    /// When it happened (XEP-0203 delay of the forwarded message).
    pub at_ms: u64,
    pub event: HistoryEvent,
}

/// A page of history, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistoryPage {
    pub entries: Vec<HistoryEntry>,
    /// No more results in the query's direction (XEP-0313 `complete`).
    pub complete: bool,
    /// Entries in the node's history, for unfiltered queries (RSM count).
    pub total: Option<u64>,
}
