//! The webhook engine: one task that owns every endpoint record, so the
//! API's changes and the workers' progress never race. It runs one
//! worker per active endpoint (`worker.rs`), applies their reports
//! (cursors, dead letters, failures, 410), and writes changed records
//! through the core before it reads more reports, so a cursor is durable
//! shortly after its delivery's 2xx. Recent attempts are kept in memory
//! for `GET /v1/webhooks/{id}/deliveries`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::attempts::{AttemptLog, Policy};
use super::endpoint::{EndpointRecord, EndpointStatus};
use super::port::CorePort;
use super::worker::{self, Report, Tagged, WorkerSpec};
use crate::events::EventBus;
use crate::node_pattern::NodePattern;

/// Attempts kept per endpoint for the deliveries list.
const RECENT_ATTEMPTS: usize = 200;

/// A change the API asks for; applied to the current record.
pub type Edit = Box<dyn FnOnce(&mut EndpointRecord) + Send>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EngineError {
    #[error("no webhook endpoint {0:?}")]
    NotFound(String),
    #[error("the store failed: {0}")]
    Store(String),
    #[error("webhook delivery has stopped")]
    Stopped,
}

enum Command {
    Create(
        Box<EndpointRecord>,
        oneshot::Sender<Result<(), EngineError>>,
    ),
    Edit {
        id: String,
        owner: String,
        edit: Edit,
        /// Dead letters to send again (a replay of them).
        resend_dead_letters: bool,
        reply: oneshot::Sender<Result<EndpointRecord, EngineError>>,
    },
    Delete {
        id: String,
        owner: String,
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    List {
        owner: String,
        reply: oneshot::Sender<Vec<EndpointRecord>>,
    },
    Attempts {
        id: String,
        owner: String,
        reply: oneshot::Sender<Result<Vec<AttemptLog>, EngineError>>,
    },
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct EngineStats {
    pub delivered: AtomicU64,
    pub failed_attempts: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub active: AtomicU64,
    pub disabled: AtomicU64,
    pub dead_letters: AtomicU64,
}

/// The API's side of the engine.
#[derive(Clone)]
pub struct EngineHandle {
    commands: mpsc::Sender<Command>,
    pub stats: Arc<EngineStats>,
}

/// How the engine delivers (built from `[webhooks]` and `[limits]` by
/// the caller, so this module does not read the config).
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub policy: Policy,
    pub max_in_flight: usize,
    pub disable_after_failing_ms: u64,
    pub max_payload_bytes: usize,
    /// Each token's node patterns, by token name: what an endpoint owned
    /// by that token may receive through a collection (XEP-0248).
    pub owner_patterns: BTreeMap<String, Vec<NodePattern>>,
}

impl EngineHandle {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)
    }

    /// Stores a new endpoint and starts delivering to it.
    pub async fn create(&self, record: EndpointRecord) -> Result<(), EngineError> {
        self.ask(|reply| Command::Create(Box::new(record), reply))
            .await?
    }

    /// Applies `edit` to `owner`'s endpoint `id` and stores it; delivery
    /// restarts from the stored cursors.
    pub async fn edit(
        &self,
        id: &str,
        owner: &str,
        edit: Edit,
        resend_dead_letters: bool,
    ) -> Result<EndpointRecord, EngineError> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        self.ask(|reply| Command::Edit {
            id,
            owner,
            edit,
            resend_dead_letters,
            reply,
        })
        .await?
    }

    pub async fn delete(&self, id: &str, owner: &str) -> Result<(), EngineError> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        self.ask(|reply| Command::Delete { id, owner, reply })
            .await?
    }

    pub async fn list(&self, owner: &str) -> Result<Vec<EndpointRecord>, EngineError> {
        let owner = owner.to_owned();
        self.ask(|reply| Command::List { owner, reply }).await
    }

    pub async fn get(&self, id: &str, owner: &str) -> Result<EndpointRecord, EngineError> {
        (self.list(owner).await?.into_iter())
            .find(|r| r.id == id)
            .ok_or_else(|| EngineError::NotFound(id.to_owned()))
    }

    /// Recent attempts, newest first.
    pub async fn attempts(&self, id: &str, owner: &str) -> Result<Vec<AttemptLog>, EngineError> {
        let (id, owner) = (id.to_owned(), owner.to_owned());
        self.ask(|reply| Command::Attempts { id, owner, reply })
            .await?
    }
}

struct Endpoint {
    record: EndpointRecord,
    generation: u64,
    worker: Option<JoinHandle<()>>,
    recent: VecDeque<AttemptLog>,
    /// The record changed since it was last saved.
    unsaved: bool,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if let Some(w) = self.worker.take() {
            w.abort();
        }
    }
}

pub struct Engine {
    settings: EngineSettings,
    port: Arc<dyn CorePort>,
    bus: EventBus,
    endpoints: BTreeMap<String, Endpoint>,
    reports_tx: mpsc::UnboundedSender<Tagged>,
    stats: Arc<EngineStats>,
    next_generation: u64,
}

/// Loads the stored endpoints and starts delivering; the records are
/// read through `port`, so this waits until the core answers.
pub fn start(settings: EngineSettings, port: Arc<dyn CorePort>, bus: EventBus) -> EngineHandle {
    let (commands_tx, commands) = mpsc::channel(64);
    let (reports_tx, reports) = mpsc::unbounded_channel();
    let stats = Arc::new(EngineStats::default());
    let engine = Engine {
        settings,
        port,
        bus,
        endpoints: BTreeMap::new(),
        reports_tx,
        stats: stats.clone(),
        next_generation: 0,
    };
    tokio::spawn(engine.run(commands, reports));
    EngineHandle {
        commands: commands_tx,
        stats,
    }
}

impl Engine {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut reports: mpsc::UnboundedReceiver<Tagged>,
    ) {
        self.load().await;
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(c) => self.command(c).await,
                    // The API is gone: Herald stops.
                    None => return,
                },
                Some(first) = reports.recv() => {
                    self.apply(first);
                    // Everything already queued, then one write per record.
                    while let Ok(more) = reports.try_recv() {
                        self.apply(more);
                    }
                    self.save_unsaved().await;
                }
            }
            self.count();
        }
    }

    async fn load(&mut self) {
        let blobs = loop {
            match self.port.load().await {
                Ok(b) => break b,
                Err(e) => {
                    tracing::debug!(error = %e, "webhook endpoints not loaded yet");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        };
        for blob in blobs {
            match EndpointRecord::decode(&blob) {
                Ok(record) => self.install(record, Vec::new()),
                Err(e) => tracing::error!(error = %e, "webhook endpoint record skipped"),
            }
        }
        tracing::info!(endpoints = self.endpoints.len(), "webhook delivery started");
        self.count();
    }

    /// Keeps `record` and (re)starts its worker if it is active.
    fn install(&mut self, record: EndpointRecord, resend: Vec<(String, u64)>) {
        let recent = (self.endpoints.remove(&record.id))
            .map(|mut old| std::mem::take(&mut old.recent))
            .unwrap_or_default();
        self.next_generation += 1;
        let generation = self.next_generation;
        let worker = match (record.is_active(), record.keys()) {
            (true, Ok(keys)) => Some(tokio::spawn(worker::run(WorkerSpec {
                record: record.clone(),
                generation,
                policy: self.settings.policy.clone(),
                max_in_flight: self.settings.max_in_flight,
                max_payload_bytes: self.settings.max_payload_bytes,
                owner_patterns: (self.settings.owner_patterns)
                    .get(&record.owner)
                    .cloned()
                    .unwrap_or_default(),
                port: self.port.clone(),
                bus: self.bus.clone(),
                reports: self.reports_tx.clone(),
                keys,
                resend,
            }))),
            (true, Err(e)) => {
                tracing::error!(endpoint = %record.id, error = %e, "webhook endpoint has a bad secret");
                None
            }
            (false, _) => None,
        };
        let id = record.id.clone();
        let endpoint = Endpoint {
            record,
            generation,
            worker,
            recent,
            unsaved: false,
        };
        self.endpoints.insert(id, endpoint);
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Create(record, reply) => {
                let saved = self.save(&record).await;
                if saved.is_ok() {
                    tracing::info!(endpoint = %record.id, url = %record.url, "webhook endpoint created");
                    self.install(*record, Vec::new());
                }
                let _ = reply.send(saved);
            }
            Command::Edit {
                id,
                owner,
                edit,
                resend_dead_letters,
                reply,
            } => {
                let Some(mut record) = self.own(&id, &owner).map(|e| e.record.clone()) else {
                    let _ = reply.send(Err(EngineError::NotFound(id)));
                    return;
                };
                edit(&mut record);
                let saved = self.save(&record).await;
                if saved.is_ok() {
                    let resend = match resend_dead_letters {
                        true => (record.dead_letters.iter())
                            .map(|d| (d.node.clone(), d.seq))
                            .collect(),
                        false => Vec::new(),
                    };
                    self.install(record.clone(), resend);
                }
                let _ = reply.send(saved.map(|()| record));
            }
            Command::Delete { id, owner, reply } => {
                if self.own(&id, &owner).is_none() {
                    let _ = reply.send(Err(EngineError::NotFound(id)));
                    return;
                }
                let deleted = (self.port.save(id.clone(), None).await)
                    .map_err(|e| EngineError::Store(e.to_string()));
                if deleted.is_ok() {
                    self.endpoints.remove(&id);
                    tracing::info!(endpoint = %id, "webhook endpoint deleted");
                }
                let _ = reply.send(deleted);
            }
            Command::List { owner, reply } => {
                let own = (self.endpoints.values())
                    .filter(|e| e.record.owner == owner)
                    .map(|e| e.record.clone())
                    .collect();
                let _ = reply.send(own);
            }
            Command::Attempts { id, owner, reply } => {
                let answer = match self.own(&id, &owner) {
                    Some(e) => Ok(e.recent.iter().rev().cloned().collect()),
                    None => Err(EngineError::NotFound(id)),
                };
                let _ = reply.send(answer);
            }
        }
    }

    /// `owner`'s endpoint `id` (another owner's is not found, so ids do
    /// not leak).
    fn own(&self, id: &str, owner: &str) -> Option<&Endpoint> {
        self.endpoints.get(id).filter(|e| e.record.owner == owner)
    }

    async fn save(&self, record: &EndpointRecord) -> Result<(), EngineError> {
        (self
            .port
            .save(record.id.clone(), Some(record.encode()))
            .await)
            .map_err(|e| EngineError::Store(e.to_string()))
    }

    /// Applies one worker report (reports of a replaced worker are stale).
    fn apply(&mut self, tagged: Tagged) {
        let disable_after = self.settings.disable_after_failing_ms;
        let Some(e) = self.endpoints.get_mut(&tagged.endpoint) else {
            return;
        };
        if e.generation != tagged.generation {
            return;
        }
        let r = &mut e.record;
        match tagged.report {
            Report::Attempt(log) => {
                let ok = log.error.is_none();
                if ok {
                    r.record_success();
                } else {
                    self.stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                    if r.record_failure(log.at_ms, disable_after) {
                        tracing::warn!(endpoint = %r.id, "webhook endpoint disabled: failing continuously");
                        stop(e);
                    }
                    e.unsaved = true;
                }
                if e.recent.len() == RECENT_ATTEMPTS {
                    e.recent.pop_front();
                }
                e.recent.push_back(log);
            }
            Report::Cursor { node, seq } => {
                r.advance(&node, seq);
                e.unsaved = true;
            }
            Report::Delivered => {
                self.stats.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Report::DeadLetter(letter) => {
                self.stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(endpoint = %r.id, node = %letter.node, seq = letter.seq, error = %letter.error, "webhook delivery dead-lettered");
                r.add_dead_letter(letter);
                e.unsaved = true;
            }
            Report::Resent { node, seq } => {
                r.dead_letters.retain(|d| !(d.node == node && d.seq == seq));
                e.unsaved = true;
            }
            Report::NodeReset { node } => {
                r.cursors.remove(&node);
                e.unsaved = true;
            }
            Report::Gone => {
                tracing::warn!(endpoint = %r.id, "webhook endpoint disabled: it answered 410 Gone");
                r.disable("the endpoint answered 410 Gone", super::attempts::now_ms());
                stop(e);
                e.unsaved = true;
            }
        }
    }

    async fn save_unsaved(&mut self) {
        let unsaved: Vec<EndpointRecord> = (self.endpoints.values_mut())
            .filter(|e| e.unsaved)
            .map(|e| {
                e.unsaved = false;
                e.record.clone()
            })
            .collect();
        for record in unsaved {
            if let Err(e) = self.save(&record).await {
                // Kept unsaved: written with the next report.
                tracing::warn!(endpoint = %record.id, error = %e, "webhook cursor not saved");
                if let Some(ep) = self.endpoints.get_mut(&record.id) {
                    ep.unsaved = true;
                }
            }
        }
    }

    fn count(&self) {
        let active = self
            .endpoints
            .values()
            .filter(|e| e.record.is_active())
            .count();
        let letters: usize = (self.endpoints.values())
            .map(|e| e.record.dead_letters.len())
            .sum();
        let s = &self.stats;
        s.active.store(active as u64, Ordering::Relaxed);
        let disabled = self.endpoints.len() - active;
        s.disabled.store(disabled as u64, Ordering::Relaxed);
        s.dead_letters.store(letters as u64, Ordering::Relaxed);
    }
}

/// Stops an endpoint's worker (its in-flight deliveries are dropped; a
/// re-enable sends them again from the cursor).
fn stop(e: &mut Endpoint) {
    if let Some(w) = e.worker.take() {
        w.abort();
    }
    if matches!(e.record.status, EndpointStatus::Active) {
        e.record.disable("stopped", super::attempts::now_ms());
    }
}
