//! Whether the JetStream store can write right now, for `/readyz`. A
//! store write needs the NATS connection up and a leader for the stream
//! it goes to; without them a publish just stalls until it times out, so
//! `/readyz` says why instead. Asking NATS on every `/readyz` would put
//! load-balancer polling onto the cluster: a background task probes every
//! second and `/readyz` reads its last verdict.

use async_nats::connection::State;
use async_nats::jetstream;
use std::sync::{Arc, RwLock};
use std::time::Duration;

const PERIOD: Duration = Duration::from_secs(1);
/// Below the period, so a probe that hangs still leaves a verdict each
/// second; a healthy stream answers in milliseconds.
const TIMEOUT: Duration = Duration::from_millis(800);

/// The last verdict: `None` when writable, else the reason.
#[derive(Clone, Default)]
pub struct NatsHealth(Arc<RwLock<Option<String>>>);

impl NatsHealth {
    pub fn problem(&self) -> Option<String> {
        self.0.read().ok().and_then(|p| p.clone())
    }

    fn set(&self, verdict: Option<String>) {
        if let Ok(mut p) = self.0.write() {
            if *p != verdict {
                match &verdict {
                    Some(reason) => tracing::warn!(reason, "store not writable"),
                    None => tracing::info!("store writable again"),
                }
            }
            *p = verdict;
        }
    }
}

/// Probes until the process ends (the task is cheap and holds no lock
/// across awaits). `streams`: the store's streams (the partitions); a
/// stream not created yet is no problem (the leader creates it on load).
pub fn spawn(client: async_nats::Client, streams: Vec<String>) -> NatsHealth {
    let health = NatsHealth::default();
    let out = health.clone();
    tokio::spawn(async move {
        let js = jetstream::new(client.clone());
        loop {
            out.set(probe(&client, &js, &streams).await);
            tokio::time::sleep(PERIOD).await;
        }
    });
    health
}

/// The streams a write may go to (names as in `store::jetstream::names`
/// and `app::cluster`): the partitions and the KV buckets' streams, each
/// with its own leader; `cluster` adds the lease and fan-out buckets.
pub fn store_streams(prefix: &str, partitions: u32, cluster: bool) -> Vec<String> {
    let mut buckets = vec!["nodes", "queues", "idem", "webhooks"];
    if cluster {
        buckets.extend(["lease", "fanout"]);
    }
    (0..partitions)
        .map(|p| format!("{prefix}_P{p}"))
        .chain(buckets.iter().map(|b| format!("KV_{prefix}_{b}")))
        .collect()
}

/// For one instance on JetStream: a connection of its own for the probe
/// (the store's is inside `store::jetstream`), and `/readyz` reads it.
pub async fn watch_for(config: &crate::config::Config, ingest: &crate::ingest::Ingest) {
    let Some(js) = config.storage.jetstream.as_ref() else {
        return;
    };
    if config.storage.backend != crate::config::Backend::Jetstream {
        return;
    }
    let credentials = match crate::config::nats_credentials(|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => return tracing::warn!(error = %e, "no readiness probe of NATS"),
    };
    match crate::store::connect_client(&js.servers, &credentials).await {
        Ok(client) => {
            let health = spawn(
                client,
                store_streams(&js.stream_prefix, js.partitions, false),
            );
            ingest.set_store_check(Box::new(move || health.problem()));
        }
        Err(e) => tracing::warn!(error = %e, "no readiness probe of NATS"),
    }
}

async fn probe(
    client: &async_nats::Client,
    js: &jetstream::Context,
    streams: &[String],
) -> Option<String> {
    match client.connection_state() {
        State::Connected => {}
        State::Pending => return Some("nats: connecting".into()),
        State::Disconnected => return Some("nats: disconnected".into()),
    }
    // All at once: one round costs at most one timeout, whatever the count.
    let checks = streams.iter().map(|name| stream_problem(js, name));
    futures::future::join_all(checks)
        .await
        .into_iter()
        .flatten()
        .next()
}

async fn stream_problem(js: &jetstream::Context, name: &str) -> Option<String> {
    use async_nats::jetstream::context::GetStreamErrorKind;
    // The stream leader answers STREAM.INFO: no answer in time is what a
    // stream without a leader (election under way, no quorum) looks like.
    let info = match tokio::time::timeout(TIMEOUT, js.get_stream(name)).await {
        Err(_) => {
            return Some(format!(
                "jetstream: stream {name} has no leader (no info answer in {} ms)",
                TIMEOUT.as_millis()
            ));
        }
        Ok(Err(e)) => {
            return match e.kind() {
                GetStreamErrorKind::JetStream(j)
                    if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND =>
                {
                    None
                }
                _ => Some(format!("jetstream: stream {name} unavailable: {e}")),
            };
        }
        Ok(Ok(stream)) => stream.cached_info().clone(),
    };
    let cluster = info.cluster?;
    if cluster.leader.as_deref().is_none_or(str::is_empty) {
        return Some(format!("jetstream: stream {name} has no leader"));
    }
    // A leader alone cannot commit: a write needs a majority of replicas.
    let replicas = info.config.num_replicas.max(1);
    let current = 1 + cluster.replicas.iter().filter(|r| r.current).count();
    if current * 2 <= replicas {
        return Some(format!(
            "jetstream: stream {name} has no quorum ({current} of {replicas} replicas current)"
        ));
    }
    None
}
