//! `/v1/webhooks`: endpoints managed by holders of a `webhooks`-scoped
//! token. Each endpoint belongs to the token that created it; its node
//! patterns must lie within that token's. Records are owned by the
//! delivery engine (`webhooks::engine`), which stores each change through
//! the core before answering: a 2xx here means the change is durable.

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
use super::{Ingest, now_ms};
use crate::config::TokenScope;
use crate::webhooks::endpoint::{CreateEndpoint, EndpointRecord, EndpointStatus};
use crate::webhooks::engine::{Edit, EngineError};
use crate::webhooks::signing::Secret;
use crate::webhooks::url_safety::{self, UrlError};

/// Largest request body of these endpoints.
const MAX_BODY: usize = 64 * 1024;

pub fn routes() -> Router<Arc<Ingest>> {
    Router::new()
        .route("/v1/webhooks", post(create).get(list))
        .route("/v1/webhooks/{id}", get(show).patch(update).delete(remove))
        .route("/v1/webhooks/{id}/rotate-secret", post(rotate))
        .route(
            "/v1/webhooks/{id}/replay",
            post(super::webhook_replay::replay),
        )
        .route(
            "/v1/webhooks/{id}/deliveries",
            get(super::webhook_replay::deliveries),
        )
}

pub(super) fn answer(status: StatusCode, value: serde_json::Value) -> Response {
    super::routes::json_response(status, value)
}

pub(super) fn finish(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(axum::response::IntoResponse::into_response)
}

pub(super) fn authorize<'a>(st: &'a Ingest, headers: &HeaderMap) -> Result<&'a Token, ApiError> {
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

pub(super) async fn read_json<T: serde::de::DeserializeOwned>(body: Body) -> Result<T, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::too_large(format!("the body is over {MAX_BODY} bytes")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("invalid_json", format!("invalid body: {e}")))
}

pub(super) fn engine_error(e: EngineError) -> ApiError {
    match e {
        EngineError::NotFound(_) => ApiError::not_found(e.to_string()),
        EngineError::Store(_) | EngineError::Stopped => ApiError::unavailable(e.to_string()),
    }
}

/// The token's endpoint `id`: 404 for another token's, so ids do not leak.
pub(super) async fn load_own(
    st: &Ingest,
    token: &Token,
    id: &str,
) -> Result<EndpointRecord, ApiError> {
    st.hooks.get(id, &token.name).await.map_err(engine_error)
}

/// Applies `edit` to the token's endpoint `id` in the engine (which owns
/// the records, so concurrent changes and delivery progress never race).
pub(super) async fn edit(
    st: &Ingest,
    token: &Token,
    id: &str,
    edit: Edit,
    resend_dead_letters: bool,
) -> Result<EndpointRecord, ApiError> {
    (st.hooks
        .edit(id, &token.name, edit, resend_dead_letters)
        .await)
        .map_err(engine_error)
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
    st.hooks
        .create(record.clone())
        .await
        .map_err(engine_error)?;
    let mut view = record.public_view();
    // The only time the secret is shown.
    view["secret"] = json!(record.secret);
    Ok(answer(StatusCode::CREATED, view))
}

async fn list(State(st): State<Arc<Ingest>>, headers: HeaderMap) -> Response {
    finish(
        async {
            let token = authorize(&st, &headers)?;
            let own: Vec<_> = (st.hooks.list(&token.name).await.map_err(engine_error)?)
                .iter()
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
    let record = load_own(st, token, id).await?;
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
    let now = now_ms();
    let change: Edit = Box::new(move |record| {
        record.url = def.url;
        record.nodes = def.nodes;
        record.description = def.description;
        record.strict_order = def.strict_order;
        match patch.enabled {
            Some(true) => {
                record.status = EndpointStatus::Active;
                record.failing_since_ms = None;
            }
            Some(false) => record.disable("disabled by its owner", now),
            None => {}
        }
    });
    let record = edit(st, token, id, change, false).await?;
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
            (st.hooks.delete(&id, &token.name).await).map_err(engine_error)?;
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
            // The new secret is made here, so it can be shown once.
            let secret = Secret::generate().map_err(|e| ApiError::unavailable(e.to_string()))?;
            let (now, grace) = (now_ms(), st.webhooks.rotation_grace_ms);
            let text = secret.to_text();
            let next = text.clone();
            let change: Edit = Box::new(move |r| r.rotate_secret_to(next, now, grace));
            let record = edit(&st, token, &id, change, false).await?;
            let mut view = record.public_view();
            view["secret"] = json!(text);
            Ok(answer(StatusCode::OK, view))
        }
        .await,
    )
}
