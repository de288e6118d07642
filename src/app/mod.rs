//! Wiring: the component link, the core thread and (later) HTTP, started
//! from one config and stopped by one shutdown signal.

mod clock;
mod cluster;
mod executor;
mod multicast;
mod nats_health;
mod outboxes;
mod router;
mod settings;
mod storage;

pub use executor::{Dispatch, Job};

use crate::chat::{BodyRenderer, ChatService};
use crate::component::{
    Admission, ConnectError, LinkChannels, LinkSettings, LinkState, Trackers, run_link,
};
use crate::config::Config;
use crate::protocol::pubsub_handler::ProtocolCtx;
use crate::pubsub::Service;
use crate::relay::Relay;
use outboxes::Outboxes;
use router::Router;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

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

/// Runs Herald until `shutdown` turns true: alone, or as one instance of
/// a cluster (`[cluster] enabled`, see `cluster/`).
pub async fn run(config: Config, shutdown: watch::Receiver<bool>) -> Result<(), AppError> {
    if config.cluster.enabled {
        return cluster::run(config, shutdown).await;
    }
    let connections = config.component.connections;
    let (outboxes, outbox_rxs) = Outboxes::new(connections, config.limits.outbox_capacity);
    let store = storage::open_store(&config).await?.0;
    let bus = crate::events::EventBus::default();
    let core = start_core(
        &config,
        store,
        &outboxes,
        &bus,
        config.limits.outbox_capacity,
    )?;
    let jobs_tx = core.jobs.clone();
    let settings = link_settings(&config, connections == 1);
    let settings_confirm = settings.confirm;
    let state = Arc::new(LinkState::default());
    state
        .links
        .store(connections, std::sync::atomic::Ordering::Relaxed);
    let http = start_http(&config, &jobs_tx, &outboxes, &state, &shutdown, bus).await?;
    let result = run_links(
        settings,
        jobs_tx,
        &outboxes,
        Arc::new(Admission::new(
            &config.component.jid,
            settings::admission_settings(&config),
        )),
        outbox_rxs,
        state,
        Arc::new(Trackers::new(connections, settings_confirm)),
        shutdown,
    )
    .await;
    drop(core.jobs);
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
    // The links owned the job senders: the core drains what it has,
    // commits, and ends.
    join_core(core.thread).await?;
    result.map_err(AppError::from)
}

/// The running core: its job queue and its thread.
struct Core {
    jobs: mpsc::Sender<Job>,
    thread: std::thread::JoinHandle<Result<(), String>>,
}

/// Loads the service from `store` and starts the core thread with its
/// timers. The core ends once every sender of `Core::jobs` is gone.
fn start_core(
    config: &Config,
    store: Box<dyn crate::store::Store>,
    outboxes: &Outboxes,
    bus: &crate::events::EventBus,
    capacity: usize,
) -> Result<Core, AppError> {
    let service_jid = tokio_xmpp::jid::Jid::new(&config.component.jid)
        .map_err(|e| AppError::Core(format!("component.jid: {e}")))?;
    let (jobs_tx, jobs_rx) = mpsc::channel(capacity);
    let settings = settings::service_settings(config).map_err(AppError::Core)?;
    // Loading reads the whole store: off the async workers (and the
    // JetStream store blocks on this runtime, see store/jetstream).
    let mut service = tokio::task::block_in_place(|| Service::open(store, settings))
        .map_err(|e| AppError::Store(e.to_string()))?;
    service.set_queue_settings(settings::queue_settings(config));
    service.set_dead_letter_renderer(settings::DEAD_LETTER_RENDERER);
    // Long purges and deletes report to the board `GET /v1/operations` reads.
    service.set_progress(Box::new(crate::operations::BoardProgress(
        crate::operations::OPERATIONS.clone(),
    )));
    let ctx = ProtocolCtx {
        service_jid: service_jid.to_bare(),
        max_payload_bytes: config.limits.max_payload_bytes,
        multicast: None,
    };
    let queue_tick_every = Duration::from_millis(config.queue.tick_ms);
    tokio::spawn(queue_tick(jobs_tx.downgrade(), queue_tick_every));
    let (relay, chat) = people(config, &ctx.service_jid)?;
    let multicast = multicast::Multicast::new(
        config.component.multicast,
        config.component.multicast_batch,
        service_jid.clone(),
    );
    let mut router = Router::new(service, ctx)
        .with_ingest_policy(settings::ingest_policy(&config.http))
        .with_people(relay, chat)
        .with_multicast(multicast);
    if config.http.listen.is_some() {
        router = router.with_bus(bus.clone());
    }
    tokio::spawn(tick(jobs_tx.downgrade()));
    let core_outbox = outboxes.clone();
    let thread = std::thread::Builder::new()
        .name("herald-core".into())
        .spawn(move || executor::run_executor(router, jobs_rx, core_outbox))
        .map_err(|e| AppError::Core(e.to_string()))?;
    Ok(Core {
        jobs: jobs_tx,
        thread,
    })
}

/// Waits for the core thread to drain, commit and end.
async fn join_core(thread: std::thread::JoinHandle<Result<(), String>>) -> Result<(), AppError> {
    let core_result = tokio::task::spawn_blocking(move || thread.join())
        .await
        .map_err(|e| AppError::Core(e.to_string()))?;
    match core_result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(AppError::Core(e)),
        Err(_) => Err(AppError::Core("core thread panicked".into())),
    }
}

/// The component links' settings. `single`: only one connection for the
/// domain (this process alone, one link) can expect its own ping replies;
/// with several, ejabberd may answer a link's ping on another one.
fn link_settings(config: &Config, single: bool) -> LinkSettings {
    LinkSettings {
        jid: config.component.jid.clone(),
        host: config.component.host.clone(),
        port: config.component.port,
        secret: config.secret().to_owned(),
        keepalive: Duration::from_secs(config.component.keepalive_secs),
        expect_ping_replies: single,
        confirm: settings::confirm_settings(config),
    }
}

/// Runs one link per outbox. A fatal error on any link (wrong secret)
/// stops them all; otherwise they run until `shutdown`.
// The link set's parts, each owned by the caller (a cluster instance
// shares its trackers with the probe relay); a struct would only rename them.
#[allow(clippy::too_many_arguments)]
async fn run_links(
    settings: LinkSettings,
    jobs: mpsc::Sender<Job>,
    outboxes: &Outboxes,
    admission: Arc<Admission>,
    receivers: Vec<mpsc::Receiver<tokio_xmpp::Stanza>>,
    state: Arc<LinkState>,
    trackers: Arc<Trackers>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), ConnectError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut links = tokio::task::JoinSet::new();
    for (index, outbox_rx) in receivers.into_iter().enumerate() {
        let channels = LinkChannels {
            inbound: jobs.clone(),
            outbox_tx: outboxes.sender(index),
            outbox_rx,
            index,
            trackers: trackers.clone(),
            admission: admission.clone(),
        };
        links.spawn(run_link(
            settings.clone(),
            channels,
            state.clone(),
            stop_rx.clone(),
        ));
    }
    drop(jobs);
    let mut result = Ok(());
    loop {
        tokio::select! {
            joined = links.join_next() => match joined {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => {
                    let _ = stop_tx.send(true);
                    result = Err(e);
                }
                Some(Err(e)) => {
                    tracing::error!(error = %e, "component link task failed");
                    let _ = stop_tx.send(true);
                }
            },
            _ = shutdown.changed() => {
                let _ = stop_tx.send(true);
            }
        }
    }
    result
}

/// Binds and serves the HTTP endpoints when `http.listen` is set.
async fn start_http(
    config: &Config,
    jobs: &mpsc::Sender<Job>,
    outboxes: &Outboxes,
    link: &Arc<LinkState>,
    shutdown: &watch::Receiver<bool>,
    bus: crate::events::EventBus,
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
    let weak = outboxes.downgrade();
    let depth = Box::new(move || weak.depth());
    let ingest = Arc::new(crate::ingest::Ingest::new(
        config,
        jobs.clone(),
        link.clone(),
        depth,
        bus,
    ));
    nats_health::watch_for(config, &ingest).await;
    let task = tokio::spawn(crate::ingest::serve(
        listener,
        ingest.clone(),
        shutdown.clone(),
    ));
    Ok(Some((ingest, task)))
}

/// The MUC relay and chat service, sharing one body renderer.
fn people(
    config: &Config,
    service_jid: &crate::pubsub::BareJid,
) -> Result<(Relay, ChatService), AppError> {
    let bodies = Arc::new(BodyRenderer::from_config(&config.chat));
    let relay = Relay::new(&config.relay, service_jid, bodies.clone()).map_err(AppError::Core)?;
    let chat = ChatService::new(&config.chat, bodies, service_jid.clone());
    Ok((relay, chat))
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

/// Sends [`Job::QueueTick`] every `every` (consumer-group ack deadlines and
/// redeliveries). Holds only a weak sender, so the core still ends when the
/// links drop the last real one.
async fn queue_tick(jobs: mpsc::WeakSender<Job>, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let Some(jobs) = jobs.upgrade() else { return };
        // A full queue means the core is busy: skip this tick.
        if let Err(mpsc::error::TrySendError::Closed(_)) = jobs.try_send(Job::QueueTick) {
            return;
        }
    }
}
