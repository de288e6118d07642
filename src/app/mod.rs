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

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Link(#[from] ConnectError),
    #[error("storage: {0}")]
    Store(String),
    #[error("core stopped: {0}")]
    Core(String),
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
    let router = Router::new(service, ctx);
    tokio::spawn(tick(jobs_tx.downgrade()));
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
    let channels = LinkChannels {
        inbound: jobs_tx,
        outbox_tx,
        outbox_rx,
    };
    let state = Arc::new(LinkState::default());
    let result = run_link(settings, channels, state, shutdown).await;
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

/// Sends [`Job::Tick`] every second. Holds only a weak sender, so the core
/// still ends when the link drops the last real one.
async fn tick(jobs: mpsc::WeakSender<Job>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(jobs) = jobs.upgrade() else { return };
        // A full queue means the core is busy: skip this tick.
        if let Err(mpsc::error::TrySendError::Closed(_)) = jobs.try_send(Job::Tick) {
            return;
        }
    }
}
