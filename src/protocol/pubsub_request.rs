//! `<pubsub xmlns='http://jabber.org/protocol/pubsub'>` IQs into typed
//! requests, one variant per XEP-0060 use case. Parsed with minidom, since
//! xmpp-parsers rejects requests real clients send (see docs/architecture.md,
//! "Why some XML is parsed by hand").
//! Owner-namespace requests are read in `pubsub_owner_request.rs`.
//!
//! Every malformed request becomes the stanza error XEP-0060 names.

// `StanzaError` is large, but it is built at most once per request and
// becomes the reply as is; boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use super::forms::ReceivedForm;
use super::pubsub_item_request::{parse_items, parse_publish, parse_retract};
use super::pubsub_owner_request::parse_owner;
use super::request_util::{
    NODE_CONFIG, SUBSCRIBE_OPTIONS, node, opt_attr, opt_node, parse_jid, submitted_form,
    wrong_iq_type,
};
use super::{IqKind, IqRequest, errors, ns};
use crate::pubsub::names::{ItemId, NodeName};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::stanza_error::StanzaError;

pub use super::pubsub_item_request::{ItemsQuery, PublishItem, RsmQuery};
pub use super::pubsub_owner_request::{AffiliationEntry, SubscriptionEntry};
pub use super::request_util::PUBLISH_OPTIONS;

/// One XEP-0060 request. Section numbers are XEP-0060's.
#[derive(Debug, Clone, PartialEq)]
pub enum PubsubRequest {
    /// §6.1 (with §6.3.7 options when `options` is set).
    Subscribe {
        node: NodeName,
        jid: Jid,
        options: Option<ReceivedForm>,
    },
    /// §6.2.
    Unsubscribe {
        node: NodeName,
        jid: Jid,
        subid: Option<String>,
    },
    /// §6.3.2 (get) and §6.3.5 (set, `form` present).
    Options {
        node: NodeName,
        jid: Jid,
        subid: Option<String>,
        form: Option<ReceivedForm>,
    },
    /// §6.4: default subscription options, of a node or the service.
    SubscribeDefault { node: Option<NodeName> },
    /// §5.6: the requester's subscriptions, optionally at one node.
    Subscriptions { node: Option<NodeName> },
    /// §5.7: the requester's affiliations, optionally at one node.
    Affiliations { node: Option<NodeName> },
    /// §6.5 (with XEP-0059 paging).
    Items(ItemsQuery),
    /// §7.1 (with §7.1.5 publish-options).
    Publish {
        node: NodeName,
        items: Vec<PublishItem>,
        options: Option<ReceivedForm>,
    },
    /// §7.2.
    /// `notify`: the `notify` attribute; `None` follows the node's
    /// `pubsub#notify_retract`.
    Retract {
        node: NodeName,
        id: ItemId,
        notify: Option<bool>,
    },
    /// §8.1: `node: None` asks for an instant node; `config` is the
    /// create-and-configure form (§8.1.3).
    Create {
        node: Option<NodeName>,
        config: Option<ReceivedForm>,
    },
    /// §8.2.1 (get).
    ConfigureGet { node: NodeName },
    /// §8.2.4 (set): a `submit` or a `cancel` form.
    ConfigureSet { node: NodeName, form: ReceivedForm },
    /// §8.3: default node configuration (`node`/`type` kept for XEP-0248
    /// callers; Herald has leaf nodes only).
    NodeDefault {
        node: Option<NodeName>,
        node_type: Option<String>,
    },
    /// §8.4.
    Delete {
        node: NodeName,
        redirect: Option<String>,
    },
    /// §8.5.
    Purge { node: NodeName },
    /// §8.8.1.
    OwnerSubscriptionsGet { node: NodeName },
    /// §8.8.2: only entries that carry a `subscription` attribute.
    OwnerSubscriptionsSet {
        node: NodeName,
        changes: Vec<SubscriptionEntry>,
    },
    /// §8.9.1.
    OwnerAffiliationsGet { node: NodeName },
    /// §8.9.2: only entries that carry an `affiliation` attribute.
    OwnerAffiliationsSet {
        node: NodeName,
        changes: Vec<AffiliationEntry>,
    },
}

type Parsed = Result<PubsubRequest, StanzaError>;

/// Parses a `<pubsub/>` IQ; `None` when the payload is not pubsub at all.
pub fn parse(req: &IqRequest) -> Option<Parsed> {
    let p = &req.payload;
    if p.is("pubsub", ns::PUBSUB) {
        Some(parse_entity(req))
    } else if p.is("pubsub", ns::PUBSUB_OWNER) {
        Some(parse_owner(req))
    } else {
        None
    }
}

/// The actions of the pubsub namespace, and the elements allowed to
/// accompany them (§6.3.7, §7.1.5, §8.1.3, XEP-0059).
const ACTIONS: &[&str] = &[
    "subscribe",
    "unsubscribe",
    "options",
    "subscriptions",
    "affiliations",
    "items",
    "publish",
    "retract",
    "create",
    "default",
];

/// Elements valid only next to an action.
const COMPANIONS: &[&str] = &["configure", "publish-options"];

/// Splits `<pubsub/>` into its one action and an optional companion:
/// `subscribe`+`options`, `create`+`configure`, `publish`+`publish-options`,
/// `items`+RSM `<set/>`. Anything else is a bad request.
fn action_and_companion<'a>(
    p: &'a Element,
    actions: &[&str],
    companion_of: fn(&str) -> Option<&'static str>,
) -> Result<(&'a Element, Option<&'a Element>), StanzaError> {
    let mut action: Option<&Element> = None;
    let mut companion: Option<&Element> = None;
    for child in p.children() {
        let is_rsm = child.is("set", ns::RSM);
        let in_ns = child.ns() == p.ns();
        let expected = action.and_then(|a| companion_of(a.name()));
        if action.is_some() && companion.is_none() && (is_rsm || in_ns) {
            let name = if is_rsm { "set" } else { child.name() };
            if expected == Some(name) {
                companion = Some(child);
                continue;
            }
        }
        if is_rsm || !in_ns {
            return Err(errors::bad_request(&format!(
                "unexpected <{}/> in <pubsub/>",
                child.name()
            )));
        }
        if COMPANIONS.contains(&child.name()) {
            return Err(errors::bad_request(&format!(
                "<{}/> is not valid here",
                child.name()
            )));
        }
        if !actions.contains(&child.name()) {
            return Err(errors::unsupported_action(child.name()));
        }
        if action.is_some() {
            return Err(errors::bad_request(
                "<pubsub/> must contain exactly one action",
            ));
        }
        action = Some(child);
    }
    match action {
        Some(a) => Ok((a, companion)),
        None => Err(errors::bad_request("<pubsub/> contains no action")),
    }
}

fn entity_companion(action: &str) -> Option<&'static str> {
    match action {
        "subscribe" => Some("options"),
        "create" => Some("configure"),
        "publish" => Some("publish-options"),
        "items" => Some("set"),
        _ => None,
    }
}

fn parse_entity(req: &IqRequest) -> Parsed {
    let (action, companion) = action_and_companion(&req.payload, ACTIONS, entity_companion)?;
    let get = req.kind == IqKind::Get;
    match (action.name(), get) {
        ("subscriptions", true) => Ok(PubsubRequest::Subscriptions {
            node: opt_node(action)?,
        }),
        ("affiliations", true) => Ok(PubsubRequest::Affiliations {
            node: opt_node(action)?,
        }),
        ("items", true) => parse_items(action, companion).map(PubsubRequest::Items),
        ("default", true) => Ok(PubsubRequest::SubscribeDefault {
            node: opt_node(action)?,
        }),
        ("options", _) => parse_options(action, get),
        ("subscribe", false) => parse_subscribe(req, action, companion),
        ("unsubscribe", false) => Ok(PubsubRequest::Unsubscribe {
            node: node(action)?,
            jid: jid_or_sender(req, action)?,
            subid: opt_attr(action, "subid"),
        }),
        ("publish", false) => parse_publish(action, companion),
        ("retract", false) => parse_retract(action),
        ("create", false) => parse_create(action, companion),
        (name, _) => Err(wrong_iq_type(name, req.kind)),
    }
}

/// The `jid` attribute, or the sender's bare JID when absent (the
/// XEP-0060 §16.6 URI actions produce `<subscribe/>` without one).
fn jid_or_sender(req: &IqRequest, el: &Element) -> Result<Jid, StanzaError> {
    match el.attr("jid") {
        Some(v) => parse_jid(v),
        None => Ok(Jid::from(req.from.to_bare())),
    }
}

fn parse_subscribe(req: &IqRequest, sub: &Element, options: Option<&Element>) -> Parsed {
    let node = node(sub)?;
    // §6.1.3.1 (bare JID must be the requester's) is checked by the core,
    // which lets node owners subscribe other entities.
    let jid = jid_or_sender(req, sub)?;
    let options = match options {
        Some(o) if o.attr("node").is_some() || o.attr("jid").is_some() => {
            // §6.3.7: <options/> after <subscribe/> carries no node or jid.
            return Err(errors::bad_request(
                "<options/> following <subscribe/> must not have 'node' or 'jid'",
            ));
        }
        Some(o) => submitted_form(o, SUBSCRIBE_OPTIONS, false)?,
        None => None,
    };
    Ok(PubsubRequest::Subscribe { node, jid, options })
}

fn parse_options(el: &Element, get: bool) -> Parsed {
    let node = node(el)?;
    let Some(jid) = el.attr("jid") else {
        return Err(errors::jid_required());
    };
    let jid = parse_jid(jid)?;
    let subid = opt_attr(el, "subid");
    let form = if get {
        None
    } else {
        let form = submitted_form(el, SUBSCRIBE_OPTIONS, false)?;
        Some(form.ok_or_else(|| errors::bad_request("options set needs a data form"))?)
    };
    Ok(PubsubRequest::Options {
        node,
        jid,
        subid,
        form,
    })
}

fn parse_create(create: &Element, configure: Option<&Element>) -> Parsed {
    let config = match configure {
        Some(c) if c.attr("node").is_some() => {
            // §8.1.3: <configure/> after <create/> carries no node.
            return Err(errors::bad_request(
                "<configure/> following <create/> must not have a 'node'",
            ));
        }
        Some(c) => submitted_form(c, NODE_CONFIG, false)?,
        None => None,
    };
    Ok(PubsubRequest::Create {
        node: opt_node(create)?,
        config,
    })
}

#[cfg(test)]
#[path = "pubsub_request_tests.rs"]
mod tests;
