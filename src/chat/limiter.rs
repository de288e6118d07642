//! Flood control per room (relay) or chat subscriber: at most `max`
//! messages per window; what does not fit is counted per node and
//! summarized in one digest when the window ends ("37 more events on apps in the last minute").

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Limiter {
    max: u32,
    window: Duration,
    /// Start of the current window; `None` until something happens.
    started: Option<Instant>,
    sent: u32,
    /// Events held back in this window, per node.
    suppressed: BTreeMap<String, u64>,
    /// Ends the digest: why events were held back.
    why: &'static str,
}

impl Limiter {
    pub fn new(max: u32, window: Duration) -> Self {
        Self::with_reason(max, window, "to keep the room readable")
    }

    /// A limiter whose digests end with "(held back {why})".
    pub fn with_reason(max: u32, window: Duration, why: &'static str) -> Self {
        Limiter {
            max,
            window,
            started: None,
            sent: 0,
            suppressed: BTreeMap::new(),
            why,
        }
    }

    /// Nothing counted in a window that is still open: safe to forget.
    pub fn is_idle(&self) -> bool {
        self.started.is_none()
    }

    /// Ends the window if it is over: returns the digest text when events
    /// were held back. Call before `admit` and on every tick.
    /// `service`: Herald's JID, named in the digest's "how to see them".
    pub fn roll(&mut self, now: Instant, service: &str) -> Option<String> {
        let start = self.started?;
        if now.duration_since(start) < self.window {
            return None;
        }
        self.started = None;
        self.sent = 0;
        let held = std::mem::take(&mut self.suppressed);
        (!held.is_empty()).then(|| digest_text(&held, self.window, self.why, service))
    }

    /// Whether one message about `node` may go out now; if not it is
    /// counted for the digest.
    pub fn admit(&mut self, now: Instant, node: &str) -> bool {
        self.started.get_or_insert(now);
        if self.sent < self.max {
            self.sent += 1;
            return true;
        }
        self.hold(now, node);
        false
    }

    /// Counts an event that was not posted (also used while out of the room).
    pub fn hold(&mut self, now: Instant, node: &str) {
        self.started.get_or_insert(now);
        *self.suppressed.entry(node.to_owned()).or_default() += 1;
    }
}

/// "37 more events on apps, 1 more event on domains in the last minute
/// (held back …). Send "last apps" or "last domains" to events.localhost
/// to see the newest."
pub fn digest_text(
    held: &BTreeMap<String, u64>,
    window: Duration,
    why: &str,
    service: &str,
) -> String {
    let parts: Vec<String> = held
        .iter()
        .map(|(node, n)| {
            let noun = if *n == 1 { "event" } else { "events" };
            format!("{n} more {noun} on {node}")
        })
        .collect();
    let span = match window.as_secs() {
        60 => "the last minute".to_owned(),
        s if s % 60 == 0 => format!("the last {} minutes", s / 60),
        s => format!("the last {s} seconds"),
    };
    let see: Vec<String> = held.keys().map(|n| format!("\"last {n}\"")).collect();
    format!(
        "{} in {span} (held back {why}). Send {} to {service} to see the newest.",
        parts.join(", "),
        see.join(" or ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn admits_up_to_the_rate_then_counts() {
        let t0 = Instant::now();
        let mut l = Limiter::new(3, MINUTE);
        let admitted = (0..40).filter(|_| l.admit(t0, "apps")).count();
        assert_eq!(admitted, 3);
        assert_eq!(l.roll(t0 + Duration::from_secs(59), "h"), None);
        let digest = l.roll(t0 + MINUTE, "h").unwrap();
        assert!(
            digest.starts_with("37 more events on apps in the last minute"),
            "{digest}"
        );
    }

    #[test]
    fn a_new_window_admits_again_and_quiet_windows_send_no_digest() {
        let t0 = Instant::now();
        let mut l = Limiter::new(1, MINUTE);
        assert!(l.admit(t0, "apps"));
        assert_eq!(l.roll(t0 + MINUTE, "h"), None);
        let t1 = t0 + MINUTE * 2;
        assert!(l.admit(t1, "apps"));
        assert!(!l.admit(t1, "domains"));
        let digest = l.roll(t1 + MINUTE, "h").unwrap();
        assert!(digest.starts_with("1 more event on domains in"), "{digest}");
    }

    #[test]
    fn digest_names_each_node_and_the_window() {
        let held = BTreeMap::from([("apps".to_owned(), 5), ("db".to_owned(), 1)]);
        let text = digest_text(
            &held,
            Duration::from_secs(5),
            "to keep the room readable",
            "events.localhost",
        );
        assert!(
            text.starts_with("5 more events on apps, 1 more event on db in the last 5 seconds")
        );
        assert!(
            text.ends_with(
                "Send \"last apps\" or \"last db\" to events.localhost to see the newest."
            ),
            "{text}"
        );
    }
}
