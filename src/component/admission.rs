//! Per-sender fairness at the door: a token bucket per bare JID, checked
//! where stanzas come off the link, before they reach the core's queue.
//! A flood from one JID is refused here, cheaply, so it cannot fill the
//! queue that everybody else's requests wait in.
//!
//! Over the limit, an IQ get/set is answered at once with
//! `<resource-constraint/>` of type `wait` (RFC 6120 §8.3.3.18): the sender
//! learns to slow down and no request goes unanswered. Messages and
//! presences are dropped: a bounce per flooded message would double the
//! flood through ejabberd, and messages reaching Herald include MUC room
//! traffic, where error bounces would hit the room rather than a flooder.
//! IQ results and errors are dropped too (never answer a response).
//! Stanzas from our own domain (confirmation probes) are never limited.

use super::{Inbound, StanzaKind};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;
use tokio_xmpp::Stanza;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

#[derive(Debug, Clone, Copy)]
pub struct AdmissionSettings {
    /// Stanzas per second one bare JID may send on average; 0 disables.
    pub rate_per_sec: f64,
    /// Stanzas one bare JID may send at once above the average.
    pub burst: f64,
}

/// What to do with a stanza that came off the link.
#[derive(Debug)]
pub enum Verdict {
    Admit,
    /// Over the limit: send this error back instead.
    Refuse(Box<Stanza>),
    /// Over the limit, nothing to answer.
    Drop,
}

/// Shared by all links: ejabberd spreads one sender over them.
pub struct Admission {
    settings: AdmissionSettings,
    own: String,
    buckets: Mutex<Buckets>,
}

impl Admission {
    pub fn new(own_jid: &str, settings: AdmissionSettings) -> Self {
        Self {
            settings,
            own: own_jid.to_owned(),
            buckets: Mutex::new(Buckets::default()),
        }
    }

    pub fn check(&self, inbound: &Inbound) -> Verdict {
        if self.settings.rate_per_sec <= 0.0 {
            return Verdict::Admit;
        }
        let Some(sender) = sender(inbound) else {
            return Verdict::Admit;
        };
        let bare = sender.split('/').next().unwrap_or(sender);
        if bare == self.own {
            return Verdict::Admit;
        }
        let admitted = self.buckets.lock().unwrap_or_else(|e| e.into_inner()).take(
            bare,
            &self.settings,
            Instant::now(),
        );
        if admitted {
            Verdict::Admit
        } else {
            refusal(inbound)
        }
    }
}

fn sender(inbound: &Inbound) -> Option<&str> {
    match inbound {
        Inbound::Stanza(Stanza::Iq(iq)) => iq.from().map(Jid::as_str),
        Inbound::Stanza(Stanza::Message(m)) => m.from.as_ref().map(Jid::as_str),
        Inbound::Stanza(Stanza::Presence(p)) => p.from.as_ref().map(Jid::as_str),
        Inbound::Invalid(bad) => bad.from.as_deref(),
        Inbound::LinkUp => None,
    }
}

fn refusal(inbound: &Inbound) -> Verdict {
    let error = || {
        StanzaError::new(
            ErrorType::Wait,
            DefinedCondition::ResourceConstraint,
            "en",
            "too many requests from this address: slow down",
        )
    };
    let answer = |id: &str, from: Option<Jid>, to: Option<Jid>| {
        let mut iq = Iq::from_error(id, error());
        if let Some(to) = to {
            iq = iq.with_from(to);
        }
        if let Some(from) = from {
            iq = iq.with_to(from);
        }
        Verdict::Refuse(Box::new(Stanza::Iq(iq)))
    };
    match inbound {
        Inbound::Stanza(Stanza::Iq(iq @ (Iq::Get { .. } | Iq::Set { .. }))) => {
            answer(iq.id(), iq.from().cloned(), iq.to().cloned())
        }
        Inbound::Invalid(bad)
            if bad.kind == StanzaKind::Iq
                && matches!(bad.type_.as_deref(), Some("get" | "set")) =>
        {
            let jid = |raw: &Option<String>| raw.as_deref().and_then(|s| Jid::new(s).ok());
            match jid(&bad.from) {
                Some(from) => answer(
                    bad.id.as_deref().unwrap_or_default(),
                    Some(from),
                    jid(&bad.to),
                ),
                None => Verdict::Drop,
            }
        }
        _ => Verdict::Drop,
    }
}

/// Senders seen recently and their tokens.
#[derive(Default)]
struct Buckets {
    by_sender: HashMap<String, Bucket>,
    checks: u64,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Every this many checks, buckets that have refilled are forgotten, so
/// memory follows the number of recently active senders.
const PRUNE_EVERY: u64 = 4096;

impl Buckets {
    fn take(&mut self, sender: &str, settings: &AdmissionSettings, now: Instant) -> bool {
        self.checks += 1;
        if self.checks.is_multiple_of(PRUNE_EVERY) {
            self.by_sender
                .retain(|_, b| refill(b, settings, now) < settings.burst);
        }
        let burst = settings.burst.max(1.0);
        let bucket = match self.by_sender.get_mut(sender) {
            Some(bucket) => bucket,
            None => self.by_sender.entry(sender.to_owned()).or_insert(Bucket {
                tokens: burst,
                at: now,
            }),
        };
        bucket.tokens = refill(bucket, settings, now).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn refill(bucket: &Bucket, settings: &AdmissionSettings, now: Instant) -> f64 {
    let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
    bucket.tokens + elapsed * settings.rate_per_sec
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const OWN: &str = "events.localhost";

    fn settings(rate: f64, burst: f64) -> AdmissionSettings {
        AdmissionSettings {
            rate_per_sec: rate,
            burst,
        }
    }

    fn ping(from: &str, id: &str) -> Inbound {
        let iq = Iq::from_get(id, tokio_xmpp::parsers::ping::Ping)
            .with_from(from.parse().unwrap())
            .with_to(OWN.parse().unwrap());
        Inbound::Stanza(Stanza::Iq(iq))
    }

    fn message(from: &str) -> Inbound {
        let mut m = tokio_xmpp::parsers::message::Message::new(Some(OWN.parse().unwrap()));
        m.from = Some(from.parse().unwrap());
        Inbound::Stanza(Stanza::Message(m))
    }

    #[test]
    fn buckets_allow_the_burst_then_the_rate() {
        let mut b = Buckets::default();
        let s = settings(10.0, 5.0);
        let t0 = Instant::now();
        let first: Vec<bool> = (0..7).map(|_| b.take("a@x", &s, t0)).collect();
        assert_eq!(first, [true, true, true, true, true, false, false]);
        assert!(!b.take("a@x", &s, t0 + Duration::from_millis(50)));
        assert!(b.take("a@x", &s, t0 + Duration::from_millis(110)));
        assert!(b.take("b@x", &s, t0), "another sender has its own bucket");
    }

    #[test]
    fn a_long_pause_refills_no_more_than_the_burst() {
        let mut b = Buckets::default();
        let s = settings(10.0, 3.0);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(b.take("a@x", &s, t0));
        }
        let later = t0 + Duration::from_secs(60);
        let admitted = (0..10).filter(|_| b.take("a@x", &s, later)).count();
        assert_eq!(admitted, 3);
    }

    #[test]
    fn idle_senders_are_forgotten() {
        let mut b = Buckets::default();
        let s = settings(1000.0, 10.0);
        let t0 = Instant::now();
        for i in 0..PRUNE_EVERY - 1 {
            b.take(&format!("u{i}@x"), &s, t0);
        }
        b.take("last@x", &s, t0 + Duration::from_secs(1));
        assert_eq!(b.by_sender.len(), 1);
    }

    #[test]
    fn over_the_limit_an_iq_gets_resource_constraint_wait_and_a_message_is_dropped() {
        let a = Admission::new(OWN, settings(1.0, 1.0));
        assert!(matches!(
            a.check(&ping("f@localhost/r", "1")),
            Verdict::Admit
        ));
        let Verdict::Refuse(answer) = a.check(&ping("f@localhost/other", "2")) else {
            panic!("expected a refusal");
        };
        let Stanza::Iq(Iq::Error {
            id,
            to,
            from,
            error,
            ..
        }) = *answer
        else {
            panic!("expected an IQ error");
        };
        assert_eq!(id, "2");
        assert_eq!(to.unwrap().as_str(), "f@localhost/other");
        assert_eq!(from.unwrap().as_str(), OWN);
        assert_eq!(error.type_, ErrorType::Wait);
        assert_eq!(
            error.defined_condition,
            DefinedCondition::ResourceConstraint
        );
        assert!(matches!(a.check(&message("f@localhost/r")), Verdict::Drop));
        assert!(matches!(
            a.check(&ping("g@localhost/r", "3")),
            Verdict::Admit
        ));
    }

    #[test]
    fn our_own_domain_and_a_disabled_limit_are_never_throttled() {
        let a = Admission::new(OWN, settings(1.0, 1.0));
        for _ in 0..100 {
            assert!(matches!(a.check(&ping(OWN, "p")), Verdict::Admit));
        }
        let off = Admission::new(OWN, settings(0.0, 0.0));
        for _ in 0..100 {
            assert!(matches!(
                off.check(&ping("f@localhost", "p")),
                Verdict::Admit
            ));
        }
    }
}
