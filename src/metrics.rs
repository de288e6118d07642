//! Process-wide metrics, as `prometheus-client` counters and histograms:
//! what `/metrics` renders with the gauges read at scrape time
//! (`ingest::prometheus`). Updated from the core thread, the link and HTTP
//! handlers; each metric is an atomic (or a few) behind an `Arc`, so the
//! per-scrape registry holds clones of the same values.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds (seconds) of the store flush latency histogram buckets.
pub const FLUSH_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Upper bounds (seconds) of the publish-to-notification histogram: a flush
/// plus the time spent handing the batch's stanzas to the outbox.
pub const NOTIFY_BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// One label pair, `source="xmpp"`.
type SourceLabel = [(&'static str, &'static str); 1];

pub struct Metrics {
    publishes: Family<SourceLabel, Counter>,
    notifications: Counter,
    multicast_stanzas: Counter,
    multicast_recipients: Counter,
    multicast_bounces: Counter,
    flush: Histogram,
    publish_to_notification: Histogram,
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// Where an item was published from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    Xmpp,
    Http,
}

impl Source {
    const ALL: [Source; 2] = [Source::Xmpp, Source::Http];

    fn label(self) -> SourceLabel {
        match self {
            Source::Xmpp => [("source", "xmpp")],
            Source::Http => [("source", "http")],
        }
    }
}

/// Registers `metric` with `help` as Herald writes it (a full sentence);
/// the crate appends the final period itself.
pub fn register(
    registry: &mut Registry,
    name: &str,
    help: &str,
    metric: impl prometheus_client::registry::Metric,
) {
    let help = help.strip_suffix('.').unwrap_or(help);
    registry.register(name, help, metric);
}

impl Metrics {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        let publishes = Family::default();
        // Both sources show from the start, at 0.
        for source in Source::ALL {
            let _ = publishes.get_or_create(&source.label());
        }
        Metrics {
            publishes,
            notifications: Counter::default(),
            multicast_stanzas: Counter::default(),
            multicast_recipients: Counter::default(),
            multicast_bounces: Counter::default(),
            flush: Histogram::new(FLUSH_BUCKETS),
            publish_to_notification: Histogram::new(NOTIFY_BUCKETS),
        }
    }

    /// Adds these metrics to `registry` (shared values, not copies), in the
    /// order `/metrics` lists them. Counter names go without `_total`: the
    /// encoder appends it.
    pub fn register_counters(&self, registry: &mut Registry) {
        let help = "Items published, by source (XMPP: items of successful publishes, at least one per publish; HTTP: items stored anew, no replays or unchanged items).";
        register(registry, "herald_publishes", help, self.publishes.clone());
        let help = "Pubsub notification messages queued for ejabberd (events, consumer-group deliveries and notices, approval requests); not chat answers, room posts or MAM results.";
        let notifications = self.notifications.clone();
        register(registry, "herald_notifications", help, notifications);
        let help = "XEP-0033 multicast stanzas queued for the server's multicast service, each one notification for several bcc recipients (also counted once in herald_notifications_total).";
        let c = self.multicast_stanzas.clone();
        register(registry, "herald_multicast_stanzas", help, c);
        let help = "Recipients addressed through XEP-0033 multicast stanzas.";
        let c = self.multicast_recipients.clone();
        register(registry, "herald_multicast_recipients", help, c);
        let help = "Multicast stanzas the multicast service bounced: resent one per recipient, multicast paused.";
        let c = self.multicast_bounces.clone();
        register(registry, "herald_multicast_bounces", help, c);
    }

    /// The latency histograms, registered after the link gauges.
    pub fn register_histograms(&self, registry: &mut Registry) {
        let help = "Latency of the store flush of each group commit.";
        register(
            registry,
            "herald_store_flush_seconds",
            help,
            self.flush.clone(),
        );
        let help = "Seconds from when the core thread started handling a publish (XMPP or HTTP) that produced pubsub notifications to when the notifications of its batch were handed to the component outbox, after the batch's store flush; not the time ejabberd takes to deliver them.";
        let h = self.publish_to_notification.clone();
        register(registry, "herald_publish_to_notification_seconds", help, h);
    }

    pub fn add_published(&self, source: Source, items: u64) {
        self.publishes.get_or_create(&source.label()).inc_by(items);
    }

    pub fn published(&self, source: Source) -> u64 {
        self.publishes.get_or_create(&source.label()).get()
    }

    /// Pubsub notifications released (not chat answers or room posts).
    pub fn add_notifications(&self, n: u64) {
        self.notifications.inc_by(n);
    }

    /// One multicast stanza for `recipients` recipients.
    pub fn add_multicast(&self, recipients: u64) {
        self.multicast_stanzas.inc();
        self.multicast_recipients.inc_by(recipients);
    }

    pub fn add_multicast_bounce(&self) {
        self.multicast_bounces.inc();
    }

    pub fn notifications(&self) -> u64 {
        self.notifications.get()
    }

    pub fn observe_flush(&self, took: Duration) {
        self.flush.observe(took.as_secs_f64());
    }

    pub fn observe_publish_to_notification(&self, took: Duration) {
        self.publish_to_notification.observe(took.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::prometheus_text::encode;

    fn text(m: &Metrics) -> String {
        let mut registry = Registry::default();
        m.register_counters(&mut registry);
        m.register_histograms(&mut registry);
        let mut out = String::new();
        encode(&mut out, &registry).unwrap();
        out
    }

    #[test]
    fn flush_latency_lands_in_its_bucket_and_beyond_the_last() {
        let m = Metrics::new();
        m.observe_flush(Duration::from_micros(700));
        m.observe_flush(Duration::from_secs(10));
        let t = text(&m);
        assert!(t.contains("herald_store_flush_seconds_bucket{le=\"0.0005\"} 0\n"));
        assert!(t.contains("herald_store_flush_seconds_bucket{le=\"0.001\"} 1\n"));
        assert!(t.contains("herald_store_flush_seconds_bucket{le=\"2.5\"} 1\n"));
        assert!(t.contains("herald_store_flush_seconds_bucket{le=\"+Inf\"} 2\n"));
        assert!(t.contains("herald_store_flush_seconds_count 2\n"));
        let sum: f64 = (t.lines())
            .find_map(|l| l.strip_prefix("herald_store_flush_seconds_sum "))
            .unwrap()
            .parse()
            .unwrap();
        assert!((sum - 10.0007).abs() < 1e-9);
    }

    #[test]
    fn counters_keep_their_total_names_and_one_period_of_help() {
        let m = Metrics::new();
        m.add_published(Source::Http, 3);
        m.add_notifications(2);
        m.observe_publish_to_notification(Duration::from_millis(3));
        assert_eq!(m.published(Source::Http), 3);
        assert_eq!(m.published(Source::Xmpp), 0);
        let t = text(&m);
        assert!(t.contains("# TYPE herald_publishes_total counter\n"));
        assert!(t.contains("herald_publishes_total{source=\"http\"} 3\n"));
        assert!(t.contains("herald_publishes_total{source=\"xmpp\"} 0\n"));
        assert!(t.contains("herald_notifications_total 2\n"));
        assert!(t.contains("# TYPE herald_publish_to_notification_seconds histogram\n"));
        assert!(t.contains("herald_publish_to_notification_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(t.contains("herald_publish_to_notification_seconds_count 1\n"));
        assert!(!t.contains(".."), "{t}");
    }
}
