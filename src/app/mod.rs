//! Wiring: the component link, the core thread and (later) HTTP, started
//! from one config and stopped by one shutdown signal.

mod executor;
mod router;

pub use executor::{Dispatch, Job};

use crate::component::{ConnectError, LinkChannels, LinkSettings, LinkState, run_link};
use crate::config::Config;
use crate::protocol::pubsub_handler::ProtocolCtx;
use crate::pubsub::{Service, ServiceSettings};
use crate::store::SledStore;
use router::Router;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_xmpp::Stanza;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Link(#[from] ConnectError),
    #[error("storage: {0}")]
    Store(String),
    #[error("core stopped: {0}")]
    Core(String),
    #[error("HTTP: {0}")]
    Http(String),
}

/// Runs Herald until `shutdown` turns true.
pub async fn run(config: Config, shutdown: watch::Receiver<bool>) -> Result<(), AppError> {
    let service_jid = tokio_xmpp::jid::Jid::new(&config.component.jid)
        .map_err(|e| AppError::Core(format!("component.jid: {e}")))?;
    let (outbox_tx, outbox_rx) = mpsc::channel(config.limits.outbox_capacity);
    let (jobs_tx, jobs_rx) = mpsc::channel(config.limits.outbox_capacity);
    let store = SledStore::open(&config.storage.data_dir)
        .map_err(|e| AppError::Store(format!("{}: {e}", config.storage.data_dir.display())))?;
    let settings =
        ServiceSettings::from_config(&config).map_err(|e| AppError::Core(e.to_string()))?;
    let service = Service::open(store, settings).map_err(|e| AppError::Store(e.to_string()))?;
    let ctx = ProtocolCtx {
        service_jid: service_jid.to_bare(),
        max_payload_bytes: config.limits.max_payload_bytes,
    };
    let router = Router::new(service, ctx).with_ingest_policy(router::IngestPolicy {
        retention_ms: config.http.idempotency_retention_secs * 1000,
        max_keys: config.http.idempotency_max_keys,
    });
    let core_outbox = outbox_tx.clone();
    let core = std::thread::Builder::new()
        .name("herald-core".into())
        .spawn(move || executor::run_executor(router, jobs_rx, core_outbox))
        .map_err(|e| AppError::Core(e.to_string()))?;

    let settings = LinkSettings {
        jid: config.component.jid.clone(),
        host: config.component.host.clone(),
        port: config.component.port,
        secret: config.secret().to_owned(),
        keepalive: Duration::from_secs(config.component.keepalive_secs),
    };
    let state = Arc::new(LinkState::default());
    let http = start_http(&config, &jobs_tx, &outbox_tx, &state, &shutdown).await?;
    let channels = LinkChannels {
        inbound: jobs_tx,
        outbox_tx,
        outbox_rx,
    };
    let result = run_link(settings, channels, state, shutdown).await;
    if let Some((ingest, task)) = http {
        // In-flight requests get their answers; then the gate closes so
        // the core sees its last sender go.
        let wait = if result.is_ok() { 5 } else { 0 };
        if tokio::time::timeout(Duration::from_secs(wait), task)
            .await
            .is_err()
            && wait > 0
        {
            tracing::warn!("HTTP connections still open after 5 s; closing ingest");
        }
        crate::ingest::close(&ingest);
    }
    // The link owned the last job sender: the core drains what it has,
    // commits, and ends.
    let core_result = tokio::task::spawn_blocking(move || core.join())
        .await
        .map_err(|e| AppError::Core(e.to_string()))?;
    match core_result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(AppError::Core(e)),
        Err(_) => return Err(AppError::Core("core thread panicked".into())),
    }
    result.map_err(AppError::from)
}

/// Binds and serves the HTTP endpoints when `http.listen` is set.
async fn start_http(
    config: &Config,
    jobs: &mpsc::Sender<Job>,
    outbox: &mpsc::Sender<Stanza>,
    link: &Arc<LinkState>,
    shutdown: &watch::Receiver<bool>,
) -> Result<Option<(Arc<crate::ingest::Ingest>, JoinHandle<()>)>, AppError> {
    let Some(addr) = config.http.listen else {
        return Ok(None);
    };
    let listener = crate::ingest::bind(addr)
        .await
        .map_err(|e| AppError::Http(format!("cannot listen on {addr}: {e}")))?;
    if config.http.tokens.is_empty() {
        tracing::warn!("no http.tokens configured: every ingest request will get 401");
    }
    let weak = outbox.downgrade();
    let depth = Box::new(move || {
        weak.upgrade()
            .map_or(0, |s| s.max_capacity().saturating_sub(s.capacity()))
    });
    let ingest = Arc::new(crate::ingest::Ingest::new(
        config,
        jobs.clone(),
        link.clone(),
        depth,
    ));
    let task = tokio::spawn(crate::ingest::serve(
        listener,
        ingest.clone(),
        shutdown.clone(),
    ));
    Ok(Some((ingest, task)))
}
