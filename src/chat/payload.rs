//! A stored item payload seen as values for bodies: XEP-0335 JSON
//! containers (`<json xmlns='urn:xmpp:json:0'>`) as JSON, anything else
//! as its XML element.

use super::ordered_json::Ordered;
use serde_json::Value;
use tokio_xmpp::minidom::Element;

/// XEP-0335 JSON container namespace.
pub const JSON_NS: &str = "urn:xmpp:json:0";

/// What a body is built from.
#[derive(Debug)]
pub enum Payload {
    /// The value for lookups, and the same JSON in the publisher's key
    /// order for the summary.
    Json(Value, Ordered),
    Xml(Element),
    None,
}

impl Payload {
    /// Parses a stored payload; unparsable XML or JSON counts as none.
    pub fn parse(xml: Option<&str>) -> Payload {
        let Some(el) = xml.and_then(|x| crate::protocol::xml::parse_stored(x).ok()) else {
            return Payload::None;
        };
        if el.is("json", JSON_NS) {
            let text = el.text();
            return match (serde_json::from_str(&text), Ordered::parse(&text)) {
                (Ok(v), Some(o)) => Payload::Json(v, o),
                _ => Payload::Xml(el),
            };
        }
        Payload::Xml(el)
    }

    /// The value at a dotted path: JSON object keys and array indices, or
    /// for XML child elements then an attribute or a child's text.
    pub fn lookup(&self, path: &str) -> Option<String> {
        match self {
            Payload::Json(v, _) => json_at(v, path).map(json_text),
            Payload::Xml(el) => xml_at(el, path),
            Payload::None => None,
        }
    }

    /// The default body: a CloudEvent as its `type`, its `data` as
    /// `key=value` and its source and time; other JSON objects as
    /// `key=value` in the publisher's order; XML as the element name with
    /// its attributes, its simple children and its text. Values with
    /// spaces are quoted, so each `key=value` reads as one.
    pub fn summary(&self) -> String {
        match self {
            Payload::Json(_, o) if is_cloudevent(o) => cloudevent_summary(o),
            Payload::Json(_, Ordered::Object(pairs)) => key_values(pairs),
            Payload::Json(_, o) => ordered_text(o),
            Payload::Xml(el) => xml_summary(el),
            Payload::None => String::new(),
        }
    }
}

fn is_cloudevent(o: &Ordered) -> bool {
    o.get("specversion").is_some() && o.get("type").and_then(Ordered::as_str).is_some()
}

/// "invoice.paid amount=10 currency=EUR (source=/billing time=…)": what
/// happened first, then the data, then where and when it happened.
fn cloudevent_summary(o: &Ordered) -> String {
    let mut parts = vec![
        o.get("type")
            .and_then(Ordered::as_str)
            .unwrap_or_default()
            .to_owned(),
    ];
    match o.get("data") {
        Some(Ordered::Object(pairs)) => parts.push(key_values(pairs)),
        Some(data) => parts.push(format!("data={}", quoted(&ordered_text(data)))),
        None => {}
    }
    let context: Vec<String> = ["source", "subject", "time"]
        .into_iter()
        .filter_map(|k| Some(format!("{k}={}", quoted(o.get(k)?.as_str()?))))
        .collect();
    if !context.is_empty() {
        parts.push(format!("({})", context.join(" ")));
    }
    parts.retain(|p| !p.is_empty());
    parts.join(" ")
}

fn key_values(pairs: &[(String, Ordered)]) -> String {
    (pairs.iter())
        .map(|(k, v)| format!("{k}={}", quoted(&ordered_text(v))))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Strings without JSON quotes, everything else as compact JSON.
fn ordered_text(o: &Ordered) -> String {
    match o {
        Ordered::Leaf(v) => json_text(v),
        other => other.to_json(),
    }
}

/// A value with whitespace in double quotes (inner quotes escaped).
fn quoted(v: &str) -> String {
    if v.is_empty() || v.chars().any(char::is_whitespace) {
        format!("\"{}\"", v.replace('"', "\\\""))
    } else {
        v.to_owned()
    }
}

fn json_at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, key| match v {
        Value::Object(map) => map.get(key),
        Value::Array(list) => list.get(key.parse::<usize>().ok()?),
        _ => None,
    })
}

/// Strings without quotes, everything else as compact JSON.
fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

fn xml_at(root: &Element, path: &str) -> Option<String> {
    let mut segments: Vec<&str> = path.split('.').collect();
    let last = segments.pop()?;
    let mut el = root;
    for seg in segments {
        el = el.children().find(|c| c.name() == seg)?;
    }
    if let Some(a) = el.attr(last) {
        return Some(a.to_owned());
    }
    let child = el.children().find(|c| c.name() == last)?;
    Some(child.text().trim().to_owned())
}

fn xml_summary(el: &Element) -> String {
    let mut attrs: Vec<(String, String)> = (el.attrs().iter())
        .filter(|((ns, _), _)| ns.is_none())
        .map(|((_, k), v)| (k.to_string(), v.to_string()))
        .collect();
    attrs.sort();
    let mut parts = vec![el.name().to_owned()];
    parts.extend(
        attrs
            .into_iter()
            .map(|(k, v)| format!("{k}={}", quoted(&v))),
    );
    for child in el.children() {
        let text = child.text();
        if child.children().next().is_none() && !text.trim().is_empty() {
            parts.push(format!("{}={}", child.name(), quoted(text.trim())));
        }
    }
    let text = el.texts().collect::<String>();
    if !text.trim().is_empty() {
        parts.push(text.trim().to_owned());
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: &str = r#"<json xmlns='urn:xmpp:json:0'>{"type":"app.created","data":{"app":"shiny","user":"alice","tags":["a","b"]},"n":3}</json>"#;
    const XML: &str =
        "<app xmlns='urn:example' name='shiny' action='created'><owner>alice</owner>deployed</app>";

    #[test]
    fn json_paths_reach_nested_fields_and_arrays() {
        let p = Payload::parse(Some(JSON));
        assert_eq!(p.lookup("type").as_deref(), Some("app.created"));
        assert_eq!(p.lookup("data.user").as_deref(), Some("alice"));
        assert_eq!(p.lookup("data.tags.1").as_deref(), Some("b"));
        assert_eq!(p.lookup("n").as_deref(), Some("3"));
        assert_eq!(p.lookup("data.missing"), None);
    }

    #[test]
    fn xml_paths_read_attributes_then_child_text() {
        let p = Payload::parse(Some(XML));
        assert_eq!(p.lookup("name").as_deref(), Some("shiny"));
        assert_eq!(p.lookup("owner").as_deref(), Some("alice"));
        assert_eq!(p.lookup("nope"), None);
    }

    #[test]
    fn summaries_list_top_level_fields() {
        // The publisher's key order, not sorted.
        let json = Payload::parse(Some(JSON)).summary();
        assert_eq!(
            json,
            r#"type=app.created data={"app":"shiny","user":"alice","tags":["a","b"]} n=3"#
        );
        let xml = Payload::parse(Some(XML)).summary();
        assert_eq!(xml, "app action=created name=shiny owner=alice deployed");
        let spaced = "<app xmlns='urn:x' name='two words'><note>a b</note></app>";
        let xml = Payload::parse(Some(spaced)).summary();
        assert_eq!(xml, r#"app name="two words" note="a b""#);
    }

    #[test]
    fn cloudevents_read_type_first_then_data_then_source_and_time() {
        let ev = r#"<json xmlns='urn:xmpp:json:0'>{"specversion":"1.0","id":"e1","source":"/billing","type":"invoice.paid","time":"2026-12-02T04:10:03Z","data":{"invoice":"A-1","amount":10,"note":"paid late"}}</json>"#;
        assert_eq!(
            Payload::parse(Some(ev)).summary(),
            r#"invoice.paid invoice=A-1 amount=10 note="paid late" (source=/billing time=2026-12-02T04:10:03Z)"#
        );
    }

    #[test]
    fn broken_payloads_count_as_none() {
        assert!(matches!(Payload::parse(Some("<a")), Payload::None));
        assert!(matches!(Payload::parse(None), Payload::None));
        let bad_json = Payload::parse(Some("<json xmlns='urn:xmpp:json:0'>{</json>"));
        assert!(matches!(bad_json, Payload::Xml(_)));
    }
}
