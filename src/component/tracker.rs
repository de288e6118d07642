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
