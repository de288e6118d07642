//! The operations board: long operations (a purge or delete of a large
//! node, a webhook replay) record their progress here, and the HTTP side
//! reads it directly (`GET /v1/operations`) — the core is busy while its
//! operation runs and could not answer a question about it. Each
//! operation also logs when it starts, every [`LOG_EVERY`] while it runs,
//! and when it ends.
//!
//! One board per process ([`OPERATIONS`]), like [`crate::metrics::METRICS`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::pubsub::{Progress, Step};

/// Finished operations kept for the console (the newest).
const KEEP_FINISHED: usize = 20;
/// Least time between two progress lines of one operation.
const LOG_EVERY: Duration = Duration::from_secs(1);

pub static OPERATIONS: LazyLock<Arc<Board>> = LazyLock::new(|| Arc::new(Board::default()));

/// How an operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Running,
    Done,
    Failed,
}

/// One operation as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Record {
    pub id: u64,
    pub kind: &'static str,
    /// The node (or webhook endpoint) it works on.
    pub target: String,
    /// Units it expects to do (items, nodes), when known.
    pub total: Option<u64>,
    pub done: u64,
    pub state: State,
    pub error: Option<String>,
    /// When it started, ms since the Unix epoch.
    pub started_ms: u64,
    /// How long it has run (or ran).
    pub elapsed_ms: u64,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    /// Running operations and when each started (for `elapsed_ms`).
    running: BTreeMap<u64, (Record, Instant)>,
    finished: VecDeque<Record>,
}

/// Running and recently finished operations.
#[derive(Default)]
pub struct Board {
    inner: Mutex<Inner>,
}

/// What `GET /v1/operations` shows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    pub running: Vec<Record>,
    /// Newest first.
    pub finished: Vec<Record>,
}

impl Board {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data: still readable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers an operation and logs its start.
    pub fn begin(
        self: &Arc<Self>,
        kind: &'static str,
        target: &str,
        total: Option<u64>,
    ) -> Operation {
        let started_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let now = Instant::now();
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        let record = Record {
            id,
            kind,
            target: target.to_owned(),
            total,
            done: 0,
            state: State::Running,
            error: None,
            started_ms,
            elapsed_ms: 0,
        };
        inner.running.insert(id, (record, now));
        drop(inner);
        tracing::info!(operation = id, kind, target, total, "operation started");
        Operation {
            board: self.clone(),
            id,
            kind,
            last_log: now,
            ended: false,
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let inner = self.lock();
        let running = (inner.running.values())
            .map(|(r, at)| Record {
                elapsed_ms: at.elapsed().as_millis() as u64,
                ..r.clone()
            })
            .collect();
        let finished = inner.finished.iter().rev().cloned().collect();
        Snapshot { running, finished }
    }

    fn advance(&self, id: u64, done: u64) -> Option<Record> {
        let mut inner = self.lock();
        let (record, at) = inner.running.get_mut(&id)?;
        record.done = done;
        record.elapsed_ms = at.elapsed().as_millis() as u64;
        Some(record.clone())
    }

    fn end(&self, id: u64, result: Result<u64, String>) -> Option<Record> {
        let mut inner = self.lock();
        let (mut record, at) = inner.running.remove(&id)?;
        record.elapsed_ms = at.elapsed().as_millis() as u64;
        match result {
            Ok(done) => {
                record.done = done;
                record.state = State::Done;
            }
            Err(e) => {
                record.state = State::Failed;
                record.error = Some(e);
            }
        }
        if inner.finished.len() == KEEP_FINISHED {
            inner.finished.pop_front();
        }
        inner.finished.push_back(record.clone());
        Some(record)
    }
}

/// A running operation. Dropped without [`Operation::end`] (an early
/// return, a panic), it is recorded as failed: the board never shows a
/// ghost running forever.
pub struct Operation {
    board: Arc<Board>,
    id: u64,
    kind: &'static str,
    last_log: Instant,
    ended: bool,
}

impl Operation {
    /// `done` units so far; logs at most every [`LOG_EVERY`].
    pub fn advance(&mut self, done: u64) {
        let Some(r) = self.board.advance(self.id, done) else {
            return;
        };
        if self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            tracing::info!(
                operation = self.id,
                kind = self.kind,
                target = r.target,
                done,
                total = r.total,
                "operation in progress"
            );
        }
    }

    /// Records the end (`Ok(units done)` or the error) and logs it.
    pub fn end(mut self, result: Result<u64, String>) {
        self.ended = true;
        self.finish(result);
    }

    fn finish(&self, result: Result<u64, String>) {
        let Some(r) = self.board.end(self.id, result) else {
            return;
        };
        match &r.error {
            None => tracing::info!(
                operation = r.id,
                kind = r.kind,
                target = r.target,
                done = r.done,
                elapsed_ms = r.elapsed_ms,
                "operation finished"
            ),
            Some(e) => tracing::warn!(
                operation = r.id,
                kind = r.kind,
                target = r.target,
                done = r.done,
                error = e.as_str(),
                "operation failed"
            ),
        }
    }
}

impl Drop for Operation {
    fn drop(&mut self) {
        if !self.ended {
            self.finish(Err("interrupted".to_owned()));
        }
    }
}

/// The core's [`Progress`], reporting to a board.
pub struct BoardProgress(pub Arc<Board>);

impl Progress for BoardProgress {
    fn begin(&self, kind: &'static str, target: &str, total: u64) -> Box<dyn Step> {
        Box::new(self.0.begin(kind, target, Some(total)))
    }
}

impl Step for Operation {
    fn advance(&mut self, done: u64) {
        Operation::advance(self, done);
    }
    fn end(self: Box<Self>, result: Result<u64, String>) {
        Operation::end(*self, result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_runs_then_finishes_with_its_count() {
        let board = Arc::new(Board::default());
        let mut op = board.begin("purge", "big", Some(100));
        op.advance(40);
        let now = board.snapshot();
        assert_eq!(now.running.len(), 1);
        assert_eq!(now.running[0].done, 40);
        assert_eq!(now.running[0].total, Some(100));
        assert_eq!(now.running[0].state, State::Running);
        op.end(Ok(100));
        let after = board.snapshot();
        assert!(after.running.is_empty());
        assert_eq!(after.finished[0].done, 100);
        assert_eq!(after.finished[0].state, State::Done);
        assert_eq!(after.finished[0].target, "big");
    }

    #[test]
    fn a_dropped_operation_is_failed_and_errors_are_kept() {
        let board = Arc::new(Board::default());
        drop(board.begin("delete", "a", None));
        board.begin("purge", "b", None).end(Err("disk full".into()));
        let s = board.snapshot();
        assert!(s.running.is_empty());
        assert_eq!(s.finished[0].error.as_deref(), Some("disk full"));
        assert_eq!(s.finished[1].error.as_deref(), Some("interrupted"));
        assert!(s.finished.iter().all(|r| r.state == State::Failed));
    }

    #[test]
    fn only_the_newest_finished_are_kept() {
        let board = Arc::new(Board::default());
        for i in 0..KEEP_FINISHED as u64 + 5 {
            board.begin("purge", "n", None).end(Ok(i));
        }
        let s = board.snapshot();
        assert_eq!(s.finished.len(), KEEP_FINISHED);
        assert_eq!(s.finished[0].done, KEEP_FINISHED as u64 + 4);
    }

    #[test]
    fn the_core_reports_through_the_step_trait() {
        let board = Arc::new(Board::default());
        let progress = BoardProgress(board.clone());
        let mut step = progress.begin("purge", "n", 10);
        step.advance(5);
        assert_eq!(board.snapshot().running[0].done, 5);
        step.end(Ok(10));
        assert_eq!(board.snapshot().finished[0].done, 10);
    }
}
