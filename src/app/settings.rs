//! The one place where the config file becomes the plain settings each
//! part takes: the core, the consumer groups, the component link. The
//! parts never read `config.rs` themselves (docs/architecture.md).

use super::router::IngestPolicy;
use crate::component::{AdmissionSettings, ConfirmSettings};
use crate::config::{Config, HttpConfig};
use crate::pubsub::{BareJid, QueueSettings, RenderDeadLetter, RetentionSettings, ServiceSettings};
use std::time::Duration;

/// The core's settings from the validated configuration file.
pub fn service_settings(config: &Config) -> Result<ServiceSettings, String> {
    let mut admins = Vec::new();
    for a in &config.pubsub.admins {
        admins.push(BareJid::new(a).map_err(|e| format!("pubsub.admins {a:?}: {e}"))?);
    }
    let r = &config.retention;
    Ok(ServiceSettings {
        admins,
        create_domains: config.pubsub.create_domains.clone(),
        default_max_items: config.pubsub.default_max_items,
        max_items_cap: config.limits.max_items_per_node,
        max_payload_bytes: config.limits.max_payload_bytes,
        max_page_size: config.limits.max_items_per_page,
        max_stanza_bytes: config.limits.max_stanza_bytes,
        auto_create_on_publish: config.pubsub.auto_create,
        max_nodes: config.limits.max_nodes,
        retention: RetentionSettings {
            history_max_entries: r.history_max_entries,
            history_max_age_secs: (r.history_max_age_secs > 0).then_some(r.history_max_age_secs),
            sweep_batch: r.sweep_batch,
        },
    })
}

/// Consumer groups (`[queue]`).
pub fn queue_settings(config: &Config) -> QueueSettings {
    let q = &config.queue;
    QueueSettings {
        ack_timeout_ms: q.ack_timeout_ms,
        max_deliveries: q.max_deliveries,
        backoff_base_ms: q.backoff_base_ms,
        backoff_max_ms: q.backoff_max_ms,
    }
}

/// How the core's dead letters become payloads: `protocol/` renders them
/// (the core writes no XML, docs/architecture.md).
pub const DEAD_LETTER_RENDERER: RenderDeadLetter = crate::protocol::dead_letter::render;

/// The component link's at-least-once window and probes.
pub fn confirm_settings(config: &Config) -> ConfirmSettings {
    let c = &config.component;
    ConfirmSettings {
        window: c.confirm_window.max(1),
        interval: Duration::from_millis(c.confirm_interval_ms),
        timeout: Duration::from_millis(c.confirm_timeout_ms.max(100)),
    }
}

/// Retention of HTTP idempotency keys (`http.idempotency_*`).
pub fn ingest_policy(http: &HttpConfig) -> IngestPolicy {
    IngestPolicy {
        retention_ms: http.idempotency_retention_secs.saturating_mul(1000),
        max_keys: http.idempotency_max_keys,
    }
}

/// Per-sender fairness where stanzas come off the link.
pub fn admission_settings(config: &Config) -> AdmissionSettings {
    AdmissionSettings {
        rate_per_sec: f64::from(config.limits.sender_rate_per_sec),
        burst: f64::from(config.limits.sender_burst),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_config_file() {
        let text = "[component]\njid = \"events.localhost\"\nsecret = \"s\"\n\
            [storage]\ndata_dir = \"/tmp/x\"\n[pubsub]\nadmins = [\"a@b.c\"]\n";
        let config = Config::parse(text).unwrap();
        let s = service_settings(&config).unwrap();
        assert_eq!(s.admins, vec![BareJid::new("a@b.c").unwrap()]);
        assert_eq!(s.max_page_size, config.limits.max_items_per_page);
        assert_eq!(
            queue_settings(&config).max_deliveries,
            config.queue.max_deliveries
        );
    }

    /// The core's `Default` settings (what its own tests run with) are the
    /// config file's defaults: one set of defaults, whichever way a part
    /// is built. Catches a default changed in one place only.
    #[test]
    fn module_defaults_are_the_config_defaults() {
        let text = "[component]\njid = \"events.localhost\"\nsecret = \"s\"\n\
            [storage]\ndata_dir = \"/tmp/x\"\n";
        let config = Config::parse(text).unwrap();
        let from_file = service_settings(&config).unwrap();
        let core = ServiceSettings::default();
        assert_eq!(from_file.default_max_items, core.default_max_items);
        assert_eq!(from_file.max_items_cap, core.max_items_cap);
        assert_eq!(from_file.max_payload_bytes, core.max_payload_bytes);
        assert_eq!(from_file.max_page_size, core.max_page_size);
        assert_eq!(from_file.max_stanza_bytes, core.max_stanza_bytes);
        assert_eq!(
            from_file.auto_create_on_publish,
            core.auto_create_on_publish
        );
        assert_eq!(from_file.max_nodes, core.max_nodes);
        let (r, core_r) = (&from_file.retention, RetentionSettings::default());
        assert_eq!(r.history_max_entries, core_r.history_max_entries);
        assert_eq!(r.history_max_age_secs, core_r.history_max_age_secs);
        assert_eq!(r.sweep_batch, core_r.sweep_batch);
        let (q, core_q) = (queue_settings(&config), QueueSettings::default());
        assert_eq!(q.ack_timeout_ms, core_q.ack_timeout_ms);
        assert_eq!(q.max_deliveries, core_q.max_deliveries);
        assert_eq!(q.backoff_base_ms, core_q.backoff_base_ms);
        assert_eq!(q.backoff_max_ms, core_q.backoff_max_ms);
        let (i, core_i) = (ingest_policy(&config.http), IngestPolicy::default());
        assert_eq!(i.retention_ms, core_i.retention_ms);
        assert_eq!(i.max_keys, core_i.max_keys);
        assert_eq!(
            config.storage.cache_mb,
            crate::store::sled_store::DEFAULT_CACHE_MB
        );
    }
}
