//! The HTTP endpoints: ingest (PUT, POST, batch), health, readiness and
//! metrics. Each publish: authenticate, check names, content type and
//! size, decode, then hand the request to the core and wait for the
//! durable answer.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

use super::auth::Token;
use super::body::{self, check_name};
use super::error::ApiError;
use super::job::IngestJob;
use super::prometheus::{self, Gauges};
use super::{Ingest, now_ms};
use crate::config::TokenScope;
use crate::pubsub::{IdempotencyKey, IngestItem, IngestReply, IngestRequest, ItemStatus};

/// The most a batch body may hold, whatever the item limits say.
const MAX_BATCH_BODY: usize = 32 * 1024 * 1024;
const IDEMPOTENCY_HEADER: &str = "idempotency-key";

pub fn router(state: Arc<Ingest>) -> Router {
    Router::new()
        .route("/v1/nodes/{node}/items/{item_id}", put(put_item))
        .route("/v1/nodes/{node}/items", post(post_item))
        .route("/v1/nodes/{node}/items:batch", post(post_batch))
        .route("/v1/nodes/{node}/events", get(super::sse::events))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(super::webhooks::routes())
        .merge(super::console_api::routes())
        .merge(super::console_ui::routes())
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .with_state(state)
}

pub(super) fn webhook_gauges(
    s: &crate::webhooks::engine::EngineStats,
) -> prometheus::WebhookGauges {
    use std::sync::atomic::Ordering::Relaxed;
    prometheus::WebhookGauges {
        active: s.active.load(Relaxed),
        disabled: s.disabled.load(Relaxed),
        delivered: s.delivered.load(Relaxed),
        failed_attempts: s.failed_attempts.load(Relaxed),
        dead_lettered: s.dead_lettered.load(Relaxed),
        dead_letters: s.dead_letters.load(Relaxed),
    }
}

pub fn json_body(value: &serde_json::Value) -> String {
    let mut s = value.to_string();
    s.push('\n');
    s
}

pub(super) fn json_response(status: StatusCode, value: serde_json::Value) -> Response {
    let mut resp = (status, json_body(&value)).into_response();
    let ct = HeaderValue::from_static("application/json");
    resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    resp
}

async fn put_item(
    State(st): State<Arc<Ingest>>,
    Path((node, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = publish(&st, &node, Some(&id), &headers, body, false).await;
    finish(&node, result)
}

async fn post_item(
    State(st): State<Arc<Ingest>>,
    Path(node): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = publish(&st, &node, None, &headers, body, false).await;
    finish(&node, result)
}

async fn post_batch(
    State(st): State<Arc<Ingest>>,
    Path(node): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = publish(&st, &node, None, &headers, body, true).await;
    finish(&node, result)
}

fn finish(node: &str, result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(|e| e.logged(node, "ingest refused"))
}

async fn publish(
    st: &Ingest,
    node: &str,
    path_id: Option<&str>,
    headers: &HeaderMap,
    body: Body,
    batch: bool,
) -> Result<Response, ApiError> {
    let (token, name) = st
        .tokens
        .authorize_node(headers, TokenScope::Publish, node)?;
    if let Some(id) = path_id {
        check_name("item ID", id)?;
    }
    let kind = body::body_kind(headers)?;
    let idempotency = idempotency_key(st, token, headers)?;
    let max = st.settings.max_payload_bytes;
    let items = if batch {
        let limit = max
            .saturating_mul(st.settings.max_batch_items)
            .min(MAX_BATCH_BODY);
        let bytes = read_body(body, limit, st.settings.body_read_timeout).await?;
        let items = body::decode_batch(kind, &bytes)?;
        if items.len() > st.settings.max_batch_items {
            return Err(ApiError::too_large(format!(
                "the batch has {} items; http.max_batch_items is {}",
                items.len(),
                st.settings.max_batch_items
            )));
        }
        items
    } else {
        let bytes = read_body(body, max, st.settings.body_read_timeout).await?;
        vec![body::decode_single(kind, &bytes, path_id)?]
    };
    check_sizes(&items, max)?;
    let request = IngestRequest {
        node: name,
        items,
        may_create: token.create,
        idempotency,
    };
    let reply = st
        .jobs
        .submit(|reply| IngestJob::Publish { request, reply })
        .await??;
    tracing::debug!(node, token = %token.name, items = reply.items.len(), replayed = reply.replayed, "ingested");
    Ok(success(reply, batch))
}

/// A body of at most `limit` bytes (else 413) that arrives within
/// `timeout` (else 408: a client trickling its body holds no connection
/// for long).
async fn read_body(
    body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<axum::body::Bytes, ApiError> {
    let read = axum::body::to_bytes(body, limit);
    let Ok(read) = tokio::time::timeout(timeout, read).await else {
        return Err(ApiError::body_timeout(timeout.as_secs()));
    };
    read.map_err(|_| {
        ApiError::too_large(format!(
            "the body exceeds {limit} bytes (limits.max_payload_bytes per item)"
        ))
    })
}

fn check_sizes(items: &[IngestItem], max: usize) -> Result<(), ApiError> {
    for (i, item) in items.iter().enumerate() {
        if item.payload.len() > max {
            return Err(ApiError::too_large(format!(
                "item {i}: the payload is {} bytes as XML; limits.max_payload_bytes is {max}",
                item.payload.len()
            )));
        }
    }
    Ok(())
}

/// The `Idempotency-Key` header, scoped to the token: 1 to 255 visible
/// ASCII characters.
fn idempotency_key(
    st: &Ingest,
    token: &Token,
    headers: &HeaderMap,
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
        })?;
    Ok(Some(IdempotencyKey {
        key: format!("{}\n{key}", token.name),
        now_ms: now_ms(),
        retention_ms: st.settings.idempotency_retention_ms,
    }))
}

fn success(reply: IngestReply, batch: bool) -> Response {
    let replayed = reply.replayed;
    let (status, body) = match (batch, reply.items.first()) {
        (false, Some(item)) => {
            let status = match item.status {
                ItemStatus::Created => StatusCode::CREATED,
                _ => StatusCode::OK,
            };
            let body = json!({
                "node": reply.node, "id": item.id, "seq": item.seq,
                "status": item.status, "replayed": replayed,
            });
            (status, body)
        }
        _ => (StatusCode::OK, json!(reply)),
    };
    let mut resp = json_response(status, body);
    if replayed {
        let h = resp.headers_mut();
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    resp
}

async fn healthz() -> Response {
    json_response(StatusCode::OK, json!({ "status": "ok" }))
}

/// Ready: the component link is up and a flush went through.
async fn readyz(State(st): State<Arc<Ingest>>) -> Response {
    if !st.link.is_up() {
        return ApiError::unavailable("the component link to ejabberd is down").into_response();
    }
    if let Some(reason) = st.store_check.get().and_then(|check| check()) {
        return ApiError::unavailable(reason).into_response();
    }
    let probe = st.jobs.submit(|reply| IngestJob::Probe { reply });
    match tokio::time::timeout(Duration::from_secs(2), probe).await {
        Ok(Ok(())) => json_response(StatusCode::OK, json!({ "status": "ready" })),
        Ok(Err(e)) => e.into_response(),
        Err(_) => {
            ApiError::unavailable("the store did not complete a flush in 2 s").into_response()
        }
    }
}

async fn metrics(State(st): State<Arc<Ingest>>) -> Response {
    let stats = st.jobs.submit(|reply| IngestJob::Stats { reply });
    let stats = tokio::time::timeout(Duration::from_secs(2), stats)
        .await
        .ok()
        .and_then(Result::ok);
    let gauges = Gauges {
        outbox_depth: (st.outbox_depth)(),
        link_up: st.link.is_up(),
        connections_up: st.link.up.load(std::sync::atomic::Ordering::Relaxed),
        connections: st.link.links.load(std::sync::atomic::Ordering::Relaxed),
        link_reconnects: st.link.reconnects(),
        stats,
        top_nodes: st.settings.metrics_top_nodes,
        webhooks: webhook_gauges(&st.hooks.stats),
    };
    let text = match prometheus::render(&gauges) {
        Ok(text) => text,
        Err(e) => {
            tracing::warn!(error = %e, "encoding /metrics failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut resp = (StatusCode::OK, text).into_response();
    let ct = HeaderValue::from_static(prometheus::CONTENT_TYPE);
    resp.headers_mut().insert(header::CONTENT_TYPE, ct);
    resp
}
