//! `<pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>` IQs (XEP-0060
//! §8) into [`PubsubRequest`]s.

#![allow(clippy::result_large_err)] // see pubsub_request.rs

use super::pubsub_request::PubsubRequest;
use super::request_util::{
    NODE_CONFIG, children_named, node, opt_attr, opt_node, parse_jid, submitted_form, wrong_iq_type,
};
use super::{IqKind, IqRequest, errors};
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::stanza_error::StanzaError;

/// One `<subscription jid subscription [subid]/>` of §8.8.2. The state is
/// the attribute value as sent; the handler maps it to the core's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionEntry {
    pub jid: Jid,
    pub subscription: String,
    pub subid: Option<String>,
}

/// One `<affiliation jid affiliation/>` of §8.9.2; affiliations are held
/// by bare JIDs (§4.1), so a full JID is reduced to its bare part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AffiliationEntry {
    pub jid: BareJid,
    pub affiliation: String,
}

const SUBSCRIPTION_STATES: &[&str] = &["none", "pending", "unconfigured", "subscribed"];
const AFFILIATIONS: &[&str] = &[
    "owner",
    "publisher",
    "publish-only",
    "member",
    "none",
    "outcast",
];

type Parsed = Result<PubsubRequest, StanzaError>;

pub(super) fn parse_owner(req: &IqRequest) -> Parsed {
    let action = single_action(&req.payload)?;
    let get = req.kind == IqKind::Get;
    match (action.name(), get) {
        ("configure", true) => Ok(PubsubRequest::ConfigureGet {
            node: node(action)?,
        }),
        ("configure", false) => {
            let node = node(action)?;
            let form = submitted_form(action, NODE_CONFIG, true)?
                .ok_or_else(|| errors::bad_request("configure set needs a data form"))?;
            Ok(PubsubRequest::ConfigureSet { node, form })
        }
        ("default", true) => Ok(PubsubRequest::NodeDefault {
            node: opt_node(action)?,
            node_type: opt_attr(action, "type"),
        }),
        ("delete", false) => Ok(PubsubRequest::Delete {
            node: node(action)?,
            redirect: redirect(action)?,
        }),
        ("purge", false) => Ok(PubsubRequest::Purge {
            node: node(action)?,
        }),
        ("subscriptions", true) => Ok(PubsubRequest::OwnerSubscriptionsGet {
            node: node(action)?,
        }),
        ("subscriptions", false) => Ok(PubsubRequest::OwnerSubscriptionsSet {
            node: node(action)?,
            changes: subscription_entries(action)?,
        }),
        ("affiliations", true) => Ok(PubsubRequest::OwnerAffiliationsGet {
            node: node(action)?,
        }),
        ("affiliations", false) => Ok(PubsubRequest::OwnerAffiliationsSet {
            node: node(action)?,
            changes: affiliation_entries(action)?,
        }),
        (name, _) => Err(wrong_iq_type(name, req.kind)),
    }
}

const OWNER_ACTIONS: &[&str] = &[
    "configure",
    "default",
    "delete",
    "purge",
    "subscriptions",
    "affiliations",
];

/// The owner namespace has no companions: exactly one known child.
fn single_action(p: &Element) -> Result<&Element, StanzaError> {
    let mut children = p.children();
    let Some(action) = children.next() else {
        return Err(errors::bad_request("<pubsub/> contains no action"));
    };
    if children.next().is_some() {
        return Err(errors::bad_request(
            "<pubsub/> must contain exactly one action",
        ));
    }
    if action.ns() != p.ns() {
        return Err(errors::bad_request(&format!(
            "unexpected <{}/> in <pubsub/>",
            action.name()
        )));
    }
    if !OWNER_ACTIONS.contains(&action.name()) {
        return Err(errors::unsupported_action(action.name()));
    }
    Ok(action)
}

/// §8.4.1: an optional `<redirect uri='…'/>`.
fn redirect(delete: &Element) -> Result<Option<String>, StanzaError> {
    match children_named(delete, "redirect").next() {
        None => Ok(None),
        Some(r) => opt_attr(r, "uri")
            .map(Some)
            .ok_or_else(|| errors::bad_request("<redirect/> needs a 'uri'")),
    }
}

/// §8.8.2: entries without `subscription` change nothing and are dropped.
fn subscription_entries(el: &Element) -> Result<Vec<SubscriptionEntry>, StanzaError> {
    let mut out = Vec::new();
    for s in children_named(el, "subscription") {
        let jid = required_jid(s)?;
        let Some(state) = s.attr("subscription") else {
            continue;
        };
        if !SUBSCRIPTION_STATES.contains(&state) {
            return Err(errors::bad_request(&format!(
                "unknown subscription state '{state}'"
            )));
        }
        out.push(SubscriptionEntry {
            jid,
            subscription: state.to_owned(),
            subid: opt_attr(s, "subid"),
        });
    }
    Ok(out)
}

/// §8.9.2: entries without `affiliation` are dropped; one JID named twice
/// is a bad request (§8.9.2.4).
fn affiliation_entries(el: &Element) -> Result<Vec<AffiliationEntry>, StanzaError> {
    let mut out: Vec<AffiliationEntry> = Vec::new();
    for a in children_named(el, "affiliation") {
        let jid = required_jid(a)?.into_bare();
        let Some(affiliation) = a.attr("affiliation") else {
            continue;
        };
        if !AFFILIATIONS.contains(&affiliation) {
            return Err(errors::bad_request(&format!(
                "unknown affiliation '{affiliation}'"
            )));
        }
        if out.iter().any(|e| e.jid == jid) {
            return Err(errors::bad_request(&format!("{jid} is named twice")));
        }
        out.push(AffiliationEntry {
            jid,
            affiliation: affiliation.to_owned(),
        });
    }
    Ok(out)
}

fn required_jid(el: &Element) -> Result<Jid, StanzaError> {
    match el.attr("jid") {
        Some(v) => parse_jid(v),
        None => Err(errors::jid_required()),
    }
}
