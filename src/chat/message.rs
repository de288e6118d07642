//! Messages carrying a readable body and, alongside, the item itself in
//! Herald's `urn:herald:item:0` wrapper (node, item ID, publisher and the
//! original payload), so bots can parse what people read.

use crate::protocol::message_id;
use crate::protocol::notify::stored_payload;
use crate::protocol::xml::BuilderExt;
use crate::pubsub::Item;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::message::{Id, Lang, Message, MessageType};

/// Namespace of the item wrapper sent next to readable bodies.
pub const ITEM_NS: &str = "urn:herald:item:0";

/// `<item xmlns='urn:herald:item:0' node=… id=… [publisher=…]>payload</item>`.
pub fn item_element(node: &str, item: &Item) -> Element {
    item_element_via(node, item, None)
}

/// The wrapper of an item delivered through a collection: `node` is the
/// leaf it was published to, `collection` the one that brought it
/// (XEP-0248; the attribute is left out for a direct subscription).
pub fn item_element_via(node: &str, item: &Item, collection: Option<&str>) -> Element {
    let mut b = Element::builder("item", ITEM_NS)
        .a("node", node)
        .a("id", item.id.as_str());
    if let Some(c) = collection {
        b = b.a("collection", c);
    }
    if let Some(p) = &item.publisher {
        b = b.a("publisher", p.as_str());
    }
    if let Some(el) = (item.payload.as_deref()).and_then(|xml| stored_payload(&item.id, xml)) {
        b = b.append(el);
    }
    b.build()
}

/// A message of `type_` with `body`, optional extra payloads and a fresh
/// `id` (RFC 6120 §8.1.3; clients use it for receipts and corrections).
pub fn text_message(
    from: &Jid,
    to: Jid,
    type_: MessageType,
    body: &str,
    extra: Vec<Element>,
) -> Message {
    let mut m = Message::new_with_type(type_, Some(to));
    m.from = Some(from.clone());
    m.id = Some(Id(message_id::next()));
    m.bodies.insert(Lang::from(""), body.to_owned());
    m.payloads = extra;
    m
}

/// The text of a message's body (any language), if it has one.
pub fn body_text(m: &Message) -> Option<&str> {
    m.bodies.values().next().map(String::as_str)
}

/// Tests of chat and the relay: each message of `out` as (to, body,
/// wrapper `node`, wrapper `collection`), `-` where an attribute is absent.
#[cfg(test)]
pub(crate) fn summaries(out: &[tokio_xmpp::Stanza]) -> Vec<[String; 4]> {
    (out.iter())
        .filter_map(|s| match s {
            tokio_xmpp::Stanza::Message(m) => Some(m),
            _ => None,
        })
        .map(|m| {
            let w = m.payloads.iter().find(|p| p.is("item", ITEM_NS));
            let attr = |a: &str| w.and_then(|w| w.attr(a)).unwrap_or("-").to_owned();
            [
                m.to.as_ref().map(|t| t.to_string()).unwrap_or_default(),
                body_text(m).unwrap_or_default().to_owned(),
                attr("node"),
                attr("collection"),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn item_wrapper_carries_node_id_publisher_and_payload() {
        let item = Item {
            id: "i1".into(),
            seq: 1,
            publisher: Some("alice@localhost".parse().unwrap()),
            published_ms: 0,
            payload: Some(Arc::from("<app xmlns='urn:x' name='a'/>")),
        };
        let el = item_element("apps", &item);
        assert!(el.is("item", ITEM_NS));
        assert_eq!(el.attr("node"), Some("apps"));
        assert_eq!(el.attr("publisher"), Some("alice@localhost"));
        let app = el.get_child("app", "urn:x").unwrap();
        assert_eq!(app.attr("name"), Some("a"));
    }
}
