//! Items retrieval (§6.5, with XEP-0059 paging), publish (§7.1) and
//! retract (§7.2) requests.

#![allow(clippy::result_large_err)] // see pubsub_request.rs

use super::forms;
use super::pubsub_request::PubsubRequest;
use super::request_util::{
    PUBLISH_OPTIONS, children_named, item_id, node, opt_attr, opt_item_id, submitted_form,
};
use super::{errors, ns, xml};
use crate::pubsub::names::{ItemId, NodeName};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::stanza_error::StanzaError;

type Parsed = Result<PubsubRequest, StanzaError>;

/// §6.5 items retrieval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemsQuery {
    pub node: NodeName,
    /// The N most recent items (§6.5.7).
    pub max_items: Option<usize>,
    /// Specific items (§6.5.6, §6.5.8); empty = no filter.
    pub item_ids: Vec<ItemId>,
    pub subid: Option<String>,
    /// XEP-0059 `<set/>` inside `<pubsub/>`.
    pub rsm: Option<RsmQuery>,
}

/// An XEP-0059 request: `before: Some("")` asks for the last page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RsmQuery {
    pub max: Option<usize>,
    pub after: Option<String>,
    pub before: Option<String>,
    pub index: Option<usize>,
}

/// An item of a publish request.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishItem {
    pub id: Option<ItemId>,
    pub payload: Option<Element>,
}

pub(super) fn parse_items(
    items: &Element,
    set: Option<&Element>,
) -> Result<ItemsQuery, StanzaError> {
    let node = node(items)?;
    let max_items = match items.attr("max_items") {
        Some(v) => Some(positive(v, "max_items")?),
        None => None,
    };
    let mut item_ids = Vec::new();
    for item in children_named(items, "item") {
        match opt_item_id(item)? {
            Some(id) => item_ids.push(id),
            None => {
                return Err(errors::bad_request(
                    "<item/> in an items request needs an id",
                ));
            }
        }
    }
    let rsm = set.map(parse_rsm).transpose()?;
    Ok(ItemsQuery {
        node,
        max_items,
        item_ids,
        subid: opt_attr(items, "subid"),
        rsm,
    })
}

/// XEP-0059 §2: `<max/>`, `<after/>`, `<before/>` (empty = last page),
/// `<index/>`.
pub(super) fn parse_rsm(set: &Element) -> Result<RsmQuery, StanzaError> {
    let text = |name: &str| set.get_child(name, ns::RSM).map(Element::text);
    let number = |name: &str| -> Result<Option<usize>, StanzaError> {
        match text(name) {
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| errors::bad_request(&format!("RSM <{name}/> must be a number"))),
            None => Ok(None),
        }
    };
    let rsm = RsmQuery {
        max: number("max")?,
        after: text("after"),
        before: text("before"),
        index: number("index")?,
    };
    if rsm.after.is_some() && rsm.before.is_some() {
        return Err(errors::bad_request("RSM <after/> and <before/> together"));
    }
    if rsm.after.as_deref() == Some("") {
        return Err(errors::bad_request("RSM <after/> must not be empty"));
    }
    Ok(rsm)
}

fn positive(v: &str, what: &str) -> Result<usize, StanzaError> {
    match v.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(errors::bad_request(&format!(
            "{what} must be a positive integer"
        ))),
    }
}

pub(super) fn parse_publish(publish: &Element, options: Option<&Element>) -> Parsed {
    let node = node(publish)?;
    let mut items = Vec::new();
    for item in publish.children() {
        if !item.is("item", ns::PUBSUB) {
            return Err(errors::bad_request("<publish/> may contain only <item/>"));
        }
        items.push(publish_item(item)?);
    }
    let options = match options {
        Some(o) => submitted_form(o, PUBLISH_OPTIONS, false)?,
        None => None,
    };
    Ok(PubsubRequest::Publish {
        node,
        items,
        options,
    })
}

/// An `<item/>` holds at most one payload element and no other text
/// (§7.1.3.6 `invalid-payload`).
fn publish_item(item: &Element) -> Result<PublishItem, StanzaError> {
    if item.attr("id") == Some("") {
        return Err(errors::bad_request("item id must not be empty"));
    }
    let id = opt_item_id(item)?;
    let mut children = item.children();
    let payload = children.next();
    let stray_text = item.texts().any(|t| !t.trim().is_empty());
    if children.next().is_some() || stray_text {
        return Err(errors::invalid_payload(
            "an item must contain exactly one payload element",
        ));
    }
    if let Some(p) = payload {
        // Before the payload is cloned, serialized or stored (all recursive).
        xml::check_element(p, &xml::payload_limits())
            .map_err(|e| errors::invalid_payload(&e.to_string()))?;
    }
    Ok(PublishItem {
        id,
        payload: payload.cloned(),
    })
}

/// §7.2.1: one `<item id=…/>`; the XEP dropped batch retraction.
pub(super) fn parse_retract(retract: &Element) -> Parsed {
    let node = node(retract)?;
    let notify = match retract.attr("notify") {
        None => None,
        Some(v) => Some(
            forms::parse_bool(v)
                .ok_or_else(|| errors::bad_request("notify must be true, false, 1 or 0"))?,
        ),
    };
    let mut items = children_named(retract, "item");
    let Some(id) = items.next().map(item_id).transpose()? else {
        return Err(errors::item_required());
    };
    if items.next().is_some() {
        return Err(errors::bad_request("<retract/> takes exactly one <item/>"));
    }
    Ok(PubsubRequest::Retract { node, id, notify })
}
