//! One bounded outbox per component connection. Stanzas are assigned by
//! their recipient's bare JID, so everything one entity receives (replies
//! and notifications) keeps its order on one connection.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use tokio::sync::mpsc;
use tokio_xmpp::Stanza;

#[derive(Clone)]
pub struct Outboxes(Vec<mpsc::Sender<Stanza>>);

impl Outboxes {
    /// Creates `n` outboxes of `capacity` stanzas each.
    pub fn new(n: usize, capacity: usize) -> (Outboxes, Vec<mpsc::Receiver<Stanza>>) {
        let (senders, receivers) = (0..n.max(1)).map(|_| mpsc::channel(capacity)).unzip();
        (Outboxes(senders), receivers)
    }

    /// A handle that does not keep the outboxes open (for metrics).
    pub fn downgrade(&self) -> WeakOutboxes {
        WeakOutboxes(self.0.iter().map(|s| s.downgrade()).collect())
    }

    pub fn sender(&self, index: usize) -> mpsc::Sender<Stanza> {
        self.0[index % self.0.len()].clone()
    }

    /// Blocks while the chosen outbox is full (backpressure). Err when the
    /// link side has shut down.
    pub fn blocking_send(&self, stanza: Stanza) -> Result<(), ()> {
        let index = self.index_for(&stanza);
        self.0[index].blocking_send(stanza).map_err(|_| ())
    }

    fn index_for(&self, stanza: &Stanza) -> usize {
        if self.0.len() == 1 {
            return 0;
        }
        let to = match stanza {
            Stanza::Iq(iq) => iq.to(),
            Stanza::Message(m) => m.to.as_ref(),
            Stanza::Presence(p) => p.to.as_ref(),
        };
        let mut hasher = DefaultHasher::new();
        to.map(|j| j.to_bare()).hash(&mut hasher);
        (hasher.finish() % self.0.len() as u64) as usize
    }
}

pub struct WeakOutboxes(Vec<mpsc::WeakSender<Stanza>>);

impl WeakOutboxes {
    /// Stanzas waiting in all outboxes together.
    pub fn depth(&self) -> usize {
        self.0
            .iter()
            .filter_map(|w| w.upgrade())
            .map(|s| s.max_capacity().saturating_sub(s.capacity()))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_xmpp::parsers::message::Message;

    fn msg(to: &str) -> Stanza {
        Stanza::Message(Message::new(Some(to.parse().unwrap())))
    }

    #[test]
    fn one_recipient_always_uses_one_outbox() {
        let (out, mut rx) = Outboxes::new(4, 100);
        for res in ["a", "b", "c"] {
            out.blocking_send(msg(&format!("alice@localhost/{res}")))
                .unwrap();
        }
        let counts: Vec<usize> = rx.iter_mut().map(|r| r.len()).collect();
        assert_eq!(counts.iter().filter(|c| **c > 0).count(), 1, "{counts:?}");
    }

    #[test]
    fn many_recipients_spread_over_outboxes() {
        let (out, rx) = Outboxes::new(2, 1000);
        for i in 0..100 {
            out.blocking_send(msg(&format!("user{i}@localhost")))
                .unwrap();
        }
        assert!(rx.iter().all(|r| r.len() > 20), "unbalanced");
    }
}
