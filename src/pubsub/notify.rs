//! Notifications the core asks protocol to send, as values. One
//! [`Notification`] carries one event and the list of its recipients, so a
//! payload is never copied per subscriber (it is an `Arc<str>` in [`Item`]).

use jid::{BareJid, Jid};
use std::collections::HashMap;

use super::form::FormField;
use super::node::{NodeMeta, NodeSub};
use super::node_config::{NodeConfig, NotificationType};
use super::types::{Affiliation, Item, SubscriptionState};

/// One event to send to several recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub node: String,
    /// The message `type` (node's `pubsub#notification_type`). For
    /// [`Event::ApprovalRequest`] the core always sets `Normal`.
    pub message_type: NotificationType,
    pub event: Event,
    pub recipients: Vec<Recipient>,
    /// The history (XEP-0313) archive ID of the event, for items and
    /// retractions of archiving nodes: rendered as a XEP-0359 stanza-id
    /// so a client can resume from the archive. For several items, the
    /// last one's.
    pub archive_id: Option<String>,
    /// With several items of an archiving node: each item's archive ID,
    /// in order, so a notification split to fit the stanza limit stamps
    /// each part with its own last item's (empty otherwise).
    pub item_archive_ids: Vec<String>,
    /// Delivered through this collection (XEP-0248 §3.3.1): protocol adds
    /// a SHIM `Collection` header naming it; `node` stays the leaf's.
    pub collection: Option<String>,
}

/// Who gets a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The subscribed JID (full or bare, as subscribed), or an owner's or
    /// affected entity's bare JID.
    pub jid: Jid,
    /// SHIM `SubID` headers (XEP-0060 §12.17): non-empty only when this JID
    /// holds several subscriptions to the node; then it lists those that
    /// caused this delivery.
    pub subids: Vec<String>,
}

/// What happened (rendered by protocol as `pubsub#event` payloads, or as
/// the §8.6 approval form for [`Event::ApprovalRequest`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Items published (§7.1.2.1), oldest first. Render payloads only if
    /// `include_payload` (node's `pubsub#deliver_payloads`), else item IDs
    /// only. `last_published` marks the last-item delivery on subscribe
    /// (§6.1.7): protocol should add a XEP-0203 delay from `published_ms`.
    Items {
        items: Vec<Item>,
        include_payload: bool,
        last_published: bool,
    },
    /// Items retracted (§7.2.2.1): `<retract id=…/>` each.
    Retract { item_ids: Vec<String> },
    /// Queue items taken back from a consumer-group member (XEP-0254 §2.4:
    /// unlocked, timed out): `<unlock xmlns='urn:xmpp:pubsub:queueing:0'
    /// id=…/>` each, inside `<items/>`.
    Unlock { item_ids: Vec<String> },
    /// All items purged (§8.5.2): `<purge/>`.
    Purge,
    /// Node deleted (§8.4.2), with an optional `<redirect uri=…/>`.
    Delete { redirect: Option<String> },
    /// Configuration changed (§8.2.5.1): `<configuration/>`, with the form
    /// when `fields` is `Some` (node delivers payloads).
    Configuration { fields: Option<Vec<FormField>> },
    /// A subscription changed state (§8.6 approval, §8.8.4 owner change):
    /// sent to the subscriber, rendered as `<subscription/>`.
    Subscription {
        jid: Jid,
        subid: String,
        state: SubscriptionState,
    },
    /// An affiliation changed (§8.9.4): sent to the affected entity.
    Affiliation {
        jid: BareJid,
        affiliation: Affiliation,
    },
    /// A subscription awaits approval (§8.6.1): sent to the node owners as
    /// a `pubsub#subscribe_authorization` form message.
    ApprovalRequest { jid: Jid, subid: String },
    /// A node was associated with the collection `node` (XEP-0248
    /// §3.3.2): `<collection node=…><associate node=child/></collection>`.
    Associate { child: String },
    /// A node was dissociated from the collection `node` (§3.3.2).
    Dissociate { child: String },
}

/// Recipients of a node event: every subscription in state `subscribed`
/// with `pubsub#deliver` on and `herald#chat` off, one [`Recipient`] per JID, with SubIDs when the
/// JID holds several subscriptions to the node.
pub(crate) fn subscriber_recipients(subs: &[NodeSub]) -> Vec<Recipient> {
    let mut totals: HashMap<&Jid, usize> = HashMap::new();
    for s in subs {
        *totals.entry(&s.jid).or_default() += 1;
    }
    let mut out: Vec<Recipient> = Vec::new();
    let mut index: HashMap<&Jid, usize> = HashMap::new();
    let deliverable = subs.iter().filter(|s| s.gets_events());
    for s in deliverable {
        let i = *index.entry(&s.jid).or_insert_with(|| {
            out.push(Recipient::plain(s.jid.clone()));
            out.len() - 1
        });
        if totals.get(&s.jid).copied().unwrap_or(0) > 1 {
            out[i].subids.push(s.subid.clone());
        }
    }
    out
}

impl Recipient {
    /// A recipient without SHIM headers.
    pub fn plain(jid: Jid) -> Self {
        Recipient {
            jid,
            subids: Vec::new(),
        }
    }
}

/// A notification of `event` on node `name`, or `None` if nobody gets it.
pub(crate) fn to_recipients(
    name: &str,
    config: &NodeConfig,
    event: Event,
    recipients: Vec<Recipient>,
) -> Option<Notification> {
    if recipients.is_empty() {
        return None;
    }
    let mut note = template(name, config, event);
    note.recipients = recipients;
    Some(note)
}

/// A notification of `event` on node `name` without recipients yet: the
/// shape shared by a leaf's own subscribers and its collections'.
pub(crate) fn template(name: &str, config: &NodeConfig, event: Event) -> Notification {
    Notification {
        node: name.to_owned(),
        message_type: config.notification_type,
        event,
        recipients: Vec::new(),
        archive_id: None,
        item_archive_ids: Vec::new(),
        collection: None,
    }
}

/// [`to_subscribers`] for a prepared template (archive IDs already set),
/// taken by value: the payload is not copied for the node's own
/// subscribers.
pub(crate) fn to_subscribers_from(
    meta: &NodeMeta,
    mut template: Notification,
) -> Option<Notification> {
    if !meta.config.deliver_notifications {
        return None;
    }
    let recipients = subscriber_recipients(&meta.subscriptions);
    if recipients.is_empty() {
        return None;
    }
    template.recipients = recipients;
    Some(template)
}

/// A notification of `event` to the node's deliverable subscribers, if the
/// node delivers notifications at all and anyone is subscribed.
pub(crate) fn to_subscribers(name: &str, meta: &NodeMeta, event: Event) -> Option<Notification> {
    if !meta.config.deliver_notifications {
        return None;
    }
    let recipients = subscriber_recipients(&meta.subscriptions);
    to_recipients(name, &meta.config, event, recipients)
}
