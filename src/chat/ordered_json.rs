//! JSON read with objects in the publisher's key order, for readable
//! bodies (`serde_json::Map` sorts keys unless its crate-wide
//! `preserve_order` feature is on, which would change every map in Herald).

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Ordered {
    Object(Vec<(String, Ordered)>),
    Array(Vec<Ordered>),
    Leaf(Value),
}

impl Ordered {
    pub fn parse(text: &str) -> Option<Ordered> {
        serde_json::from_str(text).ok()
    }

    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Ordered> {
        match self {
            Ordered::Object(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A string leaf's text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Ordered::Leaf(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// Compact JSON, keys in order.
    pub fn to_json(&self) -> String {
        match self {
            Ordered::Leaf(v) => v.to_string(),
            Ordered::Array(items) => {
                let inner: Vec<String> = items.iter().map(Ordered::to_json).collect();
                format!("[{}]", inner.join(","))
            }
            Ordered::Object(pairs) => {
                let inner: Vec<String> = (pairs.iter())
                    .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), v.to_json()))
                    .collect();
                format!("{{{}}}", inner.join(","))
            }
        }
    }
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OrderedVisitor)
    }
}

struct OrderedVisitor;

impl<'de> Visitor<'de> for OrderedVisitor {
    type Value = Ordered;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Ordered, E> {
        Ok(Ordered::Leaf(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Ordered, E> {
        Ok(Ordered::Leaf(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Ordered, E> {
        Ok(Ordered::Leaf(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Ordered, E> {
        Ok(Ordered::Leaf(Value::from(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Ordered, E> {
        Ok(Ordered::Leaf(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Ordered, E> {
        Ok(Ordered::Leaf(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<Ordered, E> {
        Ok(Ordered::Leaf(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Ordered, E> {
        Ok(Ordered::Leaf(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element()? {
            items.push(v);
        }
        Ok(Ordered::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
        let mut pairs = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Ordered>()? {
            pairs.push((k, v));
        }
        Ok(Ordered::Object(pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_the_publishers_order_at_every_depth() {
        let text = r#"{"z":1,"a":{"y":true,"b":[{"q":null,"c":"x"}]},"m":"s"}"#;
        let o = Ordered::parse(text).unwrap();
        assert_eq!(o.to_json(), text);
        assert_eq!(o.get("m").and_then(Ordered::as_str), Some("s"));
    }
}
