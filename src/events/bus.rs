//! The post-commit event bus: after each batch's flush the core thread
//! hands the batch's log entries here once, and every live follower (SSE
//! streams, webhook endpoints) gets the same shared batch. Each entry's
//! JSON is rendered at most once, by the first follower that needs it,
//! off the core thread. A follower that falls more than the channel's
//! capacity behind is told it lagged (and catches up from the log, or is
//! closed): the bus never buffers without bound.

use std::sync::{Arc, OnceLock};

use tokio::sync::broadcast;

use crate::pubsub::LogEvent;

/// One log entry and its JSON, rendered on first use.
#[derive(Debug)]
pub struct BusEvent {
    pub event: LogEvent,
    json: OnceLock<String>,
}

impl BusEvent {
    pub fn new(event: LogEvent) -> Self {
        BusEvent {
            event,
            json: OnceLock::new(),
        }
    }

    /// The entry's body (`events::body`).
    pub fn json(&self) -> &str {
        self.json.get_or_init(|| super::body::render(&self.event))
    }
}

/// The entries of one committed batch, oldest first.
pub type Batch = Arc<[Arc<BusEvent>]>;

#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Batch>,
}

/// Batches a follower may fall behind before it is told it lagged.
pub const DEFAULT_CAPACITY: usize = 1024;

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        EventBus {
            tx: broadcast::channel(capacity.max(1)).0,
        }
    }

    /// Hands a committed batch's entries to every follower (nothing when
    /// nobody follows).
    pub fn publish(&self, events: Vec<LogEvent>) {
        if events.is_empty() || self.tx.receiver_count() == 0 {
            return;
        }
        let batch: Batch = events
            .into_iter()
            .map(|e| Arc::new(BusEvent::new(e)))
            .collect();
        let _ = self.tx.send(batch);
    }

    /// Follows from now on: batches published after this call.
    pub fn subscribe(&self) -> broadcast::Receiver<Batch> {
        self.tx.subscribe()
    }

    /// Whether anyone follows (the core keeps its journal only then).
    pub fn followers(&self) -> usize {
        self.tx.receiver_count()
    }
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new(DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pubsub::LogKind;

    fn ev(seq: u64) -> LogEvent {
        LogEvent {
            node: "n".into(),
            node_id: 1,
            seq,
            archive_id: format!("{seq:032x}"),
            at_ms: 0,
            kind: LogKind::Retract { id: "i".into() },
            leaf: None,
        }
    }

    #[test]
    fn every_follower_shares_one_batch_and_one_rendering() {
        let bus = EventBus::new(4);
        bus.publish(vec![ev(1)]);
        let (mut a, mut b) = (bus.subscribe(), bus.subscribe());
        bus.publish(vec![ev(2), ev(3)]);
        let (ba, bb) = (a.try_recv().unwrap(), b.try_recv().unwrap());
        assert!(Arc::ptr_eq(&ba, &bb));
        assert_eq!(ba.iter().map(|e| e.event.seq).collect::<Vec<_>>(), [2, 3]);
        assert!(std::ptr::eq(ba[0].json(), bb[0].json()), "rendered once");
        assert!(a.try_recv().is_err(), "nothing from before subscribing");
    }

    #[test]
    fn a_follower_too_far_behind_is_told_it_lagged() {
        let bus = EventBus::new(2);
        let mut slow = bus.subscribe();
        for seq in 1..=5 {
            bus.publish(vec![ev(seq)]);
        }
        assert!(matches!(
            slow.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(3))
        ));
    }
}
