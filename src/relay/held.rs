//! Events Herald could not post while it was out of a room (beyond what
//! it keeps to post late): counted per node with the times of the first
//! and last, and summarized in one digest when it is back, so people know
//! what they missed and when (`xep-notes/xep-0045.md`).

use crate::protocol::timestamp;
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Missed {
    /// node -> (events, first published ms, last published ms)
    per_node: BTreeMap<String, (u64, u64, u64)>,
}

impl Missed {
    pub fn record(&mut self, node: &str, published_ms: u64) {
        let e = (self.per_node)
            .entry(node.to_owned())
            .or_insert((0, published_ms, published_ms));
        e.0 += 1;
        e.1 = e.1.min(published_ms);
        e.2 = e.2.max(published_ms);
    }

    /// The digest, once: "While I was out of the room: 37 events on apps
    /// (2026-12-02T04:10:03Z to 2026-12-02T04:25:40Z). Send "last apps" to
    /// events.localhost to see the newest."
    pub fn take_digest(&mut self, service: &str) -> Option<String> {
        if self.per_node.is_empty() {
            return None;
        }
        let held = std::mem::take(&mut self.per_node);
        let parts: Vec<String> = (held.iter())
            .map(|(node, (n, first, last))| {
                let noun = if *n == 1 { "event" } else { "events" };
                let (first, last) = (readable(*first), readable(*last));
                let when = if first == last {
                    format!("at {first}")
                } else {
                    format!("from {first} to {last}")
                };
                format!("{n} {noun} on {node} ({when})")
            })
            .collect();
        let see: Vec<String> = held.keys().map(|node| format!("\"last {node}\"")).collect();
        Some(format!(
            "While I was out of the room: {}. Send {} to {service} to see the newest.",
            parts.join(", "),
            see.join(" or ")
        ))
    }
}

/// A XEP-0082 time to the second, for people ("2026-12-02T04:10:03Z").
fn readable(ms: u64) -> String {
    let t = timestamp::xep0082(ms - ms % 1000);
    t.strip_suffix(".000Z")
        .map_or(t.clone(), |s| format!("{s}Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_names_counts_times_and_how_to_see_them() {
        let mut m = Missed::default();
        m.record("apps", 2_000);
        m.record("apps", 1_000);
        m.record("db", 3_000);
        let text = m.take_digest("events.localhost").unwrap();
        assert!(
            text.contains("2 events on apps (from 1970-01-01T00:00:01"),
            "{text}"
        );
        assert!(
            text.contains("1 event on db (at 1970-01-01T00:00:03"),
            "{text}"
        );
        assert!(
            text.contains("\"last apps\" or \"last db\" to events.localhost"),
            "{text}"
        );
        assert_eq!(m.take_digest("events.localhost"), None, "posted once");
    }
}
