//! HTTP API for platform events: publishes as the system actor through
//! the core thread (answers only after the commit), plus `/healthz`,
//! `/readyz` and `/metrics`. Knows payloads, not XMPP stanzas.
//!
//! | file | what |
//! |---|---|
//! | `routes.rs` | endpoints and the publish flow |
//! | `auth.rs` | bearer tokens, node patterns |
//! | `body.rs` | content types, JSON / CloudEvents / XML to payloads, name checks |
//! | `job.rs` | the job handed to the core and the bounded wait |
//! | `error.rs` | statuses and JSON error bodies |
//! | `prometheus.rs` | `/metrics` text |
//! | `server.rs` | connections: timeouts, the connection cap |
//! | `sse.rs` | a node's log as Server-Sent Events |
//! | `client.rs` | the tiny HTTP client behind `herald publish` |
//! | `webhooks.rs`, `webhook_replay.rs` | `/v1/webhooks`: endpoints, replay, deliveries |
//! | `core_port.rs` | webhook delivery's access to the core |
//! | `console_api.rs` | the operator's JSON API: status, nodes, groups (scope `admin`) |
//! | `console_ui.rs`, `ui/console.html` | the web console at `/ui`, a static page over that API |

mod auth;
mod body;
pub mod client;
mod console_api;
pub mod console_cli;
mod console_ui;
mod core_port;
mod error;
mod job;
mod prometheus;
mod routes;
mod server;
mod sse;
mod webhook_replay;
mod webhooks;

pub use job::{ConsoleAnswer, ConsoleQuery, IngestJob, PublishResult, WebhookOp};

use crate::component::LinkState;
use crate::config::Config;
use crate::events::EventBus;
use crate::node_pattern::NodePattern;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};

/// Limits the endpoints apply.
#[derive(Debug, Clone)]
pub struct IngestSettings {
    pub max_payload_bytes: usize,
    pub max_batch_items: usize,
    pub idempotency_retention_ms: u64,
    /// A request body must arrive within this (else 408).
    pub body_read_timeout: Duration,
    /// Per-node series in `/metrics`: the nodes with the most items.
    pub metrics_top_nodes: usize,
}

/// Shared state of the HTTP endpoints.
pub struct Ingest {
    jobs: Arc<job::JobGate>,
    tokens: auth::Tokens,
    settings: IngestSettings,
    server: server::ServerLimits,
    link: Arc<LinkState>,
    outbox_depth: Box<dyn Fn() -> usize + Send + Sync>,
    /// `[webhooks]`: private-address policy and rotation grace for the API.
    webhooks: crate::config::WebhooksConfig,
    /// Committed log entries, live (SSE streams follow it).
    bus: EventBus,
    /// Turns true when the server stops: open streams end.
    stopping: watch::Sender<bool>,
    /// Webhook delivery, which owns the endpoint records.
    hooks: crate::webhooks::engine::EngineHandle,
    started: std::time::Instant,
    /// Why the store cannot write now, if it can tell (JetStream: a
    /// background probe, `app::nats_health`); `/readyz` answers 503 with it.
    store_check: std::sync::OnceLock<StoreCheck>,
}

pub type StoreCheck = Box<dyn Fn() -> Option<String> + Send + Sync>;

impl Ingest {
    /// Set once, at startup; a second call is ignored.
    pub fn set_store_check(&self, check: StoreCheck) {
        let _ = self.store_check.set(check);
    }

    pub fn new<J: From<IngestJob> + Send + 'static>(
        config: &Config,
        jobs: mpsc::Sender<J>,
        link: Arc<LinkState>,
        outbox_depth: Box<dyn Fn() -> usize + Send + Sync>,
        bus: EventBus,
    ) -> Self {
        let jobs = Arc::new(job::JobGate::new(jobs));
        let hooks = crate::webhooks::engine::start(
            crate::webhooks::engine::EngineSettings {
                policy: crate::webhooks::attempts::Policy {
                    schedule: config.webhooks.schedule(),
                    timeout: Duration::from_millis(config.webhooks.timeout_ms),
                    allow_private: config.webhooks.allow_private,
                    pool: Default::default(),
                },
                max_in_flight: config.webhooks.max_in_flight,
                disable_after_failing_ms: config.webhooks.disable_after_failing_ms,
                max_payload_bytes: config.limits.max_payload_bytes,
                owner_patterns: (config.http.tokens.iter())
                    .map(|(name, t)| (name.clone(), NodePattern::parse_all(&t.nodes)))
                    .collect(),
            },
            Arc::new(core_port::GatePort(jobs.clone())),
            bus.clone(),
        );
        Ingest {
            jobs,
            hooks,
            started: std::time::Instant::now(),
            store_check: std::sync::OnceLock::new(),
            tokens: auth::Tokens::from_config(&config.http.tokens),
            settings: IngestSettings {
                max_payload_bytes: config.limits.max_payload_bytes,
                max_batch_items: config.http.max_batch_items,
                idempotency_retention_ms: config.http.idempotency_retention_secs * 1000,
                body_read_timeout: Duration::from_secs(config.http.body_read_timeout_secs),
                metrics_top_nodes: config.http.metrics_top_nodes,
            },
            server: server_limits(config),
            link,
            outbox_depth,
            webhooks: config.webhooks.clone(),
            bus,
            stopping: watch::channel(false).0,
        }
    }
}

/// Binds `addr` (errors here are startup errors).
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// Serves until `shutdown` turns true, then closes the job sender so the
/// core can drain even while connections linger.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<Ingest>,
    mut shutdown: watch::Receiver<bool>,
) {
    let app = routes::router(state.clone());
    let stop = async move {
        while !*shutdown.borrow() {
            if shutdown.changed().await.is_err() {
                break;
            }
        }
    };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "HTTP listening");
    }
    let stop = async {
        stop.await;
        // Streams never end by themselves: end them, so the graceful
        // shutdown below only waits for requests.
        state.stopping.send_replace(true);
    };
    server::run(listener, app, state.server.clone(), stop).await;
    state.jobs.close();
}

fn server_limits(config: &Config) -> server::ServerLimits {
    server::ServerLimits {
        header_read_timeout: Duration::from_secs(config.http.header_read_timeout_secs),
        idle_timeout: Duration::from_secs(config.http.idle_timeout_secs),
        max_connections: config.http.max_connections,
    }
}

/// The endpoints as a router, for a cluster instance that mounts them
/// behind its leader/follower switch (`app/cluster/http.rs`).
pub fn app(state: Arc<Ingest>) -> axum::Router {
    routes::router(state)
}

/// Serves any `app` with the server limits of `config` until `stop`.
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    config: &Config,
    stop: impl std::future::Future<Output = ()>,
) {
    server::run(listener, app, server_limits(config), stop).await;
}

/// Ends open streams and closes the job sender (a leader stepping down
/// or shutting down behind `serve_router`).
pub fn shut(state: &Ingest) {
    state.stopping.send_replace(true);
    state.jobs.close();
}

/// Closes the job sender now (shutdown while requests are in flight).
pub fn close(state: &Ingest) {
    state.jobs.close();
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
