//! What HTTP hands to the core thread, and how it waits for the answer:
//! a bounded wait to enqueue (503 when the core is saturated), then the
//! reply, which the core sends only after the batch's commit.

use futures::future::BoxFuture;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

use super::error::ApiError;
use crate::node_pattern::NodePattern;
use crate::pubsub::{
    IngestError, IngestReply, IngestRequest, ItemId, ItemsPage, LogCursor, LogPage, NodeDetail,
    NodeName, NodeOverview, PubsubResult, ServiceStats,
};

pub type PublishResult = Result<IngestReply, IngestError>;

/// Work for the core thread from HTTP.
pub enum IngestJob {
    /// Answered after the commit that made it durable.
    Publish {
        request: IngestRequest,
        reply: oneshot::Sender<PublishResult>,
    },
    /// Nodes, dead letters and consumer groups (metrics).
    Stats {
        reply: oneshot::Sender<ServiceStats>,
    },
    /// Answered after a flush succeeded: the store is writable.
    Probe { reply: oneshot::Sender<()> },
    /// A page of a node's log after a cursor (SSE catch-up, webhook
    /// delivery); answered after the commit, so it holds only durable
    /// entries.
    Log {
        node: NodeName,
        cursor: LogCursor,
        max: usize,
        reply: oneshot::Sender<PubsubResult<LogPage>>,
    },
    /// The nodes any of `patterns` matches, with their newest seq.
    LogHeads {
        patterns: Vec<NodePattern>,
        reply: oneshot::Sender<Vec<(String, u64)>>,
    },
    /// The operator's view of the nodes (`/v1/nodes`, `herald nodes`).
    Console {
        query: ConsoleQuery,
        reply: oneshot::Sender<ConsoleAnswer>,
    },
    /// The operator resends a dead letter of `node`; answered after the
    /// commit.
    ResendDeadLetter {
        node: NodeName,
        item: ItemId,
        reply: oneshot::Sender<PubsubResult<()>>,
    },
    /// Webhook endpoint records (`webhooks::api`); writes are answered
    /// after their commit.
    Webhooks {
        op: WebhookOp,
        reply: oneshot::Sender<WebhookAnswer>,
    },
}

/// What the console asks of the core.
pub enum ConsoleQuery {
    /// Nodes any of `patterns` matches, in name order after `after`.
    Nodes {
        patterns: Vec<NodePattern>,
        after: Option<String>,
        max: usize,
    },
    Node(NodeName),
    DeadLetters(NodeName),
}

pub enum ConsoleAnswer {
    Nodes(Vec<NodeOverview>),
    Node(Box<PubsubResult<NodeDetail>>),
    DeadLetters(PubsubResult<ItemsPage>),
}

/// Endpoint records by id, or why the store failed.
pub type WebhookAnswer = Result<Vec<(String, Vec<u8>)>, String>;

/// What a [`IngestJob::Webhooks`] does with the endpoint records.
pub enum WebhookOp {
    /// Every record (answered with all of them).
    Load,
    /// Store or replace one record (answered with nothing).
    Put {
        id: String,
        record: Vec<u8>,
    },
    Delete {
        id: String,
    },
}

/// Longest wait for room in the core's job queue before answering 503.
pub const ENQUEUE_WAIT: Duration = Duration::from_secs(1);

/// Why a job did not get into the core's queue.
pub enum Refused {
    Full,
    Closed,
}

/// The core's job queue as ingest sees it: any channel whose jobs can be
/// made from an [`IngestJob`], so ingest need not know the core's job type.
pub trait Enqueue: Send + Sync {
    /// Waits at most `wait` for room, then gives up.
    fn enqueue(&self, job: IngestJob, wait: Duration) -> BoxFuture<'_, Result<(), Refused>>;
}

impl<J: From<IngestJob> + Send + 'static> Enqueue for mpsc::Sender<J> {
    fn enqueue(&self, job: IngestJob, wait: Duration) -> BoxFuture<'_, Result<(), Refused>> {
        Box::pin(async move {
            self.send_timeout(J::from(job), wait)
                .await
                .map_err(|e| match e {
                    mpsc::error::SendTimeoutError::Timeout(_) => Refused::Full,
                    mpsc::error::SendTimeoutError::Closed(_) => Refused::Closed,
                })
        })
    }
}

/// The job sender, closed at shutdown so the core can drain and stop
/// while HTTP connections linger.
pub struct JobGate(RwLock<Option<Arc<dyn Enqueue>>>);

impl JobGate {
    pub fn new(jobs: impl Enqueue + 'static) -> Self {
        JobGate(RwLock::new(Some(Arc::new(jobs))))
    }

    pub fn close(&self) {
        if let Ok(mut g) = self.0.write() {
            *g = None;
        }
    }

    /// Enqueues the job `make` builds and waits for its reply.
    pub async fn submit<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> IngestJob,
    ) -> Result<T, ApiError> {
        let jobs = self.0.read().ok().and_then(|g| g.clone());
        let jobs = jobs.ok_or_else(|| ApiError::unavailable("Herald is shutting down"))?;
        let (tx, rx) = oneshot::channel();
        match jobs.enqueue(make(tx), ENQUEUE_WAIT).await {
            Ok(()) => {}
            Err(Refused::Full) => {
                return Err(ApiError::unavailable(
                    "the core's job queue is full; nothing was written, retry later",
                ));
            }
            Err(Refused::Closed) => {
                return Err(ApiError::unavailable("the core has stopped"));
            }
        }
        drop(jobs);
        rx.await.map_err(|_| {
            ApiError::unavailable("the core stopped before the write was committed; retry")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Job;
    use axum::http::StatusCode;

    fn probe(reply: oneshot::Sender<()>) -> IngestJob {
        IngestJob::Probe { reply }
    }

    #[tokio::test]
    async fn a_full_queue_answers_503_after_the_bounded_wait() {
        let (tx, _rx) = mpsc::channel::<Job>(1);
        let gate = JobGate::new(tx.clone());
        let (filler, _) = oneshot::channel();
        assert!(tx.try_send(Job::Ingest(probe(filler))).is_ok());
        let started = std::time::Instant::now();
        let err = gate.submit(probe).await.unwrap_err();
        assert_eq!(err.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(started.elapsed() >= ENQUEUE_WAIT);
    }

    #[tokio::test]
    async fn a_closed_gate_or_a_dead_core_answers_503() {
        let (tx, rx) = mpsc::channel::<Job>(4);
        let gate = JobGate::new(tx);
        drop(rx);
        let err = gate.submit(probe).await.unwrap_err();
        assert_eq!(err.status, StatusCode::SERVICE_UNAVAILABLE);
        gate.close();
        let err = gate.submit(probe).await.unwrap_err();
        assert!(err.message.contains("shutting down"), "{}", err.message);
    }
}
