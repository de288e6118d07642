//! `[webhooks]`: how Herald delivers webhooks (Standard Webhooks 1.0).
//! Endpoints themselves are managed over the HTTP API and stored durably;
//! this section holds only the service-wide policy.

use serde::Deserialize;

use crate::webhooks::schedule::{DEFAULT_DELAYS_MS, DEFAULT_RETRY_AFTER_CAP_MS, RetrySchedule};

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Allow URLs resolving to loopback, private or link-local addresses
    /// (tests, single-host setups). Off in production: an endpoint owner
    /// could otherwise make Herald call internal services.
    pub allow_private: bool,
    /// Delays between attempts, in milliseconds (±20% jitter each); after
    /// the last one a delivery is dead-lettered.
    pub retry_delays_ms: Vec<u64>,
    /// Longest delay a `Retry-After` header may ask for.
    pub retry_after_cap_ms: u64,
    /// One attempt's limit: connect, send and the response head.
    pub timeout_ms: u64,
    /// An endpoint failing for this long without one success is disabled.
    pub disable_after_failing_ms: u64,
    /// Deliveries in flight per endpoint (1 with `strict_order`).
    pub max_in_flight: usize,
    /// How long a rotated-out secret keeps signing.
    pub rotation_grace_ms: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            allow_private: false,
            retry_delays_ms: DEFAULT_DELAYS_MS.to_vec(),
            retry_after_cap_ms: DEFAULT_RETRY_AFTER_CAP_MS,
            timeout_ms: 15_000,
            disable_after_failing_ms: 5 * 24 * 3_600_000,
            max_in_flight: 8,
            rotation_grace_ms: 24 * 3_600_000,
        }
    }
}

impl WebhooksConfig {
    pub fn schedule(&self) -> RetrySchedule {
        RetrySchedule {
            delays_ms: self.retry_delays_ms.clone(),
            retry_after_cap_ms: self.retry_after_cap_ms,
        }
    }

    /// Checks the values (called with the rest of the config).
    pub fn validate(&self) -> Result<(), String> {
        if self.timeout_ms == 0 {
            return Err("webhooks.timeout_ms must be at least 1".into());
        }
        if self.max_in_flight == 0 || self.max_in_flight > 1_000 {
            return Err("webhooks.max_in_flight must be 1..=1000".into());
        }
        if self.retry_delays_ms.len() > 100 {
            return Err("webhooks.retry_delays_ms takes at most 100 delays".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_millisecond_schedules_parse() {
        let c: WebhooksConfig = toml::from_str("").unwrap();
        assert_eq!(c, WebhooksConfig::default());
        assert!(!c.allow_private);
        let c: WebhooksConfig =
            toml::from_str("allow_private = true\nretry_delays_ms = [50, 100]\ntimeout_ms = 300")
                .unwrap();
        assert!(c.allow_private);
        assert_eq!(c.schedule().delays_ms, [50, 100]);
        assert!(c.validate().is_ok());
        let bad: WebhooksConfig = toml::from_str("max_in_flight = 0").unwrap();
        assert!(bad.validate().is_err());
        assert!(toml::from_str::<WebhooksConfig>("allow_privat = true").is_err());
    }
}
