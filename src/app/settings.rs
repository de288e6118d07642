//! The one place where the config file becomes the plain settings each
//! part takes: the core, the consumer groups, the component link. The
//! parts never read `config.rs` themselves (docs/architecture.md).

use crate::component::{AdmissionSettings, ConfirmSettings};
use crate::config::Config;
use crate::pubsub::{ArchiveKey, BareJid, QueueSettings, RetentionSettings, ServiceSettings};
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
        // Opaque stanza-ids keep their meaning across restarts as long as
        // the component's identity does (xep-notes/decisions.md).
        archive_key: archive_key(config.component.jid.as_str(), config.secret()),
    })
}

/// The archive-ID key: from the component JID and secret, which persist
/// with the deployment whatever the storage backend.
fn archive_key(jid: &str, secret: &str) -> ArchiveKey {
    let mut material = Vec::with_capacity(jid.len() + 1 + secret.len());
    material.extend_from_slice(jid.as_bytes());
    material.push(0);
    material.extend_from_slice(secret.as_bytes());
    ArchiveKey::derive(&material)
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

/// The component link's at-least-once window and probes.
pub fn confirm_settings(config: &Config) -> ConfirmSettings {
    let c = &config.component;
    ConfirmSettings {
        window: c.confirm_window.max(1),
        interval: Duration::from_millis(c.confirm_interval_ms),
        timeout: Duration::from_millis(c.confirm_timeout_ms.max(100)),
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
}
