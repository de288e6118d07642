//! One endpoint's delivery task: follows the nodes it wants from their
//! cursors, keeps at most `max_in_flight` deliveries going (one with
//! `strict_order`), and reports each step to the engine, which owns the
//! record and makes cursors durable.
//!
//! Per node, entries are fetched in log order (from the bus when the
//! next one arrives live, else from the log) and a node's cursor is the
//! seq before its oldest entry not yet settled: a delivered entry and a
//! dead-lettered one are settled. After a crash delivery resumes at the
//! durable cursor, so only entries in flight (or settled after a
//! later-failing one) are sent again, with the same `webhook-id`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{broadcast, mpsc};

use super::attempts::{self, AttemptLog, Outcome, Policy};
use super::endpoint::{DeadLetter, EndpointRecord};
use super::port::CorePort;
use super::signing::SigningKeys;
use crate::events::EventBus;
use crate::events::bus::Batch;
use crate::node_pattern::NodePattern;
use crate::pubsub::{LogCursor, LogEvent, LogKind, NodeName};

/// Entries per log read.
const PAGE: usize = 100;
/// How often the nodes followed are looked up again (new nodes that had
/// no live entry yet, a bus overrun).
const REFRESH: Duration = Duration::from_secs(30);
/// Wait before retrying after the core was unavailable.
const CORE_RETRY: Duration = Duration::from_secs(1);

/// What a worker tells the engine.
#[derive(Debug)]
pub enum Report {
    Attempt(AttemptLog),
    /// Everything of `node` up to `seq` is settled.
    Cursor {
        node: String,
        seq: u64,
    },
    Delivered,
    DeadLetter(DeadLetter),
    /// A resent dead letter went through.
    Resent {
        node: String,
        seq: u64,
    },
    /// 410 Gone: disable the endpoint.
    Gone,
    /// `node` was deleted (or deleted and made again, its seqs starting
    /// over): its cursor no longer means anything.
    NodeReset {
        node: String,
    },
}

/// A report tagged with the worker it came from (stale ones are ignored).
#[derive(Debug)]
pub struct Tagged {
    pub endpoint: String,
    pub generation: u64,
    pub report: Report,
}

/// Everything a worker runs from.
pub struct WorkerSpec {
    pub record: EndpointRecord,
    pub generation: u64,
    pub policy: Policy,
    pub max_in_flight: usize,
    /// Payloads larger than this are dead-lettered, never sent.
    pub max_payload_bytes: usize,
    /// The owner token's node patterns: a collection's entry is delivered
    /// only if they match its leaf (empty for a token no longer
    /// configured: nothing through collections).
    pub owner_patterns: Vec<NodePattern>,
    pub port: Arc<dyn CorePort>,
    pub bus: EventBus,
    pub reports: mpsc::UnboundedSender<Tagged>,
    pub keys: SigningKeys,
    /// Dead letters to send again first (a replay), as (node, seq).
    pub resend: Vec<(String, u64)>,
}

/// The next entries of one node and what is settled of them.
#[derive(Default)]
struct NodeTrack {
    /// The newest seq known to exist.
    head: u64,
    /// The seq up to which entries were fetched (queued or sent).
    fetched: u64,
    /// Fetched entries not yet settled.
    open: BTreeSet<u64>,
    /// The cursor last reported.
    reported: u64,
    /// No cursor yet: start at the endpoint's creation time.
    fresh: bool,
    /// The node's id once seen: another one means it was made anew.
    node_id: Option<u64>,
}

impl NodeTrack {
    fn cursor(&self) -> u64 {
        self.open.first().map_or(self.fetched, |s| s - 1)
    }
}

struct Done {
    node: String,
    seq: u64,
    resend: bool,
    outcome: Outcome,
    webhook_id: String,
}

pub async fn run(spec: WorkerSpec) {
    let mut w = Worker::new(spec);
    w.run().await;
}

struct Worker {
    spec: WorkerSpec,
    patterns: Vec<NodePattern>,
    keys: SigningKeys,
    nodes: BTreeMap<String, NodeTrack>,
    queue: VecDeque<(LogEvent, bool)>,
    /// Dead letters still to resend, (node, seq).
    resend: VecDeque<(String, u64)>,
}

impl Worker {
    fn new(spec: WorkerSpec) -> Self {
        let patterns = NodePattern::parse_all(&spec.record.nodes);
        let keys = spec.keys.clone();
        let nodes = (spec.record.cursors.iter())
            .map(|(node, &seq)| {
                let track = NodeTrack {
                    head: seq,
                    fetched: seq,
                    reported: seq,
                    ..Default::default()
                };
                (node.clone(), track)
            })
            .collect();
        Worker {
            patterns,
            keys,
            nodes,
            queue: VecDeque::new(),
            resend: spec.resend.iter().cloned().collect(),
            spec,
        }
    }

    fn report(&self, report: Report) {
        let _ = self.spec.reports.send(Tagged {
            endpoint: self.spec.record.id.clone(),
            generation: self.spec.generation,
            report,
        });
    }

    fn cap(&self) -> usize {
        match self.spec.record.strict_order {
            true => 1,
            false => self.spec.max_in_flight.max(1),
        }
    }

    async fn run(&mut self) {
        let mut live = self.spec.bus.subscribe();
        self.refresh_heads().await;
        let mut in_flight = FuturesUnordered::new();
        let mut refresh = tokio::time::interval(REFRESH);
        refresh.tick().await;
        loop {
            if self.queue.is_empty() {
                self.fill().await;
            }
            while in_flight.len() < self.cap() {
                let Some((event, resend)) = self.queue.pop_front() else {
                    break;
                };
                in_flight.push(self.deliver(event, resend));
            }
            tokio::select! {
                Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                    if self.settle(done) {
                        return;
                    }
                }
                next = live.recv() => match next {
                    Ok(batch) => self.on_live(&batch),
                    Err(broadcast::error::RecvError::Lagged(_)) => self.refresh_heads().await,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = refresh.tick() => self.refresh_heads().await,
            }
        }
    }

    /// Learns the heads of every node followed (new ones start fresh).
    async fn refresh_heads(&mut self) {
        let heads = loop {
            match self.spec.port.heads(self.patterns.clone()).await {
                Ok(h) => break h,
                Err(e) => {
                    tracing::debug!(error = %e, "webhook worker: node heads unavailable");
                    tokio::time::sleep(CORE_RETRY).await;
                }
            }
        };
        for (node, head) in heads {
            let track = self.nodes.entry(node).or_insert_with(|| NodeTrack {
                fresh: true,
                ..Default::default()
            });
            track.head = track.head.max(head);
        }
    }

    /// Takes live entries straight from the bus when they are the next of
    /// their node; otherwise only notes that the node moved on.
    fn on_live(&mut self, batch: &Batch) {
        for e in batch.iter() {
            let ev = &e.event;
            if !self.patterns.iter().any(|p| p.matches(&ev.node)) {
                continue;
            }
            let known = self.nodes.get(&ev.node).and_then(|t| t.node_id);
            if known.is_some_and(|id| id != ev.node_id) {
                self.restart_node(&ev.node, ev.node_id, ev.seq);
                continue;
            }
            let track = self
                .nodes
                .entry(ev.node.clone())
                .or_insert_with(|| NodeTrack {
                    fresh: true,
                    ..Default::default()
                });
            track.head = track.head.max(ev.seq);
            if !track.fresh && ev.seq == track.fetched + 1 && self.queue.len() < PAGE * 4 {
                track.fetched = ev.seq;
                if may_deliver(&self.spec.owner_patterns, ev) {
                    track.open.insert(ev.seq);
                    self.queue.push_back((ev.clone(), false));
                } else {
                    self.report_cursor(&ev.node);
                }
            }
        }
    }

    /// Queues dead letters to resend, else pages of the nodes with
    /// entries not yet fetched, until something is queued or nothing is
    /// left to fetch.
    async fn fill(&mut self) {
        while let Some((node, seq)) = self.resend.pop_front() {
            if let Some(ev) = self.fetch_one(&node, seq).await {
                self.queue.push_back((ev, true));
                return;
            }
        }
        while self.queue.is_empty() {
            let Some(node) = (self.nodes.iter())
                .find(|(_, t)| t.fresh || t.fetched < t.head || t.node_id.is_none())
                .map(|(n, _)| n.clone())
            else {
                return;
            };
            if !self.fill_from(node).await {
                return;
            }
        }
    }

    /// One page of `node`; `false` when the core is unavailable (the
    /// caller waits for the next wake-up).
    async fn fill_from(&mut self, node: String) -> bool {
        let Ok(name) = NodeName::new(&node) else {
            self.nodes.remove(&node);
            return true;
        };
        let Some(track) = self.nodes.get(&node) else {
            return true;
        };
        let cursor = match track.fresh {
            true => LogCursor::Since(self.spec.record.created_ms),
            false => LogCursor::Seq(track.fetched),
        };
        let page = match self.spec.port.page(name, cursor, PAGE).await {
            Ok(p) => p,
            Err(super::port::PortError::Pubsub(e)) => {
                // The node went away (deleted): nothing more to deliver.
                tracing::debug!(node, error = %e, "webhook worker: node not readable");
                self.nodes.remove(&node);
                self.report(Report::NodeReset { node });
                return true;
            }
            Err(e) => {
                tracing::debug!(error = %e, "webhook worker: log unavailable");
                tokio::time::sleep(CORE_RETRY).await;
                return false;
            }
        };
        if page.trimmed {
            tracing::warn!(
                endpoint = %self.spec.record.id,
                node,
                after = page.after,
                "webhook entries were trimmed from the history before delivery"
            );
        }
        let Some(track) = self.nodes.get_mut(&node) else {
            return true;
        };
        // Seqs only grow: a node behind its cursor was made anew.
        if track.node_id.is_some_and(|id| id != page.node_id)
            || (track.node_id.is_none() && !track.fresh && page.high_seq < track.fetched)
        {
            self.restart_node(&node, page.node_id, 0);
            return true;
        }
        track.node_id = Some(page.node_id);
        track.fresh = false;
        track.fetched = track.fetched.max(page.after);
        track.head = track.head.max(page.high_seq);
        for ev in page.events {
            track.fetched = ev.seq;
            if may_deliver(&self.spec.owner_patterns, &ev) {
                track.open.insert(ev.seq);
                self.queue.push_back((ev, false));
            }
        }
        if page.complete {
            track.fetched = track.fetched.max(page.high_seq.min(track.head));
        }
        self.report_cursor(&node);
        true
    }

    /// `node` was deleted and made again (new id `node_id`): follow it
    /// from its first entry, and drop its old cursor.
    fn restart_node(&mut self, node: &str, node_id: u64, head: u64) {
        tracing::info!(
            node,
            "webhook worker: node was re-created; following it from its start"
        );
        let track = NodeTrack {
            node_id: Some(node_id),
            head,
            ..Default::default()
        };
        self.nodes.insert(node.to_owned(), track);
        self.report(Report::NodeReset {
            node: node.to_owned(),
        });
    }

    async fn fetch_one(&self, node: &str, seq: u64) -> Option<LogEvent> {
        let name = NodeName::new(node).ok()?;
        let page = self
            .spec
            .port
            .page(name, LogCursor::Seq(seq - 1), 1)
            .await
            .ok()?;
        page.events.into_iter().find(|e| e.seq == seq)
    }

    fn deliver(
        &self,
        event: LogEvent,
        resend: bool,
    ) -> impl std::future::Future<Output = Done> + use<> {
        let url = self.spec.record.url.clone();
        let keys = self.keys.clone();
        let policy = self.spec.policy.clone();
        let reports = self.spec.reports.clone();
        let (endpoint, generation) = (self.spec.record.id.clone(), self.spec.generation);
        let too_big = match &event.kind {
            LogKind::Item { payload, .. } => payload
                .as_ref()
                .is_some_and(|p| p.len() > self.spec.max_payload_bytes),
            LogKind::Retract { .. } => false,
        };
        async move {
            let webhook_id = event.archive_id.clone();
            let outcome = if too_big {
                Outcome::DeadLetter {
                    attempts: 0,
                    last_error: "payload over limits.max_payload_bytes: not sent".into(),
                }
            } else {
                let body = Bytes::from(crate::events::body::render(&event));
                let log = |l: AttemptLog| {
                    let _ = reports.send(Tagged {
                        endpoint: endpoint.clone(),
                        generation,
                        report: Report::Attempt(l),
                    });
                };
                attempts::deliver(&url, || keys.clone(), &webhook_id, body, &policy, log).await
            };
            Done {
                node: event.node,
                seq: event.seq,
                resend,
                outcome,
                webhook_id,
            }
        }
    }

    /// Records a finished delivery; `true` when the worker must stop (410).
    fn settle(&mut self, done: Done) -> bool {
        match done.outcome {
            Outcome::Gone { .. } => {
                self.report(Report::Gone);
                return true;
            }
            Outcome::Delivered { .. } => {
                self.report(Report::Delivered);
                if done.resend {
                    self.report(Report::Resent {
                        node: done.node.clone(),
                        seq: done.seq,
                    });
                }
            }
            Outcome::DeadLetter {
                attempts,
                last_error,
            } => self.report(Report::DeadLetter(DeadLetter {
                node: done.node.clone(),
                seq: done.seq,
                webhook_id: done.webhook_id,
                at_ms: attempts::now_ms(),
                attempts,
                error: last_error,
            })),
        }
        if !done.resend
            && let Some(track) = self.nodes.get_mut(&done.node)
        {
            track.open.remove(&done.seq);
            self.report_cursor(&done.node);
        }
        false
    }

    fn report_cursor(&mut self, node: &str) {
        let Some(track) = self.nodes.get_mut(node) else {
            return;
        };
        let cursor = track.cursor();
        if cursor > track.reported {
            track.reported = cursor;
            self.report(Report::Cursor {
                node: node.to_owned(),
                seq: cursor,
            });
        }
    }
}

/// A collection's entry (XEP-0248, `LogEvent::leaf` set) is delivered
/// only if the owner token's patterns match its leaf: naming a collection
/// never widens what a token's endpoint receives. Skipped entries still
/// move the cursor on.
fn may_deliver(owner_patterns: &[NodePattern], ev: &LogEvent) -> bool {
    (ev.leaf.as_deref()).is_none_or(|leaf| owner_patterns.iter().any(|p| p.matches(leaf)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_stops_before_the_oldest_unsettled_entry() {
        let mut t = NodeTrack {
            fetched: 3,
            ..Default::default()
        };
        assert_eq!(t.cursor(), 3, "nothing open: everything fetched is settled");
        t.open.extend([4, 5, 6]);
        t.fetched = 6;
        assert_eq!(t.cursor(), 3);
        t.open.remove(&5);
        assert_eq!(
            t.cursor(),
            3,
            "5 settled before 4: 4 still holds the cursor"
        );
        t.open.remove(&4);
        assert_eq!(t.cursor(), 5);
        t.open.remove(&6);
        assert_eq!(t.cursor(), 6);
        // Gaps in the seqs (a failed write's seq) do not hold it back.
        t.open.extend([9]);
        t.fetched = 9;
        assert_eq!(t.cursor(), 8);
    }
}
