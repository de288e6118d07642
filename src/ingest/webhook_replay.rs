//! `POST /v1/webhooks/{id}/replay` and `GET /v1/webhooks/{id}/deliveries`.
//!
//! A replay moves an endpoint's cursor back, so what follows is sent
//! again (with the same `webhook-id`s): on one node after an item ID or a
//! stanza-id, or on one or every followed node from a time; or it resends
//! the endpoint's dead letters. Cursors are resolved by the core (the
//! same log the deliveries are read from), then set by the engine.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::error::ApiError;
use super::job::IngestJob;
use super::webhooks::{answer, authorize, edit, finish, load_own, read_json};
use super::{Ingest, body};
use crate::node_pattern::NodePattern;
use crate::operations::{OPERATIONS, Operation};
use crate::protocol::timestamp::{parse_xep0082, xep0082};
use crate::pubsub::{LogCursor, NodeName, PubsubError};
use crate::webhooks::engine::Edit;

/// The body of a replay: exactly one way to say where from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Replay {
    node: Option<String>,
    after_item: Option<String>,
    after_stanza_id: Option<String>,
    /// RFC 3339 / XEP-0082 time: the entries at or after it.
    since: Option<String>,
    #[serde(default)]
    dead_letters: bool,
}

pub async fn replay(
    State(st): State<Arc<Ingest>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    finish(replay_inner(&st, &id, &headers, body).await)
}

async fn replay_inner(
    st: &Ingest,
    id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let token = authorize(st, headers)?;
    let req: Replay = read_json(body).await?;
    let record = load_own(st, token, id).await?;
    let ways = [
        req.after_item.is_some(),
        req.after_stanza_id.is_some(),
        req.since.is_some(),
        req.dead_letters,
    ];
    if ways.iter().filter(|w| **w).count() != 1 {
        return Err(ApiError::bad_request(
            "invalid_replay",
            "give exactly one of after_item, after_stanza_id (both with node), since \
             (node optional) or dead_letters: true",
        ));
    }
    if req.dead_letters {
        let count = record.dead_letters.len();
        edit(st, token, id, Box::new(|_| {}), true).await?;
        return Ok(answer(StatusCode::ACCEPTED, json!({ "resending": count })));
    }
    let patterns = NodePattern::parse_all(&record.nodes);
    let nodes = match &req.node {
        Some(node) => {
            let name = body::node_name(node)?;
            if !patterns.iter().any(|p| p.matches(&name)) {
                return Err(ApiError::bad_request(
                    "invalid_replay",
                    format!("the endpoint does not follow node {node:?}"),
                ));
            }
            vec![name]
        }
        None if req.since.is_some() => heads(st, patterns).await?,
        None => {
            return Err(ApiError::bad_request(
                "invalid_replay",
                "after_item and after_stanza_id need a node",
            ));
        }
    };
    let cursor = match (&req.after_item, &req.after_stanza_id, &req.since) {
        (Some(item), _, _) => LogCursor::Item(item.clone()),
        (_, Some(stanza_id), _) => LogCursor::ArchiveId(stanza_id.clone()),
        (_, _, Some(since)) => LogCursor::Since(parse_xep0082(since).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_replay",
                format!("since {since:?} is not an RFC 3339 time"),
            )
        })?),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_replay",
                "nothing to replay from",
            ));
        }
    };
    // Resolving a replay from a time visits every followed node: the
    // board shows how far it got.
    let mut op = OPERATIONS.begin("replay", id, Some(nodes.len() as u64));
    let rewinds = match rewind_points(st, nodes, &cursor, &mut op).await {
        Ok(r) => r,
        Err(e) => {
            op.end(Err(e.message.clone()));
            return Err(e);
        }
    };
    let count = rewinds.len() as u64;
    let shown: Vec<_> = (rewinds.iter())
        .map(|(node, seq)| json!({ "node": node, "after_sequence": seq }))
        .collect();
    let change: Edit = Box::new(move |r| {
        for (node, seq) in rewinds {
            r.rewind(&node, seq);
        }
    });
    if let Err(e) = edit(st, token, id, change, false).await {
        op.end(Err(e.message.clone()));
        return Err(e);
    }
    op.end(Ok(count));
    tracing::info!(endpoint = id, token = %token.name, "webhook replay");
    Ok(answer(StatusCode::ACCEPTED, json!({ "replaying": shown })))
}

/// The seq each node's replay restarts after, in `nodes` order.
async fn rewind_points(
    st: &Ingest,
    nodes: Vec<NodeName>,
    cursor: &LogCursor,
    op: &mut Operation,
) -> Result<Vec<(String, u64)>, ApiError> {
    let mut rewinds = Vec::new();
    for node in nodes {
        let seq = resolve(st, &node, cursor.clone()).await?;
        rewinds.push((node.as_str().to_owned(), seq));
        op.advance(rewinds.len() as u64);
    }
    Ok(rewinds)
}

async fn heads(st: &Ingest, patterns: Vec<NodePattern>) -> Result<Vec<NodeName>, ApiError> {
    let heads = (st.jobs)
        .submit(|reply| IngestJob::LogHeads { patterns, reply })
        .await?;
    Ok(heads
        .into_iter()
        .filter_map(|(node, _)| NodeName::new(&node).ok())
        .collect())
}

/// The seq a replay of `node` restarts after.
async fn resolve(st: &Ingest, node: &NodeName, cursor: LogCursor) -> Result<u64, ApiError> {
    let job = |reply| IngestJob::Log {
        node: node.clone(),
        cursor,
        max: 1,
        reply,
    };
    match st.jobs.submit(job).await? {
        Ok(page) => Ok(page.after),
        Err(PubsubError::ItemNotFound) => Err(ApiError::not_found(format!(
            "node {:?} holds no such item or stanza-id",
            node.as_str()
        ))),
        Err(PubsubError::NodeNotFound) => Err(ApiError::not_found("no such node")),
        Err(e) => Err(ApiError::unavailable(format!(
            "reading the log failed: {e}"
        ))),
    }
}

pub async fn deliveries(
    State(st): State<Arc<Ingest>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    finish(
        async {
            let token = authorize(&st, &headers)?;
            let attempts = (st.hooks.attempts(&id, &token.name).await)
                .map_err(super::webhooks::engine_error)?;
            let shown: Vec<_> = (attempts.iter())
                .map(|a| {
                    json!({
                        "webhook_id": a.msg_id,
                        "attempt": a.attempt,
                        "time": xep0082(a.at_ms),
                        "status": a.status,
                        "latency_ms": a.latency_ms,
                        "error": a.error,
                    })
                })
                .collect();
            Ok(answer(StatusCode::OK, json!({ "deliveries": shown })))
        }
        .await,
    )
}
