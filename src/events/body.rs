//! The JSON of one log entry: what a webhook POSTs and what an SSE
//! `data:` line carries.
//!
//! `{"type", "node", "item_id", "sequence", "stanza_id", "time",
//! "publisher", "payload"}`: `type` is `item.published` or
//! `item.retracted`; `stanza_id` is the XMPP notification's stanza-id and
//! a MAM cursor; `payload` is the JSON of a XEP-0335 container exactly as
//! published (key order kept), else the XML element as a string, or
//! `null` (retractions, notification-only items). An entry of a
//! collection's log (XEP-0248) names its leaf in `node` and adds
//! `"collection"`; `sequence` and `stanza_id` are then the collection's.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::protocol::timestamp::xep0082;
use crate::pubsub::{LogEvent, LogKind};

/// XEP-0335 JSON container namespace.
const JSON_NS: &str = "urn:xmpp:json:0";

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    type_: &'static str,
    node: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    collection: Option<&'a str>,
    item_id: &'a str,
    sequence: u64,
    stanza_id: &'a str,
    time: String,
    publisher: Option<String>,
    payload: Payload,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Payload {
    Json(Box<RawValue>),
    Xml(String),
    None,
}

/// `item.published` or `item.retracted` (also the SSE `event:` name's
/// source: see [`sse_event_name`]).
pub fn event_type(e: &LogEvent) -> &'static str {
    match e.kind {
        LogKind::Item { .. } => "item.published",
        LogKind::Retract { .. } => "item.retracted",
    }
}

/// The SSE `event:` field: `item` or `retract`.
pub fn sse_event_name(e: &LogEvent) -> &'static str {
    match e.kind {
        LogKind::Item { .. } => "item",
        LogKind::Retract { .. } => "retract",
    }
}

/// The entry as one line of JSON (no newline inside).
pub fn render(e: &LogEvent) -> String {
    let (publisher, payload) = match &e.kind {
        LogKind::Item {
            publisher, payload, ..
        } => (
            publisher.as_ref().map(|j| j.to_string()),
            payload.as_deref().map_or(Payload::None, payload_value),
        ),
        LogKind::Retract { .. } => (None, Payload::None),
    };
    let body = Body {
        type_: event_type(e),
        node: e.leaf.as_deref().unwrap_or(&e.node),
        collection: e.leaf.is_some().then_some(e.node.as_str()),
        item_id: e.kind.item_id(),
        sequence: e.seq,
        stanza_id: &e.archive_id,
        time: xep0082(e.at_ms),
        publisher,
        payload,
    };
    // Strings, numbers and already-valid JSON always serialize.
    serde_json::to_string(&body).unwrap_or_default()
}

/// A XEP-0335 container's JSON as published; any other payload (or a
/// container whose text is not JSON) as its XML text.
fn payload_value(xml: &str) -> Payload {
    if let Ok(el) = crate::protocol::xml::parse_stored(xml)
        && el.is("json", JSON_NS)
        && let Ok(raw) = RawValue::from_string(el.text().trim().to_owned())
    {
        return Payload::Json(raw);
    }
    Payload::Xml(xml.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn item(payload: Option<&str>) -> LogEvent {
        LogEvent {
            node: "apps".into(),
            node_id: 1,
            seq: 7,
            archive_id: "0123456789abcdef0123456789abcdef".into(),
            at_ms: 1_764_633_600_123,
            kind: LogKind::Item {
                id: "app-1".into(),
                publisher: Some("platform@localhost".parse().unwrap()),
                payload: payload.map(Arc::from),
            },
            leaf: None,
        }
    }

    #[test]
    fn json_payloads_stay_json_in_their_key_order() {
        let e = item(Some(
            r#"<json xmlns='urn:xmpp:json:0'>{"z":1,"a":{"b":[true,null]}}</json>"#,
        ));
        let text = render(&e);
        assert!(
            text.contains(r#""payload":{"z":1,"a":{"b":[true,null]}}"#),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["type"], "item.published");
        assert_eq!(v["node"], "apps");
        assert_eq!(v["item_id"], "app-1");
        assert_eq!(v["sequence"], 7);
        assert_eq!(v["stanza_id"], "0123456789abcdef0123456789abcdef");
        assert_eq!(v["time"], "2025-12-02T00:00:00.123Z");
        assert_eq!(v["publisher"], "platform@localhost");
        assert!(!text.contains('\n'));
    }

    #[test]
    fn xml_payloads_are_strings_and_bad_json_is_not_passed_on_as_json() {
        let xml = "<entry xmlns='urn:t'>a &amp; b\n</entry>";
        let v: serde_json::Value = serde_json::from_str(&render(&item(Some(xml)))).unwrap();
        assert_eq!(v["payload"], xml);
        let bad = "<json xmlns='urn:xmpp:json:0'>{oops</json>";
        let v: serde_json::Value = serde_json::from_str(&render(&item(Some(bad)))).unwrap();
        assert_eq!(v["payload"], bad);
        let v: serde_json::Value = serde_json::from_str(&render(&item(None))).unwrap();
        assert!(v["payload"].is_null());
    }

    #[test]
    fn retractions_name_the_item_and_carry_no_payload() {
        let mut e = item(Some("<p/>"));
        e.kind = LogKind::Retract { id: "app-1".into() };
        let v: serde_json::Value = serde_json::from_str(&render(&e)).unwrap();
        assert_eq!(v["type"], "item.retracted");
        assert_eq!(v["item_id"], "app-1");
        assert!(v["payload"].is_null() && v["publisher"].is_null());
        assert_eq!(sse_event_name(&e), "retract");
    }

    #[test]
    fn a_collection_entry_names_its_leaf_and_the_collection() {
        let mut e = item(None);
        assert!(
            !render(&e).contains("collection"),
            "a leaf's entry has none"
        );
        e.node = "platform".into();
        e.leaf = Some("apps".into());
        let v: serde_json::Value = serde_json::from_str(&render(&e)).unwrap();
        assert_eq!(v["node"], "apps");
        assert_eq!(v["collection"], "platform");
    }
}
