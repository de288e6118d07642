//! The confirmation windows of all links, shared: ejabberd may route a
//! probe written on one connection back to us on another, so whichever
//! reader sees the answer hands it to the link it names.

use super::confirm::{ConfirmSettings, ProbeId, Window};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::Notify;
use tokio_xmpp::Stanza;

pub struct Trackers(Vec<Tracker>);

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
        Self(
            (0..links.max(1))
                .map(|link| Tracker {
                    window: Mutex::new(Window::new(link, settings)),
                    changed: Notify::new(),
                })
                .collect(),
        )
    }

    /// The tracker of link `index` (indices come from the same count).
    pub fn link(&self, index: usize) -> &Tracker {
        &self.0[index % self.0.len()]
    }

    /// A probe came back on some connection: confirm on the link it names.
    pub fn answer(&self, id: ProbeId) {
        if let Some(tracker) = self.0.get(id.link) {
            let confirmed = tracker.lock().answer(id);
            tracing::trace!(link = id.link, confirmed, "probe answered");
            tracker.changed.notify_one();
        }
    }

    /// Stanzas written and not yet confirmed, over all links (metrics).
    pub fn unconfirmed(&self) -> usize {
        self.0.iter().map(|t| t.lock().unconfirmed()).sum()
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
