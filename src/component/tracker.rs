//! The confirmation windows of all links, shared: ejabberd may route a
//! probe written on one connection back to us on another, so whichever
//! reader sees the answer hands it to the link it names.

use super::confirm::{ConfirmSettings, ProbeId, Window};
use std::sync::{Mutex, MutexGuard, OnceLock};
use tokio::sync::Notify;
use tokio_xmpp::Stanza;

pub struct Trackers {
    links: Vec<Tracker>,
    /// High 32 bits of every epoch of this process's windows.
    base: u64,
    /// Where answers to another process's probes go (`[cluster]`: over
    /// NATS to every instance); unset, they are dropped.
    relay: OnceLock<Relay>,
}

type Relay = Box<dyn Fn(String) + Send + Sync>;

pub struct Tracker {
    window: Mutex<Window<Stanza>>,
    /// Wakes the link's writer: room in the window, a probe wanted.
    pub changed: Notify,
}

impl Tracker {
    /// Short critical sections only; a panic while holding it cannot leave
    /// the window half-updated in a way that matters more than a restart.
    pub fn lock(&self) -> MutexGuard<'_, Window<Stanza>> {
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Trackers {
    pub fn new(links: usize, settings: ConfirmSettings) -> Self {
        let mut random = [0u8; 4];
        // No randomness: a clock-derived base still differs per process.
        if getrandom::getrandom(&mut random).is_err() {
            random = (std::process::id() ^ 0x5bd1_e995).to_be_bytes();
        }
        let base = u64::from(u32::from_be_bytes(random) | 1) << 32;
        let links = (0..links.max(1))
            .map(|link| Tracker {
                window: Mutex::new(Window::new(link, settings).with_epoch_base(base)),
                changed: Notify::new(),
            })
            .collect();
        Self {
            links,
            base,
            relay: OnceLock::new(),
        }
    }

    /// Hands answers to probes of other processes to `relay` (once).
    pub fn set_relay(&self, relay: impl Fn(String) + Send + Sync + 'static) {
        let _ = self.relay.set(Box::new(relay));
    }

    fn owns(&self, id: ProbeId) -> bool {
        id.epoch >> 32 == self.base >> 32
    }

    /// An answer another process read and relayed: ours, or ignored.
    pub fn answer_relayed(&self, id: &str) {
        if let Some(id) = ProbeId::parse(id)
            && self.owns(id)
        {
            self.answer(id);
        }
    }

    /// The tracker of link `index` (indices come from the same count).
    pub fn link(&self, index: usize) -> &Tracker {
        &self.links[index % self.links.len()]
    }

    /// A probe came back on some connection: confirm on the link it names.
    pub fn answer(&self, id: ProbeId) {
        if !self.owns(id) {
            if let Some(relay) = self.relay.get() {
                relay(id.to_id());
            }
            return;
        }
        if let Some(tracker) = self.links.get(id.link) {
            let confirmed = tracker.lock().answer(id);
            tracing::trace!(link = id.link, confirmed, "probe answered");
            tracker.changed.notify_one();
        }
    }

    /// Stanzas written and not yet confirmed, over all links (metrics).
    pub fn unconfirmed(&self) -> usize {
        self.links.iter().map(|t| t.lock().unconfirmed()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};
    use tokio_xmpp::parsers::message::Message;

    #[test]
    fn an_answer_read_anywhere_confirms_on_the_link_it_names() {
        let settings = ConfirmSettings {
            window: 16,
            interval: Duration::from_millis(100),
            timeout: Duration::from_secs(3),
        };
        let trackers = Trackers::new(2, settings);
        let probe = {
            let mut w = trackers.link(1).lock();
            w.start_connection();
            w.written(Stanza::Message(Message::new(None)));
            w.probe(Instant::now())
        };
        assert_eq!(trackers.unconfirmed(), 1);
        let id = ProbeId::parse(&probe.to_id()).unwrap();
        trackers.answer(id);
        assert_eq!(trackers.unconfirmed(), 0);
        assert!(trackers.link(1).lock().confirmed());
        assert!(!trackers.link(0).lock().confirmed());
        // An id naming a link that does not exist is ignored.
        trackers.answer(ProbeId { link: 9, ..id });
    }
}
