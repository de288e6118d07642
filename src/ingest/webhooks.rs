//! `/v1/webhooks`: endpoints managed by holders of a `webhooks`-scoped
//! token. Each endpoint belongs to the token that created it; its node
//! patterns must lie within that token's. Records live in the core's store
//! (`IngestJob::Webhooks`), so a 2xx here means the change is durable.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::auth::Token;
use super::error::ApiError;
use super::job::{IngestJob, WebhookOp};
use super::{Ingest, now_ms};
use crate::config::TokenScope;
use crate::webhooks::endpoint::{CreateEndpoint, EndpointRecord, EndpointStatus};
use crate::webhooks::url_safety::{self, UrlError};

/// Largest request body of these endpoints.
const MAX_BODY: usize = 64 * 1024;

pub fn routes() -> Router<Arc<Ingest>> {
    Router::new()
        .route("/v1/webhooks", post(create).get(list))
        .route("/v1/webhooks/{id}", get(show).patch(update).delete(remove))
        .route("/v1/webhooks/{id}/rotate-secret", post(rotate))
}

fn answer(status: StatusCode, value: serde_json::Value) -> Response {
    super::routes::json_response(status, value)
}

fn finish(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(axum::response::IntoResponse::into_response)
}

fn authorize<'a>(st: &'a Ingest, headers: &HeaderMap) -> Result<&'a Token, ApiError> {
    let token = st.tokens.authenticate(headers)?;
    token.check_rate()?;
    token.require_scope(TokenScope::Webhooks)?;
    Ok(token)
}

/// Each pattern must be one the token may touch (its text read as a node
/// name: `billing.*` lies within a token's `billing.*` or `*`).
fn check_patterns(token: &Token, nodes: &[String]) -> Result<(), ApiError> {
    for pattern in nodes {
        token.check_node(TokenScope::Webhooks, pattern)?;
    }
    Ok(())
}

async fn read_json<T: serde::de::DeserializeOwned>(body: Body) -> Result<T, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::too_large(format!("the body is over {MAX_BODY} bytes")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("invalid body: {e}")))
}

async fn run(st: &Ingest, op: WebhookOp) -> Result<Vec<(String, Vec<u8>)>, ApiError> {
    st.jobs
        .submit(|reply| IngestJob::Webhooks { op, reply })
        .await?
        .map_err(|e| ApiError::unavailable(format!("the store failed: {e}")))
}

async fn load_all(st: &Ingest) -> Result<Vec<EndpointRecord>, ApiError> {
    let records = run(st, WebhookOp::Load).await?;
    records
        .iter()
        .map(|(_, blob)| EndpointRecord::decode(blob))
        .collect::<Result<_, _>>()
        .map_err(|e| ApiError::unavailable(e.to_string()))
}

/// The token's endpoint `id`: 404 for another token's, so ids do not leak.
async fn load_own(st: &Ingest, token: &Token, id: &str) -> Result<EndpointRecord, ApiError> {
    load_all(st)
        .await?
        .into_iter()
        .find(|r| r.id == id && r.owner == token.name)
        .ok_or_else(|| ApiError::not_found(format!("no webhook endpoint {id:?}")))
}

async fn save(st: &Ingest, record: &EndpointRecord) -> Result<(), ApiError> {
    let op = WebhookOp::Put {
        id: record.id.clone(),
        record: record.encode(),
    };
    run(st, op).await.map(|_| ())
}

/// Resolves the URL now, so a private one is refused at once (it is
/// resolved again at every connection).
async fn check_url(st: &Ingest, url: &str) -> Result<(), ApiError> {
    match url_safety::resolve(url, st.webhooks.allow_private).await {
        Ok(_) => Ok(()),
        Err(e @ UrlError::Private { .. }) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "private_url",
            e.to_string(),
        )),
        Err(e) => Err(ApiError::bad_request("invalid_url", e.to_string())),
    }
}

async fn create(State(st): State<Arc<Ingest>>, headers: HeaderMap, body: Body) -> Response {
    finish(create_inner(&st, &headers, body).await)
}

async fn create_inner(st: &Ingest, headers: &HeaderMap, body: Body) -> Result<Response, ApiError> {
    let token = authorize(st, headers)?;
    let def: CreateEndpoint = read_json(body).await?;
    def.validate()
        .map_err(|e| ApiError::bad_request("invalid_webhook", e.to_string()))?;
    check_patterns(token, &def.nodes)?;
    check_url(st, &def.url).await?;
    let record = EndpointRecord::create(def, &token.name, now_ms())
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    save(st, &record).await?;
    tracing::info!(id = %record.id, token = %token.name, "webhook endpoint created");
    let mut view = record.public_view();
    // The only time the secret is shown.
    view["secret"] = json!(record.secret);
    Ok(answer(StatusCode::CREATED, view))
}

async fn list(State(st): State<Arc<Ingest>>, headers: HeaderMap) -> Response {
    finish(
        async {
            let token = authorize(&st, &headers)?;
            let own: Vec<_> = (load_all(&st).await?.iter())
                .filter(|r| r.owner == token.name)
                .map(EndpointRecord::public_view)
                .collect();
            Ok(answer(StatusCode::OK, json!({ "webhooks": own })))
        }
        .await,
    )
}

async fn show(
    State(st): State<Arc<Ingest>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    finish(
        async {
            let token = authorize(&st, &headers)?;
            let record = load_own(&st, token, &id).await?;
            Ok(answer(StatusCode::OK, record.public_view()))
        }
        .await,
    )
}

/// The body of `PATCH /v1/webhooks/{id}`: any of these.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Patch {
    url: Option<String>,
    nodes: Option<Vec<String>>,
    description: Option<String>,
    strict_order: Option<bool>,
    /// `true` re-enables a disabled endpoint; `false` disables it.
    enabled: Option<bool>,
}

async fn update(
    State(st): State<Arc<Ingest>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    finish(update_inner(&st, &id, &headers, body).await)
}

async fn update_inner(
    st: &Ingest,
    id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let token = authorize(st, headers)?;
    let patch: Patch = read_json(body).await?;
    let mut record = load_own(st, token, id).await?;
    let def = CreateEndpoint {
        url: patch.url.unwrap_or(record.url.clone()),
        nodes: patch.nodes.unwrap_or(record.nodes.clone()),
        description: patch.description.unwrap_or(record.description.clone()),
        strict_order: patch.strict_order.unwrap_or(record.strict_order),
    };
    def.validate()
        .map_err(|e| ApiError::bad_request("invalid_webhook", e.to_string()))?;
    check_patterns(token, &def.nodes)?;
    if def.url != record.url {
        check_url(st, &def.url).await?;
    }
    record.url = def.url;
    record.nodes = def.nodes;
    record.description = def.description;
    record.strict_order = def.strict_order;
    match patch.enabled {
        Some(true) => {
            record.status = EndpointStatus::Active;
            record.failing_since_ms = None;
        }
        Some(false) => record.disable("disabled by its owner", now_ms()),
        None => {}
    }
    save(st, &record).await?;
    Ok(answer(StatusCode::OK, record.public_view()))
}

async fn remove(
    State(st): State<Arc<Ingest>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    finish(
        async {
            let token = authorize(&st, &headers)?;
            let record = load_own(&st, token, &id).await?;
            run(&st, WebhookOp::Delete { id: record.id }).await?;
            Ok(answer(StatusCode::OK, json!({ "deleted": id })))
        }
        .await,
    )
}

async fn rotate(
    State(st): State<Arc<Ingest>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    finish(
        async {
            let token = authorize(&st, &headers)?;
            let mut record = load_own(&st, token, &id).await?;
            let secret = (record.rotate_secret(now_ms(), st.webhooks.rotation_grace_ms))
                .map_err(|e| ApiError::unavailable(e.to_string()))?;
            save(&st, &record).await?;
            let mut view = record.public_view();
            view["secret"] = json!(secret);
            Ok(answer(StatusCode::OK, view))
        }
        .await,
    )
}
