//! Opens the store `[storage] backend` names: sled on this machine, or a
//! JetStream cluster (no state on local disk). The core gets either as a
//! `Box<dyn Store>` and does not know which (`docs/architecture.md`).

use super::AppError;
use crate::config::{Backend, Config, nats_credentials};
use crate::store::{JetStreamSettings, JetStreamStore, PartitionLog, SledStore, Store};

/// The store, and for JetStream its partition streams read as logs (the
/// cluster's fan-out handover reads them).
pub async fn open_store(
    config: &Config,
) -> Result<(Box<dyn Store>, Option<PartitionLog>), AppError> {
    let storage = &config.storage;
    match (storage.backend, &storage.jetstream) {
        (Backend::Sled, _) => {
            let cache_bytes = storage.cache_mb * 1024 * 1024;
            let store = SledStore::open_with_cache(&storage.data_dir, cache_bytes)
                .map_err(|e| AppError::Store(format!("{}: {e}", storage.data_dir.display())))?;
            Ok((Box::new(store), None))
        }
        (Backend::Jetstream, Some(js)) => {
            let settings = JetStreamSettings {
                servers: js.servers.clone(),
                replicas: js.replicas,
                partitions: js.partitions,
                stream_prefix: js.stream_prefix.clone(),
                credentials: nats_credentials(|k| std::env::var(k).ok())
                    .map_err(AppError::Store)?,
            };
            // The handle of this runtime: its workers drive the NATS
            // connection while the core thread blocks on it.
            let handle = tokio::runtime::Handle::current();
            let store = JetStreamStore::connect(settings, handle)
                .await
                .map_err(|e| AppError::Store(format!("JetStream {:?}: {e}", js.servers)))?;
            let log = store.partition_log();
            Ok((Box::new(store), Some(log)))
        }
        (Backend::Jetstream, None) => Err(AppError::Store(
            "storage.backend = \"jetstream\" needs [storage.jetstream]".into(),
        )),
    }
}
