//! The dead-letter payload (XEP-0254 consumer groups, see
//! `xep-notes/xep-0254.md`): SHIM headers that say where and how often the
//! item failed, then the original payload, inside
//! `<dead-letter xmlns='urn:xmpp:pubsub:queueing:0'>`. The core decides
//! what is dead-lettered and hands a [`DeadLetterRecord`]; this is the
//! [`crate::pubsub::RenderDeadLetter`] `app/` gives the service.
//!
//! Written as text, not built with minidom: the original payload is
//! already serialized XML, and parsing it only to serialize it again would
//! cost a tree per dead letter and could change its bytes.

use super::ns;
use crate::pubsub::DeadLetterRecord;
use crate::pubsub::queue::QUEUE_NS;
use std::fmt::Write;
use tokio_xmpp::minidom::element::escape;

/// The dead letter's payload, in header order `Delivery-Count`,
/// `Queue-Group`, `Original-Node`, `Original-Item`.
pub fn render(dead: &DeadLetterRecord<'_>) -> String {
    let headers = [
        ("Delivery-Count", dead.deliveries.to_string()),
        ("Queue-Group", text(dead.group)),
        ("Original-Node", text(dead.node)),
        ("Original-Item", text(dead.item_id)),
    ];
    let payload = dead.payload.unwrap_or("");
    let mut out = String::with_capacity(256 + payload.len());
    let _ = write!(
        out,
        "<dead-letter xmlns='{QUEUE_NS}'><headers xmlns='{}'>",
        ns::SHIM
    );
    for (name, value) in headers {
        let _ = write!(out, "<header name='{name}'>{value}</header>");
    }
    out.push_str("</headers>");
    out.push_str(payload);
    out.push_str("</dead-letter>");
    out
}

/// Character data escaped as minidom escapes it in the stanzas it writes.
fn text(s: &str) -> String {
    String::from_utf8_lossy(&escape(s.as_bytes())).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_xmpp::minidom::Element;

    fn record<'a>(group: &'a str, payload: Option<&'a str>) -> DeadLetterRecord<'a> {
        DeadLetterRecord {
            node: "jobs",
            item_id: "item-7",
            group,
            deliveries: 5,
            payload,
        }
    }

    #[test]
    fn headers_then_the_original_payload() {
        let out = render(&record("workers", Some("<job xmlns='urn:example'>1</job>")));
        assert_eq!(
            out,
            "<dead-letter xmlns='urn:xmpp:pubsub:queueing:0'>\
             <headers xmlns='http://jabber.org/protocol/shim'>\
             <header name='Delivery-Count'>5</header>\
             <header name='Queue-Group'>workers</header>\
             <header name='Original-Node'>jobs</header>\
             <header name='Original-Item'>item-7</header>\
             </headers><job xmlns='urn:example'>1</job></dead-letter>"
        );
    }

    #[test]
    fn header_values_are_escaped_and_the_result_parses() {
        let out = render(&record("a<b>&'\"", None));
        assert!(
            out.contains("<header name='Queue-Group'>a&lt;b&gt;&amp;&apos;&quot;</header>"),
            "{out}"
        );
        let el: Element = out.parse().unwrap();
        let group = el
            .children()
            .flat_map(|h| h.children())
            .find(|h| h.attr("name") == Some("Queue-Group"))
            .map(|h| h.text());
        assert_eq!(group.as_deref(), Some("a<b>&'\""));
        assert!(
            out.ends_with("</headers></dead-letter>"),
            "no payload: {out}"
        );
    }
}
