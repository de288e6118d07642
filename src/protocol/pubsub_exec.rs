//! One typed request, one core use case: calls the [`Service`] method and
//! renders its reply (`pubsub_replies`); notifications are returned as
//! core values for `notify` to render.

// `StanzaError` is large, but built at most once per request and sent as
// is; boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use super::errors;
use super::forms::{FormKind, ReceivedForm};
use super::pubsub_forms::values;
use super::pubsub_handler::ProtocolCtx;
use super::pubsub_replies as reply;
use super::pubsub_request::{
    AffiliationEntry, ItemsQuery, PublishItem, PubsubRequest, RsmQuery, SubscriptionEntry,
};
use super::stanza_size::Keep;
use crate::pubsub::{
    Actor, Affiliation, BareJid, ItemId, ItemsPage, Jid, NewItem, NodeName, NodeType, Outcome,
    PubsubError, Service, SubscriptionChange, SubscriptionState,
};
use crate::store::Store;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

/// The reply payload and the notifications to send. Core errors become
/// stanza errors through `pubsub_errors::to_stanza_error` (its `From`).
pub type Done = Result<Outcome<Option<Element>>, StanzaError>;

fn read_only(el: Element) -> Done {
    Ok(Outcome::reply(Some(el)))
}

/// The core's outcome with `el` as the reply payload.
fn replied<T>(el: Option<Element>, o: Outcome<T>) -> Done {
    Ok(Outcome {
        reply: el,
        notifications: o.notifications,
        published: o.published,
    })
}

fn notes<T>(o: Outcome<T>) -> Done {
    replied(None, o)
}

/// `reply_budget`: the bytes the reply's items may take (the stanza limit
/// less the reply's envelope).
pub fn execute<S: Store>(
    s: &mut Service<S>,
    ctx: &ProtocolCtx,
    from: &Jid,
    r: PubsubRequest,
    reply_budget: usize,
) -> Done {
    use PubsubRequest as R;
    let a = &Actor::Entity(from.to_bare());
    match r {
        R::Subscriptions { node } => {
            let subs = s.subscriptions(a, node.as_ref())?;
            read_only(reply::subscriptions(node.as_deref(), &subs))
        }
        R::Affiliations { node } => {
            let affs = s.affiliations(a, node.as_ref())?;
            read_only(reply::affiliations(node.as_deref(), &affs))
        }
        R::Subscribe { node, jid, options } => subscribe(s, a, &node, &jid, options),
        R::Unsubscribe { node, jid, subid } => {
            notes(s.unsubscribe(a, &node, &jid, subid.as_deref())?)
        }
        R::Options {
            node,
            jid,
            subid,
            form,
        } => options(s, a, &node, &jid, subid.as_deref(), form),
        R::SubscribeDefault { node } => subscribe_default(s, a, node.as_ref()),
        R::Items(q) => items(s, a, q, reply_budget),
        R::Publish {
            node,
            items,
            options,
        } => publish(s, ctx, a, &node, items, options),
        R::Retract { node, id, notify } => {
            let o = s.retract_as(from, &node, &id, notify);
            notes(o.map_err(|e| super::queue::to_stanza_error(&e))?)
        }
        R::Create { node, config } => {
            let fields = config.as_ref().map(values);
            let o = s.create_node(a, node.as_ref(), fields.as_deref())?;
            replied(Some(reply::created(&o.reply)), o)
        }
        R::ConfigureGet { node } => {
            let fields = s.node_config(a, &node)?;
            read_only(reply::node_config("configure", Some(&node), &fields))
        }
        R::ConfigureSet { node, form } => configure(s, a, &node, form),
        R::NodeDefault { node_type, .. } => {
            // XEP-0248 §5.1: `<default type='collection'/>` asks for a
            // collection's defaults; leaf is the default type.
            let node_type = match node_type.as_deref() {
                None | Some("leaf") => NodeType::Leaf,
                Some("collection") => NodeType::Collection,
                Some(other) => {
                    return Err(PubsubError::BadRequest(format!("node type '{other}'")).into());
                }
            };
            let fields = s.default_config_of(node_type);
            read_only(reply::node_config("default", None, &fields))
        }
        R::Delete { node, redirect } => notes(s.delete_node(a, &node, redirect.as_deref())?),
        R::Purge { node } => notes(s.purge(a, &node)?),
        R::OwnerSubscriptionsGet { node } => {
            let subs = s.node_subscriptions(a, &node)?;
            read_only(reply::owner_subscriptions(&node, &subs))
        }
        R::OwnerSubscriptionsSet { node, changes } => {
            notes(s.modify_subscriptions(a, &node, &sub_changes(changes)?)?)
        }
        R::OwnerAffiliationsGet { node } => {
            let affs = s.node_affiliations(a, &node)?;
            read_only(reply::owner_affiliations(&node, &affs))
        }
        R::OwnerAffiliationsSet { node, changes } => {
            notes(s.modify_affiliations(a, &node, &aff_changes(changes)?)?)
        }
    }
}

/// §6.1, with §6.3.7 options echoed back as a result form (Example 72).
fn subscribe<S: Store>(
    s: &mut Service<S>,
    a: &Actor,
    node: &NodeName,
    jid: &Jid,
    options: Option<ReceivedForm>,
) -> Done {
    let fields = options.as_ref().map(values);
    let o = s.subscribe(a, node, jid, fields.as_deref())?;
    let el = reply::subscribed(&o.reply, options.is_some());
    replied(Some(el), o)
}

/// §6.3.2 (no form: return the options form) and §6.3.5 (submit).
fn options<S: Store>(
    s: &mut Service<S>,
    a: &Actor,
    node: &NodeName,
    jid: &Jid,
    subid: Option<&str>,
    form: Option<ReceivedForm>,
) -> Done {
    if let Some(form) = form {
        let o = s.set_subscription_options(a, node, jid, subid, &values(&form));
        return notes(o.map_err(options_error)?);
    }
    let fields = s
        .subscription_options(a, node, jid, subid)
        .map_err(options_error)?
        .to_fields();
    let j = jid.to_string();
    let el = reply::options_form(
        "options",
        Some(node),
        Some(&j),
        subid,
        FormKind::Form,
        &fields,
    );
    read_only(el)
}

/// §6.3.4.2 Example 65: "no such subscriber" is of type `modify` for
/// subscription options, while unsubscribe (§6.2.3.2 Example 55) uses
/// `cancel`, which is the shared mapping's choice.
fn options_error(e: PubsubError) -> StanzaError {
    let not_subscribed = matches!(e, PubsubError::NotSubscribed);
    let mut error = StanzaError::from(e);
    if not_subscribed {
        error.type_ = ErrorType::Modify;
    }
    error
}

/// §6.4: the service's default subscription options (a named node must
/// exist).
fn subscribe_default<S: Store>(s: &Service<S>, a: &Actor, node: Option<&NodeName>) -> Done {
    if let Some(n) = node {
        s.node_metadata(a, n)?;
    }
    let fields = s.default_subscription_options().to_fields();
    read_only(reply::options_form(
        "default",
        node.map(NodeName::as_str),
        None,
        None,
        FormKind::Result,
        &fields,
    ))
}

/// §7.1: payloads serialized once and size-checked, then the core call.
fn publish<S: Store>(
    s: &mut Service<S>,
    ctx: &ProtocolCtx,
    a: &Actor,
    node: &NodeName,
    items: Vec<PublishItem>,
    options: Option<ReceivedForm>,
) -> Done {
    let items = items
        .into_iter()
        .map(|i| new_item(ctx, i))
        .collect::<Result<Vec<_>, _>>()?;
    let options = options.as_ref().map(values);
    let o = s.publish(a, node, items, options.as_deref())?;
    let el = reply::published(&o.reply.node, &o.reply.item_ids);
    replied(Some(el), o)
}

fn new_item(ctx: &ProtocolCtx, item: PublishItem) -> Result<NewItem, PubsubError> {
    let payload = item.payload.as_ref().map(serialize).transpose()?;
    if payload
        .as_ref()
        .is_some_and(|p| p.len() > ctx.max_payload_bytes)
    {
        return Err(PubsubError::PayloadTooBig);
    }
    Ok(NewItem {
        id: item.id,
        payload,
    })
}

/// The payload as XML text (minidom's `String::from` would panic on a
/// serialization error; a payload that cannot be written is invalid).
fn serialize(el: &Element) -> Result<String, PubsubError> {
    let mut buf = Vec::new();
    el.write_to(&mut buf)
        .map_err(|_| PubsubError::InvalidPayload)?;
    String::from_utf8(buf).map_err(|_| PubsubError::InvalidPayload)
}

/// §8.2.4; a `cancel` form keeps the configuration but still needs rights.
fn configure<S: Store>(s: &mut Service<S>, a: &Actor, node: &NodeName, form: ReceivedForm) -> Done {
    if form.kind == FormKind::Cancel {
        s.node_config(a, node)?;
        return Ok(Outcome::reply(None));
    }
    notes(s.configure(a, node, &values(&form))?)
}

fn sub_changes(changes: Vec<SubscriptionEntry>) -> Result<Vec<SubscriptionChange>, PubsubError> {
    let change = |c: SubscriptionEntry| {
        let state = SubscriptionState::parse(&c.subscription)
            .ok_or_else(|| PubsubError::BadRequest(format!("subscription '{}'", c.subscription)))?;
        Ok(SubscriptionChange {
            jid: c.jid,
            state,
            subid: c.subid,
        })
    };
    changes.into_iter().map(change).collect()
}

fn aff_changes(changes: Vec<AffiliationEntry>) -> Result<Vec<(BareJid, Affiliation)>, PubsubError> {
    let change = |c: AffiliationEntry| {
        let aff = Affiliation::parse(&c.affiliation)
            .ok_or_else(|| PubsubError::BadRequest(format!("affiliation '{}'", c.affiliation)))?;
        Ok((c.jid, aff))
    };
    changes.into_iter().map(change).collect()
}

/// §6.5: by ID, newest N, or an XEP-0059 page around an item ID; the
/// reply cut to `budget` bytes of items (§6.5.4, `pubsub_replies::items`).
fn items<S: Store>(s: &Service<S>, a: &Actor, q: ItemsQuery, budget: usize) -> Done {
    let node = &q.node;
    if !q.item_ids.is_empty() {
        let page = s.items_by_id(a, node, &q.item_ids)?;
        let fit = reply::Fit {
            budget,
            keep: Keep::Oldest,
        };
        return read_only(reply::items(node, &page, false, fit));
    }
    let (page, keep) = select_page(s, a, node, q.max_items, q.rsm.as_ref())?;
    let fit = reply::Fit { budget, keep };
    read_only(reply::items(node, &page, q.rsm.is_some(), fit))
}

/// The page a `max_items` or RSM request names, and which end of it to
/// keep if it must be cut: the end the client pages on from. An empty
/// `<before/>` gives the newest page; `<max/>` alone and
/// `<index>0</index>` the oldest (XEP-0059 §2.1). `max_items` means the
/// newest N (XEP-0060 §6.5.7) even with a `<set/>` that names no cursor:
/// the `<set/>` then only caps the page (`<max/>`) and asks for the
/// `<first/>`/`<last/>`/`<count/>` reply (`xep-notes/xep-0059.md`).
/// Other indexes are not supported: finding the Nth item needs a scan,
/// since replaced and retracted items leave gaps in the seqs.
pub(super) fn select_page<S: Store>(
    s: &Service<S>,
    a: &Actor,
    node: &NodeName,
    max_items: Option<usize>,
    rsm: Option<&RsmQuery>,
) -> Result<(ItemsPage, Keep), StanzaError> {
    let Some(rsm) = rsm else {
        return Ok((s.items(a, node, max_items)?, Keep::Newest));
    };
    let cap = s.settings().max_page_size;
    // Both given: the smaller wins (neither asked for more).
    let max = match (rsm.max, max_items) {
        (Some(m), Some(n)) => m.min(n),
        (m, n) => m.or(n).unwrap_or(cap),
    }
    .min(cap);
    let plain = rsm.after.is_none() && rsm.before.is_none();
    if plain && rsm.index.is_none() && max_items.is_some() {
        return Ok((s.items(a, node, Some(max))?, Keep::Newest));
    }
    if rsm.index == Some(0) && plain {
        return Ok((s.items_first(a, node, max)?, Keep::Oldest));
    }
    if rsm.index.is_some() {
        return Err(errors::stanza_error(
            ErrorType::Cancel,
            DefinedCondition::FeatureNotImplemented,
            "RSM <index/> other than 0 is not supported; page with <after/> or <before/>",
        ));
    }
    Ok(match (rsm.after.as_deref(), rsm.before.as_deref()) {
        (Some(after), _) => (s.items_after(a, node, &cursor(after)?, max)?, Keep::Oldest),
        (None, Some(before)) if !before.is_empty() => (
            s.items_before(a, node, &cursor(before)?, max)?,
            Keep::Newest,
        ),
        // `<before/>` empty: the last page (XEP-0059 §2.5).
        (None, Some(_)) => (s.items(a, node, Some(max))?, Keep::Newest),
        // No cursor: the first page (XEP-0059 §2.1), so that paging on
        // with `<after/>` its last item visits every item.
        (None, None) => (s.items_first(a, node, max)?, Keep::Oldest),
    })
}

/// An RSM cursor as an item ID: one the name rule refuses cannot name a
/// stored item, so it is the vanished cursor (`item-not-found`) it always was.
fn cursor(id: &str) -> Result<ItemId, StanzaError> {
    ItemId::new(id).map_err(|_| PubsubError::ItemNotFound.into())
}
