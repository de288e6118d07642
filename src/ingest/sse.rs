//! `GET /v1/nodes/{node}/events`: a node's log as Server-Sent Events
//! (HTML Living Standard, "Server-sent events").
//!
//! Each history entry is one event: `id:` its stanza-id (also a MAM
//! cursor), `event:` `item` or `retract`, `data:` the JSON of
//! `events::body`. A client resumes with `Last-Event-ID` (or
//! `?last_event_id=`): first the entries after it, read from the log page
//! by page, then live ones from the bus, with no gap and no duplicate at
//! the seam: the stream subscribes to the bus *before* reading the log,
//! and skips live entries it already sent (by seq). A cursor older than
//! the history is said out loud: `Herald-Events-Reset: true` and a first
//! `event: reset` naming the oldest entry kept.
//!
//! Bounded per client: a few frames queue between the follower and the
//! socket. Live, a client too slow to keep up (its queue full for
//! `SLOW_CLIENT`, or the bus overrun) is closed, and resumes by its last
//! ID from the log; catch-up goes at the client's pace. A comment
//! every `KEEP_ALIVE` keeps proxies and the idle timeout from cutting a
//! quiet stream.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc};

use super::Ingest;
use super::error::ApiError;
use super::job::IngestJob;
use crate::config::TokenScope;
use crate::events::body::sse_event_name;
use crate::events::bus::Batch;
use crate::node_pattern::{self, NodePattern};
use crate::pubsub::{LogCursor, LogEvent, LogPage, NodeName, PubsubError};

/// A comment line at least this often on a quiet stream.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The reconnection delay suggested to clients (`retry:`).
const RETRY: Duration = Duration::from_secs(2);
/// Entries per catch-up read.
const PAGE: usize = 500;
/// Frames queued between the follower and the socket.
const QUEUED_FRAMES: usize = 256;
/// A live stream whose queue stays full this long is closed: the client
/// does not keep up (the log, not the server's memory, holds its backlog).
pub const SLOW_CLIENT: Duration = Duration::from_secs(5);
/// Set on the response when the cursor was older than the history.
pub const RESET_HEADER: &str = "herald-events-reset";

#[derive(Debug, Deserialize)]
pub struct StreamQuery {
    last_event_id: Option<String>,
}

pub async fn events(
    State(st): State<Arc<Ingest>>,
    Path(node): Path<String>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> Response {
    (open(st, &node, query, &headers).await)
        .unwrap_or_else(|e| e.logged(&node, "event stream refused"))
}

async fn open(
    st: Arc<Ingest>,
    node: &str,
    query: StreamQuery,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let (token, name) = st.tokens.authorize_node(headers, TokenScope::Read, node)?;
    let last_id = (headers.get("last-event-id"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(query.last_event_id)
        .filter(|id| !id.is_empty());
    let cursor = match &last_id {
        Some(id) => LogCursor::ArchiveId(id.clone()),
        None => LogCursor::Now,
    };
    // Subscribed before the first read: nothing committed after it is missed.
    let live = st.bus.subscribe();
    let first = read(&st, &name, cursor).await.map_err(|e| match e {
        PageError::Api(e) => e,
        PageError::UnknownCursor => ApiError::bad_request(
            "unknown_event_id",
            format!("Last-Event-ID {last_id:?} is not an event of node {node:?}"),
        ),
    })?;
    let (frames_tx, frames_rx) = mpsc::channel(QUEUED_FRAMES);
    let reset = first.trimmed;
    let follower = Follower {
        st: st.clone(),
        node: name,
        patterns: token.patterns().to_vec(),
        frames: frames_tx,
        last_seq: first.after,
        lost_after: last_id,
    };
    tokio::spawn(follower.run(first, live));
    tracing::debug!(node, token = %token.name, "event stream opened");
    let stream = futures::stream::unfold(frames_rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|f| (Ok::<_, std::convert::Infallible>(f), rx))
    });
    // axum's SSE response: event framing, keep-alive comments while idle,
    // `text/event-stream` and `cache-control: no-cache`.
    let sse = Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE));
    let mut resp = sse.into_response();
    let h = resp.headers_mut();
    // Reverse proxies (nginx) must pass each event on at once.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    if reset {
        h.insert(RESET_HEADER, HeaderValue::from_static("true"));
    }
    Ok(resp)
}

enum PageError {
    Api(ApiError),
    /// The Last-Event-ID is not one of this node's entries.
    UnknownCursor,
}

async fn read(st: &Ingest, node: &NodeName, cursor: LogCursor) -> Result<LogPage, PageError> {
    let node = node.clone();
    let answer = st
        .jobs
        .submit(|reply| IngestJob::Log {
            node,
            cursor,
            max: PAGE,
            reply,
        })
        .await
        .map_err(PageError::Api)?;
    answer.map_err(|e| match e {
        PubsubError::ItemNotFound => PageError::UnknownCursor,
        PubsubError::NodeNotFound => PageError::Api(ApiError::not_found("no such node")),
        other => PageError::Api(ApiError::unavailable(format!(
            "reading the log failed: {other}"
        ))),
    })
}

/// Feeds one stream: catch-up from the log, then live from the bus.
struct Follower {
    st: Arc<Ingest>,
    node: NodeName,
    /// The token's node patterns: a collection's stream carries only the
    /// events of leaves the token may read too.
    patterns: Vec<NodePattern>,
    frames: mpsc::Sender<Event>,
    /// The seq of the last entry sent (or skipped as lost).
    last_seq: u64,
    /// The client's cursor, named in a `reset` event.
    lost_after: Option<String>,
}

/// Why a stream ended.
enum End {
    /// The client left, or the server stops.
    Gone,
    /// Too slow: the bus moved on more than its capacity.
    Lagged,
    Failed(String),
}

impl Follower {
    async fn run(mut self, first: LogPage, mut live: broadcast::Receiver<Batch>) {
        let end = self.serve(first, &mut live).await;
        let node = self.node.as_str();
        match end {
            End::Gone => tracing::debug!(node, "event stream closed"),
            End::Lagged => tracing::info!(
                node,
                last_seq = self.last_seq,
                "event stream closed: the client did not keep up (it resumes by Last-Event-ID)"
            ),
            End::Failed(e) => tracing::warn!(node, error = %e, "event stream ended"),
        }
    }

    async fn serve(&mut self, first: LogPage, live: &mut broadcast::Receiver<Batch>) -> End {
        if !self.send(Event::default().retry(RETRY)).await {
            return End::Gone;
        }
        if first.trimmed {
            let reset = serde_json::json!({
                "oldest_id": first.events.first().map(|e| e.archive_id.clone()),
                "lost_after": self.lost_after,
            });
            if !self
                .send(Event::default().event("reset").data(reset.to_string()))
                .await
            {
                return End::Gone;
            }
        }
        let mut page = first;
        loop {
            // Catch-up: the log until caught up, then what the bus held
            // meanwhile. If the bus overran during a long catch-up, the log
            // still has it all: read on from there.
            if let Err(end) = self.catch_up(page).await {
                return end;
            }
            match self.drain(live).await {
                Ok(()) => break,
                Err(End::Lagged) => {
                    *live = self.st.bus.subscribe();
                    page = match read(&self.st, &self.node, LogCursor::Seq(self.last_seq)).await {
                        Ok(p) => p,
                        Err(_) => return End::Failed("log read failed".into()),
                    };
                }
                Err(end) => return end,
            }
        }
        self.follow(live).await
    }

    async fn catch_up(&mut self, mut page: LogPage) -> Result<(), End> {
        loop {
            for e in &page.events {
                if !self.may_read(e) {
                    self.last_seq = e.seq;
                    continue;
                }
                let frame = frame(e, &crate::events::body::render(e));
                if !self.send(frame).await {
                    return Err(End::Gone);
                }
                self.last_seq = e.seq;
            }
            if page.complete {
                return Ok(());
            }
            page = read(&self.st, &self.node, LogCursor::Seq(self.last_seq))
                .await
                .map_err(|_| End::Failed("log read failed".into()))?;
        }
    }

    /// What the bus queued while the log was read.
    async fn drain(&mut self, live: &mut broadcast::Receiver<Batch>) -> Result<(), End> {
        loop {
            match live.try_recv() {
                Ok(batch) => self.send_batch(&batch).await?,
                Err(broadcast::error::TryRecvError::Empty) => return Ok(()),
                Err(broadcast::error::TryRecvError::Lagged(_)) => return Err(End::Lagged),
                Err(broadcast::error::TryRecvError::Closed) => return Err(End::Gone),
            }
        }
    }

    async fn follow(&mut self, live: &mut broadcast::Receiver<Batch>) -> End {
        let mut stop = self.st.stopping.subscribe();
        loop {
            let next = tokio::select! {
                next = live.recv() => next,
                _ = stopped(&mut stop) => return End::Gone,
                // The client left while the node was quiet.
                _ = self.frames.closed() => return End::Gone,
            };
            match next {
                Ok(batch) => {
                    if let Err(end) = self.send_batch(&batch).await {
                        return end;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => return End::Lagged,
                Err(broadcast::error::RecvError::Closed) => return End::Gone,
            }
        }
    }

    async fn send_batch(&mut self, batch: &Batch) -> Result<(), End> {
        for e in batch.iter() {
            if e.event.node != self.node.as_str() || e.event.seq <= self.last_seq {
                continue;
            }
            if !self.may_read(&e.event) {
                self.last_seq = e.event.seq;
                continue;
            }
            let frame = frame(&e.event, e.json());
            match tokio::time::timeout(SLOW_CLIENT, self.frames.send(frame)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(End::Gone),
                Err(_) => return Err(End::Lagged),
            }
            self.last_seq = e.event.seq;
        }
        Ok(())
    }

    /// Whether the token may read the event's leaf (always, for an entry
    /// of the node itself).
    fn may_read(&self, e: &LogEvent) -> bool {
        (e.leaf.as_deref()).is_none_or(|leaf| node_pattern::matches_any(&self.patterns, leaf))
    }

    async fn send(&self, frame: Event) -> bool {
        self.frames.send(frame).await.is_ok()
    }
}

/// Until the server stops.
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// One entry as an event. Archive IDs are hex, so `id` cannot hold the
/// NUL that axum refuses.
fn frame(e: &LogEvent, json: &str) -> Event {
    Event::default()
        .id(&e.archive_id)
        .event(sse_event_name(e))
        .data(json)
}
