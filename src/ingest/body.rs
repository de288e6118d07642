//! Request bodies to item payloads (one serialized XML element each):
//! JSON as XEP-0335 `<json xmlns='urn:xmpp:json:0'>`, CloudEvents
//! (structured mode, JSON) likewise with the event's `id` as item ID, or
//! one namespaced XML element as is. Also the checks on names and IDs.

use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio_xmpp::minidom::Element;

use super::error::ApiError;
use crate::protocol::xml::{self, XmlShapeError};
use crate::pubsub::IngestItem;
use crate::pubsub::names::{self, ItemId, NameError, NameKind, NodeName};

/// XEP-0335 JSON containers.
pub const JSON_NS: &str = "urn:xmpp:json:0";
/// Longest node name or item ID accepted, in bytes (the core's rule).
pub const MAX_NAME_BYTES: usize = names::MAX_NAME_BYTES;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    CloudEvent,
    CloudEventBatch,
    Xml,
}

/// The body's kind from `Content-Type` (parameters such as `charset`
/// ignored): 415 for anything else.
pub fn body_kind(headers: &HeaderMap) -> Result<BodyKind, ApiError> {
    let raw = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = raw
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "application/json" => Ok(BodyKind::Json),
        "application/cloudevents+json" => Ok(BodyKind::CloudEvent),
        "application/cloudevents-batch+json" => Ok(BodyKind::CloudEventBatch),
        "application/xml" | "text/xml" => Ok(BodyKind::Xml),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "Content-Type {raw:?} is not supported: use application/json, \
                 application/cloudevents+json or application/xml"
            ),
        )),
    }
}

/// One item from a single-item request. `path_id` is the ID in the URL
/// (PUT); a CloudEvent's `id` must agree with it.
pub fn decode_single(
    kind: BodyKind,
    body: &[u8],
    path_id: Option<&str>,
) -> Result<IngestItem, ApiError> {
    let text = utf8(body)?;
    let (id, payload) = match kind {
        BodyKind::Json => (None, json_payload(text)?),
        BodyKind::CloudEvent => {
            let (id, payload) = cloudevent(text)?;
            (Some(id), payload)
        }
        BodyKind::Xml => (None, xml_payload(text)?),
        BodyKind::CloudEventBatch => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "application/cloudevents-batch+json is for the batch endpoint",
            ));
        }
    };
    let id = match (path_id, id) {
        (Some(p), Some(ce)) if p != ce => {
            return Err(ApiError::bad_request(
                "bad_item_id",
                format!("the URL names item {p:?} but the CloudEvent id is {ce:?}"),
            ));
        }
        (Some(p), _) => Some(p.to_owned()),
        (None, ce) => ce,
    };
    let id = id.map(|id| item_id("item ID", id)).transpose()?;
    Ok(IngestItem { id, payload })
}

/// One entry of an `application/json` batch: `id` optional, exactly one
/// of `json` (any JSON value) or `xml` (one element as text).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchEntry {
    id: Option<String>,
    json: Option<Box<RawValue>>,
    xml: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    items: Vec<BatchEntry>,
}

/// Every item of a batch request, or the first problem (nothing is
/// published unless all items are good).
pub fn decode_batch(kind: BodyKind, body: &[u8]) -> Result<Vec<IngestItem>, ApiError> {
    let text = utf8(body)?;
    let items: Vec<IngestItem> = match kind {
        BodyKind::Json => {
            let batch: Batch = serde_json::from_str(text).map_err(|e| invalid_json(&e))?;
            let entries = batch.items.into_iter().enumerate();
            entries
                .map(|(i, e)| batch_entry(e).map_err(|err| at(i, err)))
                .collect()
        }
        BodyKind::CloudEventBatch => {
            let events: Vec<Box<RawValue>> =
                serde_json::from_str(text).map_err(|e| invalid_json(&e))?;
            let events = events.iter().enumerate();
            events
                .map(|(i, ev)| {
                    let (id, payload) = cloudevent(ev.get()).map_err(|err| at(i, err))?;
                    Ok(IngestItem {
                        id: Some(item_id("CloudEvent id", id)?),
                        payload,
                    })
                })
                .collect()
        }
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "a batch is application/json or application/cloudevents-batch+json",
        )),
    }?;
    if items.is_empty() {
        return Err(ApiError::bad_request(
            "bad_request",
            "the batch has no items",
        ));
    }
    Ok(items)
}

fn batch_entry(e: BatchEntry) -> Result<IngestItem, ApiError> {
    let id = e.id.map(|id| item_id("item ID", id)).transpose()?;
    let payload = match (e.json, e.xml) {
        (Some(j), None) => json_element(j.get()),
        (None, Some(x)) => xml_payload(&x)?,
        _ => {
            return Err(ApiError::bad_request(
                "bad_request",
                "each item needs exactly one of \"json\" or \"xml\"",
            ));
        }
    };
    Ok(IngestItem { id, payload })
}

fn at(index: usize, mut e: ApiError) -> ApiError {
    e.message = format!("item {index}: {}", e.message);
    e
}

fn utf8(body: &[u8]) -> Result<&str, ApiError> {
    std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("invalid_encoding", "the body is not UTF-8"))
}

fn invalid_json(e: &serde_json::Error) -> ApiError {
    ApiError::bad_request("invalid_json", format!("invalid JSON: {e}"))
}

/// The JSON text, checked, kept byte for byte (trimmed) in the container.
fn json_payload(text: &str) -> Result<String, ApiError> {
    let raw: Box<RawValue> = serde_json::from_str(text).map_err(|e| invalid_json(&e))?;
    Ok(json_element(raw.get()))
}

fn json_element(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 48);
    out.push_str("<json xmlns='");
    out.push_str(JSON_NS);
    out.push_str("'>");
    for c in json.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // Not allowed in XML 1.0 text; JSON can escape them instead.
            '\u{FFFE}' | '\u{FFFF}' => out.push_str("\\ufffd"),
            c => out.push(c),
        }
    }
    out.push_str("</json>");
    out
}

/// A CloudEvent in structured JSON mode: `(id, payload)`. Checks the
/// required attributes of CloudEvents 1.0.
fn cloudevent(text: &str) -> Result<(String, String), ApiError> {
    let bad = |m: String| ApiError::bad_request("invalid_cloudevent", m);
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| invalid_json(&e))?;
    let Some(obj) = value.as_object() else {
        return Err(bad("a CloudEvent is a JSON object".into()));
    };
    for attr in ["specversion", "id", "source", "type"] {
        match obj.get(attr).and_then(|v| v.as_str()) {
            Some(s) if !s.is_empty() => {}
            _ => {
                return Err(bad(format!(
                    "required attribute {attr:?} is missing or empty"
                )));
            }
        }
    }
    if obj.get("specversion").and_then(|v| v.as_str()) != Some("1.0") {
        return Err(bad("specversion must be \"1.0\"".into()));
    }
    let id = obj.get("id").and_then(|v| v.as_str()).unwrap_or_default();
    check_name("CloudEvent id", id)?;
    Ok((id.to_owned(), json_element(text.trim())))
}

/// One namespaced XML element, re-serialized. Its shape (one root, no
/// trailing content, depth and element count within `limits.*`) is checked
/// by a flat scan first: minidom builds flat but clones, serializes and
/// drops recursively, so a deep tree must never be built.
fn xml_payload(text: &str) -> Result<String, ApiError> {
    let bad = |m: String| ApiError::bad_request("invalid_xml", m);
    let text = text.trim();
    xml::check_document(text, &xml::payload_limits()).map_err(|e: XmlShapeError| {
        bad(format!(
            "the body must be one XML element with a namespace: {e}"
        ))
    })?;
    let el: Element = text.parse().map_err(|e| {
        bad(format!(
            "the body must be one XML element with a namespace: {e}"
        ))
    })?;
    let mut buf = Vec::new();
    el.write_to(&mut buf)
        .map_err(|e| bad(format!("the XML element cannot be serialized: {e}")))?;
    String::from_utf8(buf).map_err(|_| bad("the XML element is not UTF-8".into()))
}

/// A node name as the core takes it: 400 `bad_node` beyond the rule.
pub fn node_name(node: &str) -> Result<NodeName, ApiError> {
    NodeName::new(node).map_err(|e| name_error("node name", e))
}

/// An item ID as the core takes it (`what` names it in the message): 400
/// `bad_item_id` beyond the rule.
pub(super) fn item_id(what: &str, id: String) -> Result<ItemId, ApiError> {
    ItemId::new(id).map_err(|e| name_error(what, e))
}

/// Node names and item IDs, by the core's rule (`pubsub::names`):
/// 400 `bad_node` or `bad_item_id`, naming the limit.
pub fn check_name(what: &str, name: &str) -> Result<(), ApiError> {
    let kind = if what == "node name" {
        NameKind::Node
    } else {
        NameKind::ItemId
    };
    names::check(kind, name).map_err(|e| name_error(what, e))
}

/// The 400 for a name the rule refused; `what` names it in the message.
fn name_error(what: &str, e: NameError) -> ApiError {
    let code = match e.kind() {
        NameKind::Node => "bad_node",
        NameKind::ItemId => "bad_item_id",
    };
    let message = match e {
        NameError::Length { len, .. } => {
            format!("the {what} must be 1 to {MAX_NAME_BYTES} bytes (it has {len})")
        }
        NameError::ControlCharacter { .. } => {
            format!("the {what} must not contain control characters")
        }
    };
    ApiError::bad_request(code, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ct(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn content_types() {
        assert_eq!(body_kind(&ct("application/json")).unwrap(), BodyKind::Json);
        let with_charset = ct("Application/JSON; charset=utf-8");
        assert_eq!(body_kind(&with_charset).unwrap(), BodyKind::Json);
        let ce = ct("application/cloudevents+json");
        assert_eq!(body_kind(&ce).unwrap(), BodyKind::CloudEvent);
        assert_eq!(body_kind(&ct("application/xml")).unwrap(), BodyKind::Xml);
        let err = body_kind(&ct("text/plain")).unwrap_err();
        assert_eq!(err.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(body_kind(&HeaderMap::new()).is_err());
    }

    #[test]
    fn json_is_wrapped_verbatim_and_escaped() {
        let item = decode_single(BodyKind::Json, br#" {"a": "<b>&"} "#, Some("x")).unwrap();
        assert_eq!(item.id.as_deref(), Some("x"));
        assert_eq!(
            item.payload,
            r#"<json xmlns='urn:xmpp:json:0'>{"a": "&lt;b&gt;&amp;"}</json>"#
        );
        let err = decode_single(BodyKind::Json, b"{nope", None).unwrap_err();
        assert_eq!(err.code, "invalid_json");
    }

    #[test]
    fn cloudevents_need_their_attributes_and_give_the_id() {
        let ev = br#"{"specversion":"1.0","id":"ev-1","source":"/billing","type":"invoice.paid"}"#;
        let item = decode_single(BodyKind::CloudEvent, ev, None).unwrap();
        assert_eq!(item.id.as_deref(), Some("ev-1"));
        assert!(item.payload.starts_with("<json xmlns='urn:xmpp:json:0'>{"));
        let err = decode_single(BodyKind::CloudEvent, ev, Some("other")).unwrap_err();
        assert_eq!(err.code, "bad_item_id");
        let missing = br#"{"specversion":"1.0","id":"ev-1","type":"t"}"#;
        let err = decode_single(BodyKind::CloudEvent, missing, None).unwrap_err();
        assert!(err.message.contains("source"), "{}", err.message);
        let old = br#"{"specversion":"0.3","id":"e","source":"s","type":"t"}"#;
        assert_eq!(
            decode_single(BodyKind::CloudEvent, old, None)
                .unwrap_err()
                .code,
            "invalid_cloudevent"
        );
    }

    #[test]
    fn xml_must_be_one_namespaced_element() {
        let ok = decode_single(BodyKind::Xml, b"<app xmlns='urn:x' name='a'/>", None).unwrap();
        assert!(ok.payload.contains("urn:x"), "{}", ok.payload);
        for bad in [&b"<a/><b/>"[..], b"not xml", b"<a xmlns='u'>"] {
            let err = decode_single(BodyKind::Xml, bad, None).unwrap_err();
            assert_eq!(err.code, "invalid_xml", "{bad:?}");
        }
    }

    #[test]
    fn batches_check_every_item() {
        let body = br#"{"items":[{"id":"a","json":{"n":1}},{"xml":"<x xmlns='u'/>"}]}"#;
        let items = decode_batch(BodyKind::Json, body).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0].payload,
            "<json xmlns='urn:xmpp:json:0'>{\"n\":1}</json>"
        );
        let bad = br#"{"items":[{"json":1},{"id":"b"}]}"#;
        let err = decode_batch(BodyKind::Json, bad).unwrap_err();
        assert!(err.message.starts_with("item 1:"), "{}", err.message);
        let empty = decode_batch(BodyKind::Json, br#"{"items":[]}"#).unwrap_err();
        assert_eq!(empty.status, StatusCode::BAD_REQUEST);
        let ces = br#"[{"specversion":"1.0","id":"1","source":"s","type":"t"}]"#;
        let items = decode_batch(BodyKind::CloudEventBatch, ces).unwrap();
        assert_eq!(items[0].id.as_deref(), Some("1"));
    }

    #[test]
    fn names_and_ids() {
        assert!(check_name("item ID", "app-42").is_ok());
        assert_eq!(check_name("item ID", "").unwrap_err().code, "bad_item_id");
        assert!(check_name("item ID", "a\nb").is_err());
        assert!(check_name("item ID", &"x".repeat(257)).is_err());
        assert_eq!(check_name("node name", "\0x").unwrap_err().code, "bad_node");
    }

    fn nested(depth: usize) -> String {
        format!(
            "<a xmlns='urn:x'>{}{}</a>",
            "<a>".repeat(depth - 1),
            "</a>".repeat(depth - 1)
        )
    }

    #[test]
    fn xml_nested_beyond_the_limit_is_refused_before_parsing() {
        // 5,000 deep is 35 KB: under the byte limit, and what an unfixed
        // Herald stored, then crashed on when reading it.
        let err = decode_single(BodyKind::Xml, nested(5_000).as_bytes(), None).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.code, "invalid_xml");
        assert!(
            err.message.contains("limits.max_payload_depth"),
            "{}",
            err.message
        );
        let limit = xml::payload_limits().max_depth;
        assert!(decode_single(BodyKind::Xml, nested(limit).as_bytes(), None).is_ok());
        let batch = format!(r#"{{"items":[{{"xml":"{}"}}]}}"#, nested(5_000));
        let err = decode_batch(BodyKind::Json, batch.as_bytes()).unwrap_err();
        assert_eq!(err.code, "invalid_xml");
    }

    #[test]
    fn xml_with_anything_after_its_element_is_refused() {
        for bad in [
            &b"<a xmlns='u'/><b xmlns='u'/>"[..],
            b"<a xmlns='u'/>trailing text",
            b"<a xmlns='u'/><!-- c --><b/>",
        ] {
            let err = decode_single(BodyKind::Xml, bad, None).unwrap_err();
            assert_eq!(err.code, "invalid_xml", "{bad:?}");
            assert!(
                err.message.contains("exactly one element"),
                "{}",
                err.message
            );
        }
        assert!(decode_single(BodyKind::Xml, b" <a xmlns='u'/>\n", None).is_ok());
    }
}
