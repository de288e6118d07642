//! One instance of a Herald cluster (`[cluster] enabled`, JetStream
//! storage). Every instance keeps its own component links to ejabberd,
//! which hands each stanza for the domain to any of them. One instance at
//! a time holds the lease (`lease.rs`) and runs the core; the others pass
//! stanzas (`forward.rs`) and HTTP requests (`http.rs`) on to it. When
//! the leader dies its lease expires and a survivor takes it, loads the
//! state from JetStream, and notifies again what the old leader may not
//! have (`fanout.rs`). A leader that cannot renew its lease restarts as a
//! follower (docs/architecture.md, "Several instances").

mod fanout;
mod forward;
mod http;
mod lease;

use super::outboxes::Outboxes;
use super::{AppError, Job, join_core, link_settings, run_links, settings, start_core, storage};
use crate::component::{Admission, LinkState, Trackers};
use crate::config::{Config, nats_credentials};
use crate::store::{connect_client, open_bucket};
use forward::Target;
use lease::{Holder, Lease};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

pub async fn run(config: Config, mut shutdown: watch::Receiver<bool>) -> Result<(), AppError> {
    let Some(js_config) = config.storage.jetstream.clone() else {
        return Err(AppError::Store(
            "[cluster] needs [storage.jetstream]".into(),
        ));
    };
    let instance = config
        .cluster
        .instance
        .clone()
        .unwrap_or_else(default_instance);
    let credentials = nats_credentials(|k| std::env::var(k).ok()).map_err(AppError::Store)?;
    let client = connect_client(&js_config.servers, &credentials)
        .await
        .map_err(|e| AppError::Store(e.to_string()))?;
    let js = async_nats::jetstream::new(client.clone());
    let prefix = &js_config.stream_prefix;
    let ttl = Duration::from_millis(config.cluster.lease_ttl_ms);
    let bucket = |name: String, max_age| open_bucket(&js, name, js_config.replicas, max_age);
    let store_err = |e: crate::store::StoreError| AppError::Store(e.to_string());
    let lease = Lease::new(
        bucket(format!("{prefix}_lease"), Some(ttl))
            .await
            .map_err(store_err)?,
        ttl,
    );
    let marks = fanout::Marks::new(
        bucket(format!("{prefix}_fanout"), None)
            .await
            .map_err(store_err)?,
    );
    let subject = format!("{prefix}.cluster.stanzas");

    // Links first: a follower serves by forwarding.
    let capacity = config.limits.outbox_capacity;
    let connections = config.component.connections;
    let (outboxes, outbox_rxs) = Outboxes::new(connections, capacity);
    let link = Arc::new(LinkState::default());
    link.links
        .store(connections, std::sync::atomic::Ordering::Relaxed);
    let (inbound_tx, inbound_rx) = mpsc::channel(capacity);
    let (target_tx, target_rx) = watch::channel(Target::Nobody);
    let (local_tx, local_rx) = mpsc::channel(64);
    tokio::spawn(answer_locally(local_rx, outboxes.clone()));
    tokio::spawn(forward::dispatch(
        inbound_rx,
        target_rx,
        client.clone(),
        subject.clone(),
        local_tx,
    ));
    let (leader_tx, leader_rx) = watch::channel(None::<Holder>);
    let switch = Arc::new(http::Switch {
        real: RwLock::new(None),
        leader: leader_rx,
        instance: instance.clone(),
        link: link.clone(),
        store: super::nats_health::spawn(
            client.clone(),
            super::nats_health::store_streams(prefix, js_config.partitions, true),
        ),
    });
    let advertise = match (&config.cluster.advertise_http, config.http.listen) {
        (Some(url), _) => Some(url.clone()),
        (None, Some(addr)) => Some(format!("http://{addr}")),
        (None, None) => None,
    };
    let http_task = match config.http.listen {
        Some(addr) => {
            let listener = crate::ingest::bind(addr)
                .await
                .map_err(|e| AppError::Http(format!("cannot listen on {addr}: {e}")))?;
            let app = http::router(switch.clone());
            let (config, mut stop) = (config.clone(), shutdown.clone());
            Some(tokio::spawn(async move {
                let stopped = async move {
                    while !*stop.borrow() {
                        if stop.changed().await.is_err() {
                            break;
                        }
                    }
                };
                crate::ingest::serve_router(listener, app, &config, stopped).await;
            }))
        }
        None => None,
    };
    // ejabberd may hand a confirmation probe of ours to another instance's
    // connection: it comes back over NATS.
    let trackers = Arc::new(Trackers::new(
        connections,
        link_settings(&config, false).confirm,
    ));
    let probes = format!("{prefix}.cluster.probes");
    {
        let (client, probes) = (client.clone(), probes.clone());
        trackers.set_relay(move |id| {
            let (client, probes) = (client.clone(), probes.clone());
            tokio::spawn(async move {
                let _ = client.publish(probes, id.into()).await;
            });
        });
    }
    let probe_sub = client
        .subscribe(probes)
        .await
        .map_err(|e| AppError::Store(format!("NATS subscribe: {e}")))?;
    tokio::spawn(relayed_probes(probe_sub, trackers.clone()));
    let links = {
        let settings = link_settings(&config, false);
        let admission = Arc::new(Admission::new(
            &config.component.jid,
            settings::admission_settings(&config),
        ));
        let (outboxes, link, shutdown) = (outboxes.clone(), link.clone(), shutdown.clone());
        tokio::spawn(async move {
            run_links(
                settings, inbound_tx, &outboxes, admission, outbox_rxs, link, trackers, shutdown,
            )
            .await
        })
    };

    // The store is opened (connection, streams) while following, so a
    // takeover only loads; nothing is read or written before the lease.
    let (store, log) = storage::open_store(&config).await?;
    let Some(log) = log else {
        return Err(AppError::Store(
            "[cluster] needs the JetStream store".into(),
        ));
    };

    // Follow until the lease is free, then take it.
    let me = Holder {
        instance: instance.clone(),
        http: advertise,
        serving: false,
    };
    tracing::info!(instance, "cluster instance started; following");
    let held = loop {
        tokio::select! {
            _ = tokio::time::sleep(lease.look_period()) => {}
            _ = shutdown.changed() => {
                return finish_links(links, http_task).await;
            }
        }
        match lease.holder().await {
            Ok(Some(h)) if h.instance != instance => {
                let serving = h.serving;
                target_tx.send_replace(if serving {
                    Target::Forward
                } else {
                    Target::Nobody
                });
                leader_tx.send_replace(serving.then_some(h));
            }
            // Our own entry from before a restart: it expires by itself.
            Ok(Some(_)) => {
                target_tx.send_replace(Target::Nobody);
                leader_tx.send_replace(None);
            }
            Ok(None) => {
                target_tx.send_replace(Target::Nobody);
                leader_tx.send_replace(None);
                if let Some(held) = lease.try_take(me.clone()).await {
                    break held;
                }
            }
            Err(e) => tracing::warn!(error = %e, "lease not readable"),
        }
    };

    // Lead: load, resume fan-out, then serve; renewing all along (a
    // load may take longer than the TTL).
    tracing::info!(instance, "took the lease; loading");
    let (serving_tx, serving_rx) = watch::channel(false);
    let (release_tx, release_rx) = tokio::sync::oneshot::channel();
    let keeper = tokio::spawn(keep_lease(lease, held, serving_rx, release_rx));
    // While the lease is held (the keeper renews it, and steps down if it
    // cannot), a store that does not answer yet (a NATS election after a
    // server died) is waited for here: restarting would give the lease up
    // and cost a whole TTL before anyone leads again.
    let (resume, base) = loop {
        match fanout::takeover(&log, &marks).await {
            Ok(found) => break found,
            Err(e) => store_not_ready("the fan-out point", &e).await,
        }
    };
    let bus = crate::events::EventBus::default();
    let mut opened = Some(store);
    let core = loop {
        let store = match opened.take() {
            Some(store) => store,
            None => match storage::open_store(&config).await {
                Ok((store, _)) => store,
                Err(e) => {
                    store_not_ready("the store", &e).await;
                    continue;
                }
            },
        };
        match start_core(&config, store, &outboxes, &bus, capacity) {
            Ok(core) => break core,
            // The store was consumed: the next round opens it again.
            Err(AppError::Store(e)) => store_not_ready("the service", &e).await,
            Err(e) => return Err(e),
        }
    };
    if !resume.is_empty() {
        let _ = core.jobs.send(Job::Renotify(resume)).await;
    }
    tokio::spawn(fanout::record(log, marks, base));
    let sub = client
        .subscribe(subject)
        .await
        .map_err(|e| AppError::Store(format!("NATS subscribe: {e}")))?;
    let intake = tokio::spawn(forward::intake(sub, client.clone(), core.jobs.clone()));
    let ingest = config.http.listen.map(|_| {
        let weak = outboxes.downgrade();
        let ingest = Arc::new(crate::ingest::Ingest::new(
            &config,
            core.jobs.clone(),
            link.clone(),
            Box::new(move || weak.depth()),
            bus,
        ));
        if let Ok(mut real) = switch.real.write() {
            *real = Some(crate::ingest::app(ingest.clone()));
        }
        ingest
    });
    // Links that came up while following had their link-up go nowhere (a
    // follower has no core): without this the relay would not join its
    // rooms nor multicast be discovered until a reconnect.
    if link.is_up() {
        let _ = core.jobs.send(Job::LinkUp).await;
    }
    target_tx.send_replace(Target::Core(core.jobs.clone()));
    leader_tx.send_replace(None);
    serving_tx.send_replace(true);
    tracing::info!(instance, "leading");
    let _ = shutdown.changed().await;

    // Shutdown: the core drains and commits before the lease goes, so the
    // next leader loads everything this one acknowledged.
    let links_result = finish_links(links, http_task).await;
    intake.abort();
    if let Some(ingest) = &ingest {
        crate::ingest::shut(ingest);
    }
    target_tx.send_replace(Target::Nobody);
    drop(core.jobs);
    let joined = join_core(core.thread).await;
    let _ = release_tx.send(());
    let _ = keeper.await;
    joined?;
    links_result
}

/// Renews the lease every period until told to release it (after the
/// core committed its last batch); steps down when it cannot.
async fn keep_lease(
    lease: Lease,
    mut held: lease::Held,
    mut serving: watch::Receiver<bool>,
    mut release: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        held.holder.serving = *serving.borrow();
        if let Err(e) = lease.renew(&mut held).await {
            tracing::error!(error = %e, "stepping down: restarting as a follower");
            step_down();
        }
        tokio::select! {
            _ = tokio::time::sleep(lease.next_renewal(&held)) => {}
            // Followers learn at once that this leader serves.
            Ok(()) = serving.changed() => {}
            _ = &mut release => break,
        }
    }
    lease.release(&held).await;
}

async fn finish_links(
    links: tokio::task::JoinHandle<Result<(), crate::component::ConnectError>>,
    http: Option<tokio::task::JoinHandle<()>>,
) -> Result<(), AppError> {
    let result = links
        .await
        .map_err(|e| AppError::Core(format!("links: {e}")))?;
    if let Some(http) = http
        && tokio::time::timeout(Duration::from_secs(5), http)
            .await
            .is_err()
    {
        tracing::warn!("HTTP connections still open after 5 s");
    }
    result.map_err(AppError::from)
}

/// Probe answers other instances read for us.
async fn relayed_probes(mut sub: async_nats::Subscriber, trackers: Arc<Trackers>) {
    use futures::StreamExt;
    while let Some(msg) = sub.next().await {
        if let Ok(id) = std::str::from_utf8(&msg.payload) {
            trackers.answer_relayed(id);
        }
    }
}

/// Stanzas this instance answers itself (unparseable input).
async fn answer_locally(mut rx: mpsc::Receiver<tokio_xmpp::Stanza>, outboxes: Outboxes) {
    while let Some(s) = rx.recv().await {
        if outboxes.sender(0).send(s).await.is_err() {
            return;
        }
    }
}

/// Waits a second before the next attempt to load while leading.
async fn store_not_ready(what: &str, error: &dyn std::fmt::Display) {
    tracing::warn!(error = %error, "{what} not readable yet while taking over; retrying");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// A leader that lost its lease must stop writing at once: it restarts
/// itself as a follower (same arguments), dropping all in-memory state.
/// What it acknowledged is in JetStream; what it did not, its clients
/// retry.
fn step_down() -> ! {
    use std::os::unix::process::CommandExt;
    let err = match std::env::current_exe() {
        Ok(exe) => std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .exec()
            .to_string(),
        Err(e) => e.to_string(),
    };
    tracing::error!(error = %err, "restart failed; exiting");
    std::process::exit(1)
}

fn default_instance() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "herald".into());
    format!("{host}-{}", std::process::id())
}
