//! Small readers shared by the pubsub request parsers.

#![allow(clippy::result_large_err)] // see pubsub_request.rs

use super::forms::{self, FormKind, ReceivedForm};
use super::{IqKind, errors};
use crate::pubsub::names::{self, ItemId, NodeName};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::stanza_error::StanzaError;

/// FORM_TYPEs of the pubsub forms (XEP-0060 §16.4).
pub const NODE_CONFIG: &str = "http://jabber.org/protocol/pubsub#node_config";
pub const SUBSCRIBE_OPTIONS: &str = "http://jabber.org/protocol/pubsub#subscribe_options";
pub const PUBLISH_OPTIONS: &str = "http://jabber.org/protocol/pubsub#publish-options";

pub fn wrong_iq_type(action: &str, kind: IqKind) -> StanzaError {
    let kind = if kind == IqKind::Get { "get" } else { "set" };
    errors::bad_request(&format!("<{action}/> is not defined for type='{kind}'"))
}

/// The required `node` attribute; absent or empty is `nodeid-required`,
/// one breaking the core's name rule is `bad-request` naming it.
pub fn node(el: &Element) -> Result<NodeName, StanzaError> {
    opt_node(el)?.ok_or_else(errors::nodeid_required)
}

/// An optional `node` attribute (empty counts as absent), checked by the
/// core's name rule.
pub fn opt_node(el: &Element) -> Result<Option<NodeName>, StanzaError> {
    checked(opt_attr(el, "node"), NodeName::new)
}

/// An optional item `id` attribute (empty counts as absent), checked by
/// the core's name rule.
pub fn opt_item_id(el: &Element) -> Result<Option<ItemId>, StanzaError> {
    checked(opt_attr(el, "id"), ItemId::new)
}

/// The `id` of an `<item/>` that must have one: absent is `item-required`.
pub fn item_id(el: &Element) -> Result<ItemId, StanzaError> {
    opt_item_id(el)?.ok_or_else(errors::item_required)
}

fn checked<T>(
    value: Option<String>,
    rule: fn(String) -> Result<T, names::NameError>,
) -> Result<Option<T>, StanzaError> {
    match value {
        Some(v) => match rule(v) {
            Ok(name) => Ok(Some(name)),
            Err(e) => Err(errors::bad_request(&e.to_string())),
        },
        None => Ok(None),
    }
}

pub fn opt_attr(el: &Element, name: &str) -> Option<String> {
    el.attr(name).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// A `jid` attribute; unparsable is `bad-request` + `invalid-jid`.
pub fn parse_jid(value: &str) -> Result<Jid, StanzaError> {
    Jid::new(value).map_err(|_| errors::invalid_jid(&format!("'{value}' is not a valid JID")))
}

/// The form inside `parent`, which must be a `submit` of `form_type` (or
/// carry no FORM_TYPE); `allow_cancel` also accepts `type='cancel'`.
pub fn submitted_form(
    parent: &Element,
    form_type: &str,
    allow_cancel: bool,
) -> Result<Option<ReceivedForm>, StanzaError> {
    let Some(x) = forms::find_form(parent) else {
        return Ok(None);
    };
    let form = forms::parse_form(x).map_err(|e| errors::bad_request(&e.0))?;
    let kind_ok = form.kind == FormKind::Submit || (allow_cancel && form.kind == FormKind::Cancel);
    if !kind_ok {
        return Err(errors::bad_request(
            "the data form must be of type 'submit'",
        ));
    }
    match form.form_type.as_deref() {
        Some(t) if t != form_type && form.kind == FormKind::Submit => {
            Err(errors::bad_request(&format!("expected a {form_type} form")))
        }
        _ => Ok(Some(form)),
    }
}

pub fn children_named<'a>(
    el: &'a Element,
    name: &'a str,
) -> impl Iterator<Item = &'a Element> + 'a {
    let ns = el.ns();
    el.children()
        .filter(move |c| c.name() == name && c.ns() == ns)
}
