//! Process-wide counters as atomics (no metrics crate): what `/metrics`
//! renders. Updated from the core thread, the link and HTTP handlers.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds (seconds) of the store flush latency histogram buckets.
pub const FLUSH_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

pub struct Metrics {
    publishes_xmpp: AtomicU64,
    publishes_http: AtomicU64,
    notifications: AtomicU64,
    /// Cumulative counts per bucket are computed when rendering.
    flush_buckets: [AtomicU64; FLUSH_BUCKETS.len()],
    flush_count: AtomicU64,
    flush_sum_us: AtomicU64,
}

pub static METRICS: Metrics = Metrics::new();

/// A snapshot of the flush histogram: per-bucket (non-cumulative) counts,
/// total count and sum in seconds.
pub struct FlushSnapshot {
    pub buckets: [u64; FLUSH_BUCKETS.len()],
    pub count: u64,
    pub sum_secs: f64,
}

/// Where an item was published from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    Xmpp,
    Http,
}

impl Metrics {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Metrics {
            publishes_xmpp: AtomicU64::new(0),
            publishes_http: AtomicU64::new(0),
            notifications: AtomicU64::new(0),
            flush_buckets: [const { AtomicU64::new(0) }; FLUSH_BUCKETS.len()],
            flush_count: AtomicU64::new(0),
            flush_sum_us: AtomicU64::new(0),
        }
    }

    pub fn add_published(&self, source: Source, items: u64) {
        match source {
            Source::Xmpp => self.publishes_xmpp.fetch_add(items, Relaxed),
            Source::Http => self.publishes_http.fetch_add(items, Relaxed),
        };
    }

    pub fn published(&self, source: Source) -> u64 {
        match source {
            Source::Xmpp => self.publishes_xmpp.load(Relaxed),
            Source::Http => self.publishes_http.load(Relaxed),
        }
    }

    /// Pubsub notifications released (not chat answers or room posts).
    pub fn add_notifications(&self, n: u64) {
        self.notifications.fetch_add(n, Relaxed);
    }

    pub fn notifications(&self) -> u64 {
        self.notifications.load(Relaxed)
    }

    pub fn observe_flush(&self, took: Duration) {
        let secs = took.as_secs_f64();
        if let Some(i) = FLUSH_BUCKETS.iter().position(|&b| secs <= b) {
            self.flush_buckets[i].fetch_add(1, Relaxed);
        }
        self.flush_count.fetch_add(1, Relaxed);
        self.flush_sum_us
            .fetch_add(took.as_micros().min(u128::from(u64::MAX)) as u64, Relaxed);
    }

    pub fn flush_snapshot(&self) -> FlushSnapshot {
        FlushSnapshot {
            buckets: std::array::from_fn(|i| self.flush_buckets[i].load(Relaxed)),
            count: self.flush_count.load(Relaxed),
            sum_secs: self.flush_sum_us.load(Relaxed) as f64 / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_latency_lands_in_its_bucket_and_beyond_the_last() {
        let m = Metrics::new();
        m.observe_flush(Duration::from_micros(700));
        m.observe_flush(Duration::from_secs(10));
        let s = m.flush_snapshot();
        assert_eq!(s.buckets[1], 1);
        assert_eq!(s.buckets.iter().sum::<u64>(), 1);
        assert_eq!(s.count, 2);
        assert!((s.sum_secs - 10.0007).abs() < 1e-9);
    }
}
