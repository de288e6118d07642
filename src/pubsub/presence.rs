//! Available presence, for `send_last_published_item =
//! on_sub_and_presence` (XEP-0060 §6.1.7).
//!
//! Presence *subscriptions* to the service grant no access: the
//! `presence` access model means a presence subscription to the node
//! *owner*, which Herald cannot see (see `access.rs`).

use jid::Jid;

use super::error::PubsubResult;
use super::node_config::SendLastPublished;
use super::service::Service;
use super::types::Outcome;
use crate::store::Store;

impl<S: Store> Service<S> {
    /// Presence from `jid` to the service, complete: consumer groups first
    /// (unavailable: items it holds go back to their groups; then every
    /// group delivers), then, when available, the §6.1.7 last items.
    /// Failures are logged, not returned: presence has nobody to answer,
    /// and what did work still goes out.
    pub fn presence(&mut self, jid: &Jid, available: bool) -> Outcome<()> {
        let mut notes = match self.queue_presence(jid, available, self.now_ms()) {
            Ok(notes) => notes,
            Err(e) => {
                tracing::warn!(error = %e, "queue presence failed");
                Vec::new()
            }
        };
        if available {
            match self.presence_available(jid) {
                Ok(o) => notes.extend(o.notifications),
                Err(e) => tracing::warn!(error = %e, "presence handling failed"),
            }
        }
        Outcome::notify((), notes)
    }

    /// An entity sent available presence (`jid`, usually full): the last
    /// item of every node configured `on_sub_and_presence` that it is
    /// subscribed to (by that full JID or its bare JID) (§6.1.7).
    ///
    /// Errors: `Internal`.
    pub fn presence_available(&self, jid: &Jid) -> PubsubResult<Outcome<()>> {
        let bare = jid.to_bare();
        let mut notifications = Vec::new();
        for (name, n) in &self.nodes {
            let config = &n.meta.config;
            if config.send_last_published_item != SendLastPublished::OnSubAndPresence {
                continue;
            }
            let mine = (n.meta.subscriptions.iter()).filter(|s| s.jid == *jid || s.jid == bare);
            for sub in mine {
                notifications.extend(self.last_item_for(name, &n.meta, sub)?);
            }
        }
        Ok(Outcome {
            reply: (),
            notifications,
            published: Vec::new(),
        })
    }
}
