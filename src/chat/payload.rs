//! A stored item payload seen as values for bodies: XEP-0335 JSON
//! containers (`<json xmlns='urn:xmpp:json:0'>`) as JSON, anything else
//! as its XML element.

use serde_json::Value;
use tokio_xmpp::minidom::Element;

/// XEP-0335 JSON container namespace.
pub const JSON_NS: &str = "urn:xmpp:json:0";

/// What a body is built from.
#[derive(Debug)]
pub enum Payload {
    Json(Value),
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
            return match serde_json::from_str(&el.text()) {
                Ok(v) => Payload::Json(v),
                Err(_) => Payload::Xml(el),
            };
        }
        Payload::Xml(el)
    }

    /// The value at a dotted path: JSON object keys and array indices, or
    /// for XML child elements then an attribute or a child's text.
    pub fn lookup(&self, path: &str) -> Option<String> {
        match self {
            Payload::Json(v) => json_at(v, path).map(json_text),
            Payload::Xml(el) => xml_at(el, path),
            Payload::None => None,
        }
    }

    /// The default body: top-level JSON fields as `key=value`, or the
    /// element name with its attributes, its simple children and its text.
    pub fn summary(&self) -> String {
        match self {
            Payload::Json(Value::Object(map)) => {
                // Scalars first (keys sorted: serde_json keeps no order),
                // then nested values, so `type=…` leads rather than `data={…}`.
                let (nested, scalars): (Vec<_>, Vec<_>) =
                    map.iter().partition(|(_, v)| v.is_object() || v.is_array());
                let fields = scalars.into_iter().chain(nested);
                let fields = fields.map(|(k, v)| format!("{k}={}", json_text(v)));
                fields.collect::<Vec<_>>().join(" ")
            }
            Payload::Json(v) => json_text(v),
            Payload::Xml(el) => xml_summary(el),
            Payload::None => String::new(),
        }
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
    parts.extend(attrs.into_iter().map(|(k, v)| format!("{k}={v}")));
    for child in el.children() {
        let text = child.text();
        if child.children().next().is_none() && !text.trim().is_empty() {
            parts.push(format!("{}={}", child.name(), text.trim()));
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
        let json = Payload::parse(Some(JSON)).summary();
        assert!(json.starts_with("n=3 type=app.created data={"), "{json}");
        let xml = Payload::parse(Some(XML)).summary();
        assert_eq!(xml, "app action=created name=shiny owner=alice deployed");
    }

    #[test]
    fn broken_payloads_count_as_none() {
        assert!(matches!(Payload::parse(Some("<a")), Payload::None));
        assert!(matches!(Payload::parse(None), Payload::None));
        let bad_json = Payload::parse(Some("<json xmlns='urn:xmpp:json:0'>{</json>"));
        assert!(matches!(bad_json, Payload::Xml(_)));
    }
}
