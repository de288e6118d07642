//! The operator's JSON API (scope `admin`, limited by the token's node
//! patterns), read by `herald nodes|node|groups` and meant for the web
//! console:
//!
//! | route | what |
//! |---|---|
//! | `GET /v1/status` | uptime, link (and each connection), outbox, store size, publish and notification counts, webhooks |
//! | `GET /v1/nodes?after=&limit=` | nodes in name order with their counts |
//! | `GET /v1/nodes/{node}` | one node: counts, subscriptions, configuration |
//! | `GET /v1/groups` | consumer groups: members, backlog, held items, redeliveries, dead letters |
//! | `GET /v1/operations` | long operations (purge, delete, replay): running with progress, and the last finished |
//! | `GET /v1/nodes/{node}/dead-letters` | the node's dead letters |
//! | `POST /v1/nodes/{node}/dead-letters/{item}/resend` | publish the item again, drop its dead letter |
//!
//! Answers never hold a token or a secret: they are built from the core's
//! values field by field.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Token;
use super::error::ApiError;
use super::job::{ConsoleAnswer, ConsoleQuery, IngestJob};
use super::routes::json_response;
use super::{Ingest, body};
use crate::config::TokenScope;
use crate::metrics::{METRICS, Source};
use crate::protocol::timestamp::xep0082;
use crate::pubsub::{NodeOverview, PubsubError, SubscriptionState};

/// Most nodes per page.
const MAX_PAGE: usize = 1_000;

pub fn routes() -> Router<Arc<Ingest>> {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/nodes", get(nodes))
        .route("/v1/nodes/{node}", get(node))
        .route("/v1/groups", get(groups))
        .route("/v1/operations", get(operations))
        .route("/v1/nodes/{node}/dead-letters", get(dead_letters))
        .route(
            "/v1/nodes/{node}/dead-letters/{item}/resend",
            axum::routing::post(resend),
        )
}

fn admin<'a>(st: &'a Ingest, headers: &HeaderMap) -> Result<&'a Token, ApiError> {
    let token = st.tokens.authenticate(headers)?;
    token.check_rate()?;
    token.require_scope(TokenScope::Admin)?;
    Ok(token)
}

/// The admin token, and `node` as a name it may administer.
fn admin_node<'a>(
    st: &'a Ingest,
    headers: &HeaderMap,
    node: &str,
) -> Result<(&'a Token, crate::pubsub::NodeName), ApiError> {
    st.tokens.authorize_node(headers, TokenScope::Admin, node)
}

async fn ask(st: &Ingest, query: ConsoleQuery) -> Result<ConsoleAnswer, ApiError> {
    st.jobs
        .submit(|reply| IngestJob::Console { query, reply })
        .await
}

fn unexpected() -> ApiError {
    ApiError::unavailable("unexpected answer from the core")
}

fn finish(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(v) => json_response(StatusCode::OK, v),
        Err(e) => e.into_response(),
    }
}

async fn status(State(st): State<Arc<Ingest>>, headers: HeaderMap) -> Response {
    finish(
        async {
            admin(&st, &headers)?;
            // The store's size comes from the core; a busy core leaves it out.
            let stats = st.jobs.submit(|reply| IngestJob::Stats { reply }).await;
            let store_bytes = stats.ok().and_then(|s| s.store_bytes);
            let link = &st.link;
            Ok(json!({
                "uptime_s": st.started.elapsed().as_secs(),
                "link": {
                    "up": link.is_up(),
                    "connections_up": link.up.load(Ordering::Relaxed),
                    "connections": link.links.load(Ordering::Relaxed),
                    "reconnects": link.reconnects(),
                    "per_connection": link.links_up(),
                },
                "outbox_depth": (st.outbox_depth)(),
                "store_bytes": store_bytes,
                "publishes": {
                    "xmpp": METRICS.published(Source::Xmpp),
                    "http": METRICS.published(Source::Http),
                },
                "notifications": METRICS.notifications(),
                "webhooks": webhooks(&st),
            }))
        }
        .await,
    )
}

fn webhooks(st: &Ingest) -> Value {
    let w = super::routes::webhook_gauges(&st.hooks.stats);
    json!({
        "active": w.active,
        "disabled": w.disabled,
        "delivered": w.delivered,
        "failed_attempts": w.failed_attempts,
        "dead_letters": w.dead_letters,
    })
}

#[derive(Debug, Deserialize)]
struct Page {
    after: Option<String>,
    limit: Option<usize>,
}

fn overview(o: &NodeOverview) -> Value {
    json!({
        "node": o.node,
        "title": o.title,
        "items": o.items,
        "history": o.history,
        "subscriptions": o.subscriptions,
        "sequence": o.high_seq,
    })
}

async fn nodes(
    State(st): State<Arc<Ingest>>,
    Query(page): Query<Page>,
    headers: HeaderMap,
) -> Response {
    finish(
        async {
            let token = admin(&st, &headers)?;
            let max = page.limit.unwrap_or(100).clamp(1, MAX_PAGE);
            let query = ConsoleQuery::Nodes {
                patterns: token.patterns().to_vec(),
                after: page.after,
                max,
            };
            let ConsoleAnswer::Nodes(list) = ask(&st, query).await? else {
                return Err(unexpected());
            };
            let next = (list.len() == max).then(|| list.last().map(|o| o.node.clone()));
            let shown: Vec<Value> = list.iter().map(overview).collect();
            Ok(json!({ "nodes": shown, "next": next.flatten() }))
        }
        .await,
    )
}

fn state_name(s: &SubscriptionState) -> &'static str {
    match s {
        SubscriptionState::None => "none",
        SubscriptionState::Pending => "pending",
        SubscriptionState::Unconfigured => "unconfigured",
        SubscriptionState::Subscribed => "subscribed",
    }
}

async fn node(
    State(st): State<Arc<Ingest>>,
    Path(node): Path<String>,
    headers: HeaderMap,
) -> Response {
    finish(
        async {
            let (_, name) = admin_node(&st, &headers, &node)?;
            let ConsoleAnswer::Node(detail) = ask(&st, ConsoleQuery::Node(name)).await? else {
                return Err(unexpected());
            };
            let d = match *detail {
                Ok(d) => d,
                Err(PubsubError::NodeNotFound) => return Err(ApiError::not_found("no such node")),
                Err(e) => return Err(ApiError::unavailable(e.to_string())),
            };
            let mut v = overview(&d.overview);
            v["last_publish"] = json!(d.last_publish_ms.map(xep0082));
            v["subscribers"] = (d.subscriptions.iter())
                .map(|s| json!({"jid": s.jid.to_string(), "subid": s.subid, "state": state_name(&s.state)}))
                .collect();
            let config: serde_json::Map<String, Value> = (d.config.iter())
                .filter(|f| !f.var.is_empty())
                .map(|f| (f.var.clone(), json!(f.values)))
                .collect();
            v["config"] = Value::Object(config);
            Ok(v)
        }
        .await,
    )
}

async fn groups(State(st): State<Arc<Ingest>>, headers: HeaderMap) -> Response {
    finish(
        async {
            let token = admin(&st, &headers)?;
            let stats = st.jobs.submit(|reply| IngestJob::Stats { reply }).await?;
            let shown: Vec<Value> = (stats.groups.iter())
                .filter(|g| token.may_touch(&g.node))
                .map(group_json)
                .collect();
            Ok(json!({ "groups": shown, "dead_letters": stats.dead_letters }))
        }
        .await,
    )
}

/// Read from the board, not the core: the core is the one busy with the
/// operation. A token limited to some nodes sees the operations on them.
async fn operations(State(st): State<Arc<Ingest>>, headers: HeaderMap) -> Response {
    finish((|| {
        let token = admin(&st, &headers)?;
        let mut board = crate::operations::OPERATIONS.snapshot();
        // A replay's target is its webhook endpoint, not a node.
        let shown =
            |r: &crate::operations::Record| r.kind == "replay" || token.may_touch(&r.target);
        board.running.retain(shown);
        board.finished.retain(shown);
        serde_json::to_value(board).map_err(|e| ApiError::unavailable(e.to_string()))
    })())
}

fn group_json(g: &crate::pubsub::GroupStats) -> Value {
    let members: Vec<Value> = (g.members.iter())
        .map(|m| {
            json!({
                "jid": m.jid,
                "subid": m.subid,
                "credit": m.credit,
                "held": m.held,
                "available": m.available,
            })
        })
        .collect();
    json!({
        "node": g.node,
        "group": g.group,
        "backlog": g.backlog,
        "held": g.held,
        "lag": g.lag,
        "waiting": g.waiting,
        "redeliveries": g.redeliveries,
        "members": members,
    })
}

async fn dead_letters(
    State(st): State<Arc<Ingest>>,
    Path(node): Path<String>,
    headers: HeaderMap,
) -> Response {
    finish(
        async {
            let (_, name) = admin_node(&st, &headers, &node)?;
            let answer = ask(&st, ConsoleQuery::DeadLetters(name)).await?;
            let ConsoleAnswer::DeadLetters(page) = answer else {
                return Err(unexpected());
            };
            let page = page.map_err(|e| match e {
                PubsubError::NodeNotFound => ApiError::not_found("no such node"),
                e => ApiError::unavailable(e.to_string()),
            })?;
            let shown: Vec<Value> = (page.items.iter())
                .map(|i| {
                    json!({
                        "item_id": i.id,
                        "time": xep0082(i.published_ms),
                        "dead_letter": i.payload.as_deref(),
                    })
                })
                .collect();
            Ok(json!({ "node": node, "dead_letters": shown, "total": page.total }))
        }
        .await,
    )
}

async fn resend(
    State(st): State<Arc<Ingest>>,
    Path((node, item)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    finish(
        async {
            let (token, name) = admin_node(&st, &headers, &node)?;
            let item_id = body::item_id("item ID", item.clone())?;
            let answer = st
                .jobs
                .submit(|reply| IngestJob::ResendDeadLetter {
                    node: name,
                    item: item_id,
                    reply,
                })
                .await?;
            match answer {
                Ok(()) => {
                    tracing::info!(node, item, token = %token.name, "dead letter resent");
                    Ok(json!({ "resent": item, "node": node }))
                }
                Err(PubsubError::NodeNotFound | PubsubError::ItemNotFound) => {
                    Err(ApiError::not_found(format!(
                        "no dead letter {item:?} of node {node:?} (or its original item is gone)"
                    )))
                }
                Err(e) => Err(ApiError::unavailable(e.to_string())),
            }
        }
        .await,
    )
}
