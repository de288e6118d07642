//! At-least-once on one component connection, as pure bookkeeping.
//!
//! XEP-0114 has no acknowledgements, but ejabberd handles one connection's
//! stanzas in order. So a ping from our domain to our domain, written after
//! some stanzas, proves ejabberd routed all of them once it comes back to
//! us (on any of our connections: ejabberd balances the domain's routes).
//! The window keeps every stanza written on the current connection until a
//! probe written after it comes back; when the connection is declared dead
//! (a probe unanswered for `timeout`) the unconfirmed stanzas are handed
//! back, in order, to be written again on the next connection. A stanza may
//! therefore arrive twice; notifications carry an XEP-0359 stanza-id so a
//! client can recognise the repeat.
//!
//! No I/O here: the writer calls in with `now`, so the rules are unit-tested.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Id prefix of confirmation probes; never used by anything else.
const PROBE_PREFIX: &str = "herald-confirm-";

/// Which probe an answer belongs to: link index, connection epoch, number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeId {
    pub link: usize,
    pub epoch: u64,
    pub number: u64,
}

impl ProbeId {
    pub fn to_id(self) -> String {
        format!("{PROBE_PREFIX}{}-{}-{}", self.link, self.epoch, self.number)
    }

    /// Parses an IQ id written by [`ProbeId::to_id`].
    pub fn parse(id: &str) -> Option<ProbeId> {
        let mut parts = id.strip_prefix(PROBE_PREFIX)?.split('-');
        let probe = ProbeId {
            link: parts.next()?.parse().ok()?,
            epoch: parts.next()?.parse().ok()?,
            number: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(probe)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ConfirmSettings {
    /// Most stanzas written and not yet confirmed; writing pauses at this.
    pub window: usize,
    /// Least time between two probes while stanzas wait for confirmation
    /// (a half-full window probes at once).
    pub interval: Duration,
    /// A probe unanswered this long means the connection is dead.
    pub timeout: Duration,
}

impl ConfirmSettings {
    /// While probes are out, one more is sent this often, so a probe that
    /// ejabberd routed to a stale connection of ours is superseded.
    fn retry(&self) -> Duration {
        (self.timeout / 4).max(self.interval)
    }
}

#[derive(Debug)]
struct Probe {
    number: u64,
    /// Sequence number of the first stanza written after this probe.
    covers: u64,
    sent: Instant,
}

/// One link's written-but-unconfirmed stanzas and outstanding probes.
#[derive(Debug)]
pub struct Window<T> {
    settings: ConfirmSettings,
    link: usize,
    epoch: u64,
    next_seq: u64,
    unconfirmed: VecDeque<(u64, T)>,
    probes: VecDeque<Probe>,
    next_probe: u64,
    last_probe_sent: Option<Instant>,
    probe_wanted: bool,
    confirmed: bool,
}

impl<T> Window<T> {
    pub fn new(link: usize, settings: ConfirmSettings) -> Self {
        Self {
            settings,
            link,
            epoch: 0,
            next_seq: 0,
            unconfirmed: VecDeque::new(),
            probes: VecDeque::new(),
            next_probe: 0,
            last_probe_sent: None,
            probe_wanted: false,
            confirmed: false,
        }
    }

    /// Epochs from `base` on (a per-process random high half): a probe of
    /// another process (a cluster instance on the same domain, which
    /// ejabberd may hand ours to) never matches this window.
    pub fn with_epoch_base(mut self, base: u64) -> Self {
        self.epoch = base;
        self
    }

    /// A new connection begins: the first probe goes out at once, so the
    /// connection is proven (or found dead) quickly.
    pub fn start_connection(&mut self) {
        self.epoch += 1;
        self.probes.clear();
        self.last_probe_sent = None;
        self.probe_wanted = true;
        self.confirmed = false;
    }

    /// The connection ended: everything still unconfirmed, oldest first,
    /// to be written again on the next one. Late answers for this
    /// connection are ignored from now on (the stanzas may come twice).
    pub fn end_connection(&mut self) -> Vec<T> {
        self.epoch += 1;
        self.probes.clear();
        self.probe_wanted = false;
        self.unconfirmed.drain(..).map(|(_, s)| s).collect()
    }

    pub fn is_full(&self) -> bool {
        self.unconfirmed.len() >= self.settings.window
    }

    pub fn unconfirmed(&self) -> usize {
        self.unconfirmed.len()
    }

    /// Whether a probe of this connection has been answered yet.
    pub fn confirmed(&self) -> bool {
        self.confirmed
    }

    /// Records a stanza as written on the current connection.
    pub fn written(&mut self, stanza: T) {
        self.unconfirmed.push_back((self.next_seq, stanza));
        self.next_seq += 1;
    }

    /// Asks for a probe at the next opportunity (keepalive on a quiet link).
    pub fn want_probe(&mut self) {
        self.probe_wanted = true;
    }

    /// When the next probe should be written.
    pub fn probe_due(&self) -> Option<Instant> {
        let now_if_never = |at: Option<Instant>, after: Duration| match at {
            None => Some(Instant::now()),
            Some(at) => Some(at + after),
        };
        if self.probe_wanted {
            return Some(Instant::now());
        }
        let covered = self
            .probes
            .back()
            .map_or(self.first_unconfirmed(), |p| p.covers);
        if covered < self.next_seq {
            if self.unconfirmed.len() * 2 >= self.settings.window {
                return Some(Instant::now());
            }
            return now_if_never(self.last_probe_sent, self.settings.interval);
        }
        if let Some(newest) = self.probes.back() {
            return now_if_never(Some(newest.sent), self.settings.retry());
        }
        // Idle: a heartbeat probe, so a quiet dead connection is found
        // within seconds too (one tiny ping per timeout period).
        now_if_never(self.last_probe_sent, self.settings.timeout)
    }

    /// Registers a probe written now, covering everything written so far.
    pub fn probe(&mut self, now: Instant) -> ProbeId {
        let number = self.next_probe;
        self.next_probe += 1;
        self.probes.push_back(Probe {
            number,
            covers: self.next_seq,
            sent: now,
        });
        self.last_probe_sent = Some(now);
        self.probe_wanted = false;
        ProbeId {
            link: self.link,
            epoch: self.epoch,
            number,
        }
    }

    /// A probe came back: drops what it covers and every older probe.
    /// Returns how many stanzas are now confirmed.
    pub fn answer(&mut self, id: ProbeId) -> usize {
        if id.epoch != self.epoch || id.link != self.link {
            return 0;
        }
        let Some(pos) = self.probes.iter().position(|p| p.number == id.number) else {
            return 0;
        };
        let covers = self.probes[pos].covers;
        self.probes.drain(..=pos);
        self.confirmed = true;
        let before = self.unconfirmed.len();
        while self
            .unconfirmed
            .front()
            .is_some_and(|(seq, _)| *seq < covers)
        {
            self.unconfirmed.pop_front();
        }
        before - self.unconfirmed.len()
    }

    /// When the connection counts as dead unless a probe is answered first.
    pub fn dead_at(&self) -> Option<Instant> {
        self.probes.front().map(|p| p.sent + self.settings.timeout)
    }

    fn first_unconfirmed(&self) -> u64 {
        self.unconfirmed
            .front()
            .map_or(self.next_seq, |(seq, _)| *seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ConfirmSettings {
        ConfirmSettings {
            window: 8,
            interval: Duration::from_millis(100),
            timeout: Duration::from_secs(2),
        }
    }

    fn window() -> Window<u32> {
        let mut w = Window::new(3, settings());
        w.start_connection();
        w
    }

    #[test]
    fn probe_ids_round_trip_and_foreign_ids_do_not_parse() {
        let id = ProbeId {
            link: 2,
            epoch: 7,
            number: 41,
        };
        assert_eq!(ProbeId::parse(&id.to_id()), Some(id));
        for other in [
            "keepalive-1",
            "herald-confirm-1-2",
            "herald-confirm-1-2-3-4",
            "x",
        ] {
            assert_eq!(ProbeId::parse(other), None, "{other}");
        }
    }

    #[test]
    fn a_new_connection_probes_at_once_and_is_confirmed_by_the_answer() {
        let mut w = window();
        let now = Instant::now();
        assert!(w.probe_due().is_some_and(|at| at <= Instant::now()));
        let p = w.probe(now);
        assert!(!w.confirmed());
        assert_eq!(w.answer(p), 0);
        assert!(w.confirmed());
        assert_eq!(
            w.probe_due(),
            Some(now + Duration::from_secs(2)),
            "idle: only a heartbeat after the timeout period"
        );
        assert_eq!(w.dead_at(), None);
    }

    #[test]
    fn an_answer_confirms_exactly_what_was_written_before_its_probe() {
        let mut w = window();
        let now = Instant::now();
        w.probe(now);
        w.written(1);
        w.written(2);
        let p = w.probe(now);
        w.written(3);
        assert_eq!(w.answer(p), 2);
        assert_eq!(w.unconfirmed(), 1);
        assert_eq!(w.end_connection(), vec![3]);
    }

    #[test]
    fn a_later_answer_supersedes_lost_earlier_probes() {
        let mut w = window();
        let now = Instant::now();
        w.written(1);
        let lost = w.probe(now);
        w.written(2);
        let p = w.probe(now);
        assert_eq!(w.answer(p), 2);
        assert_eq!(w.answer(lost), 0, "already superseded");
        assert_eq!(w.dead_at(), None);
    }

    #[test]
    fn answers_of_an_old_connection_or_another_link_are_ignored() {
        let mut w = window();
        w.written(1);
        let old = w.probe(Instant::now());
        let resend = w.end_connection();
        assert_eq!(resend, vec![1]);
        w.start_connection();
        w.written(1);
        assert_eq!(w.answer(old), 0);
        let mut other = w.probe(Instant::now());
        other.link = 4;
        assert_eq!(w.answer(other), 0);
        assert_eq!(w.unconfirmed(), 1);
    }

    #[test]
    fn an_unanswered_probe_sets_the_death_deadline() {
        let mut w = window();
        let t0 = Instant::now();
        w.written(1);
        w.probe(t0);
        assert_eq!(w.dead_at(), Some(t0 + Duration::from_secs(2)));
        // Retries while waiting, but the deadline stays the oldest probe's.
        let retry = w.probe_due().unwrap();
        assert_eq!(retry, t0 + Duration::from_millis(500));
        w.probe(retry);
        assert_eq!(w.dead_at(), Some(t0 + Duration::from_secs(2)));
    }

    #[test]
    fn probes_are_spaced_by_the_interval_unless_the_window_fills() {
        let mut w = window();
        let t0 = Instant::now();
        let first = w.probe(t0);
        w.answer(first);
        w.written(1);
        assert_eq!(w.probe_due(), Some(t0 + Duration::from_millis(100)));
        for i in 2..=4 {
            w.written(i);
        }
        assert!(
            w.probe_due().unwrap() <= Instant::now(),
            "half full: probe now"
        );
    }

    #[test]
    fn the_window_is_bounded_and_end_keeps_order() {
        let mut w = window();
        for i in 0..8 {
            assert!(!w.is_full());
            w.written(i);
        }
        assert!(w.is_full());
        assert_eq!(w.end_connection(), (0..8).collect::<Vec<_>>());
        assert!(!w.is_full());
    }

    #[test]
    fn a_keepalive_request_asks_for_a_probe_on_an_idle_link() {
        let mut w = window();
        let p = w.probe(Instant::now());
        w.answer(p);
        assert!(w.probe_due().unwrap() > Instant::now());
        w.want_probe();
        assert!(w.probe_due().unwrap() <= Instant::now());
    }
}
