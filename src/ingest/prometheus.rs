//! `/metrics` in the Prometheus text exposition format (0.0.4), encoded by
//! `prometheus-client`.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, prometheus_text};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::metrics::{METRICS, register};
use crate::pubsub::{GroupStats, ServiceStats};

/// What the renderer needs beyond the global counters.
pub struct Gauges {
    pub outbox_depth: usize,
    pub link_up: bool,
    /// Component connections up, and configured (`component.connections`).
    pub connections_up: usize,
    pub connections: usize,
    pub link_reconnects: u64,
    /// Nodes and consumer groups; `None` when the core did not answer in time.
    pub stats: Option<ServiceStats>,
    /// How many nodes (and groups) get their own `herald_node_items` series.
    pub top_nodes: usize,
    /// Webhook delivery counters and endpoint states.
    pub webhooks: WebhookGauges,
}

/// A snapshot of `webhooks::engine::EngineStats`.
#[derive(Debug, Default, Clone)]
pub struct WebhookGauges {
    pub active: u64,
    pub disabled: u64,
    pub delivered: u64,
    pub failed_attempts: u64,
    pub dead_lettered: u64,
    pub dead_letters: u64,
}

/// The Prometheus text format (0.0.4), which `promtool check metrics` reads.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// `/metrics`: the process-wide metrics and, in a registry made for this
/// scrape, the gauges read now. Families list their series in no set order.
pub fn render(g: &Gauges) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    let r = &mut registry;
    METRICS.register_counters(r);
    let help = "Stanzas waiting for the component writer.";
    register(r, "herald_outbox_depth", help, gauge(g.outbox_depth as u64));
    let help = "1 while the component link is up.";
    register(r, "herald_link_up", help, gauge(u64::from(g.link_up)));
    // With several connections, herald_link_up stays 1 while some are down.
    let help = "Component connections to ejabberd that are up.";
    let up = gauge(g.connections_up as u64);
    register(r, "herald_link_connections_up", help, up);
    let help = "Component connections configured (component.connections).";
    let configured = gauge(g.connections as u64);
    register(r, "herald_link_connections", help, configured);
    let help = "Component link connections after each link's first.";
    register(
        r,
        "herald_link_reconnects",
        help,
        counter(g.link_reconnects),
    );
    METRICS.register_histograms(r);
    webhook_series(r, &g.webhooks);
    if let Some(stats) = &g.stats {
        node_series(r, stats, g.top_nodes);
        group_series(r, &stats.groups, g.top_nodes);
    }
    let mut out = String::with_capacity(4096);
    prometheus_text::encode(&mut out, &registry)?;
    Ok(out)
}

type Gauge = prometheus_client::metrics::gauge::Gauge<u64, AtomicU64>;
/// Label pairs of one series: `node`, or `node` and `group`, or `state`.
type Labels = Vec<(&'static str, String)>;

fn gauge(v: u64) -> Gauge {
    let g = Gauge::default();
    g.set(v);
    g
}

/// A counter whose total is kept elsewhere (link, webhook engine), read
/// at scrape time.
fn counter(v: u64) -> Counter {
    let c = Counter::default();
    c.inc_by(v);
    c
}

/// A family declared (HELP and TYPE) even with no series, e.g. per-group
/// series while there is no group: the crate leaves out empty families,
/// and alert rules and dashboards read the declarations.
#[derive(Debug)]
struct Declared<M>(M);

impl<M: EncodeMetric> EncodeMetric for Declared<M> {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        self.0.metric_type()
    }
}

fn gauges(series: impl IntoIterator<Item = (Labels, u64)>) -> Declared<Family<Labels, Gauge>> {
    let family = Family::<Labels, Gauge>::default();
    for (labels, v) in series {
        family.get_or_create(&labels).set(v);
    }
    Declared(family)
}

fn counters(series: impl IntoIterator<Item = (Labels, u64)>) -> Declared<Family<Labels, Counter>> {
    let family = Family::<Labels, Counter>::default();
    for (labels, v) in series {
        family.get_or_create(&labels).inc_by(v);
    }
    Declared(family)
}

fn label(key: &'static str, value: &str) -> Labels {
    vec![(key, value.to_owned())]
}

fn webhook_series(r: &mut Registry, w: &WebhookGauges) {
    let help =
        "Webhook endpoints by state (disabled: by 410 Gone, continuous failure or their owner).";
    let states = [
        (label("state", "active"), w.active),
        (label("state", "disabled"), w.disabled),
    ];
    register(r, "herald_webhook_endpoints", help, gauges(states));
    let help = "Webhook attempts by result (success: a 2xx; failure: anything else, retried).";
    let results = [
        (label("result", "success"), w.delivered),
        (label("result", "failure"), w.failed_attempts),
    ];
    register(r, "herald_webhook_attempts", help, counters(results));
    let help = "Webhook deliveries that exhausted their retry schedule.";
    let dead = counter(w.dead_lettered);
    register(r, "herald_webhook_dead_lettered", help, dead);
    let help = "Webhook dead letters kept for a replay, over every endpoint.";
    register(
        r,
        "herald_webhook_dead_letters",
        help,
        gauge(w.dead_letters),
    );
}

/// Totals over every node, and one series only for the `top` nodes holding
/// the most items, so cardinality stays bounded.
fn node_series(r: &mut Registry, stats: &ServiceStats, top: usize) {
    let nodes = &stats.node_items;
    let help = "Nodes the service holds.";
    register(r, "herald_nodes", help, gauge(nodes.len() as u64));
    let help = "Items stored, over every node.";
    let total: u64 = nodes.iter().map(|(_, n)| n).sum();
    register(r, "herald_items", help, gauge(total));
    let help =
        "Items in dead-letter nodes (consumer-group items that failed max_deliveries times).";
    register(r, "herald_dead_letters", help, gauge(stats.dead_letters));
    if let Some(bytes) = stats.store_bytes {
        let help = "Bytes the store takes on local disk (sled).";
        register(r, "herald_store_bytes", help, gauge(bytes));
    }
    let mut ranked: Vec<&(String, u64)> = nodes.iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let help = "Items stored per node, for the nodes holding the most (http.metrics_top_nodes).";
    let series = (ranked.into_iter().take(top)).map(|(node, n)| (label("node", node), *n));
    register(r, "herald_node_items", help, gauges(series));
}

/// Group totals, and per-group series for the `top` groups with the
/// largest backlog.
fn group_series(r: &mut Registry, groups: &[GroupStats], top: usize) {
    let help = "Consumer groups (XEP-0254).";
    register(r, "herald_groups", help, gauge(groups.len() as u64));
    let help = "Items consumer groups have not settled, over every group.";
    let total: u64 = groups.iter().map(|g| g.backlog).sum();
    register(r, "herald_group_backlog_items", help, gauge(total));
    let mut ranked: Vec<&GroupStats> = groups.iter().collect();
    ranked.sort_by(|a, b| {
        (b.backlog.cmp(&a.backlog)).then_with(|| (&a.node, &a.group).cmp(&(&b.node, &b.group)))
    });
    ranked.truncate(top);
    let help = "Items the group has not settled (held, waiting, never handed out), for the groups with the largest backlog (http.metrics_top_nodes).";
    let backlog = ranked.iter().map(|g| (labels(g), g.backlog));
    register(r, "herald_group_backlog", help, gauges(backlog));
    let help = "Items members of the group hold now, for the same groups.";
    let held = ranked.iter().map(|g| (labels(g), g.held));
    register(r, "herald_group_held", help, gauges(held));
}

fn labels(g: &GroupStats) -> Labels {
    vec![("node", g.node.clone()), ("group", g.group.clone())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_escaped_labels() {
        let text = render(&Gauges {
            outbox_depth: 3,
            link_up: true,
            connections_up: 1,
            connections: 2,
            link_reconnects: 1,
            stats: Some(ServiceStats {
                node_items: vec![("a\"b\\c".into(), 7), ("q/dead-letter".into(), 2)],
                dead_letters: 2,
                groups: vec![GroupStats {
                    node: "q".into(),
                    group: "workers".into(),
                    backlog: 4,
                    held: 1,
                    lag: 3,
                    waiting: 0,
                    redeliveries: 0,
                    members: Vec::new(),
                }],
                store_bytes: Some(4096),
            }),
            top_nodes: 20,
            webhooks: WebhookGauges {
                disabled: 1,
                ..Default::default()
            },
        })
        .unwrap();
        assert!(text.contains("herald_webhook_endpoints{state=\"disabled\"} 1\n"));
        assert!(text.contains("herald_outbox_depth 3\n"));
        assert!(text.contains("herald_link_reconnects_total 1\n"));
        assert!(text.contains("herald_node_items{node=\"a\\\"b\\\\c\"} 7\n"));
        assert!(text.contains("herald_store_flush_seconds_bucket{le=\"+Inf\"}"));
        assert!(text.contains("herald_dead_letters 2\n"));
        assert!(text.contains("herald_store_bytes 4096\n"));
        assert!(text.contains("herald_link_connections_up 1\n"));
        assert!(text.contains("herald_link_connections 2\n"));
        assert!(text.contains("herald_group_backlog{node=\"q\",group=\"workers\"} 4\n"));
        assert!(text.contains("herald_group_held{node=\"q\",group=\"workers\"} 1\n"));
        // Names, types and help as before the crate: counters keep `_total`
        // on HELP and TYPE, help ends in one period.
        assert!(text.contains("# TYPE herald_link_reconnects_total counter\n"));
        assert!(
            text.contains("# HELP herald_outbox_depth Stanzas waiting for the component writer.\n")
        );
        assert!(text.contains("# TYPE herald_webhook_attempts_total counter\n"));
        assert!(text.contains("herald_webhook_dead_lettered_total 0\n"));
        assert!(text.contains("# TYPE herald_node_items gauge\n"));
        assert!(text.contains("# TYPE herald_publish_to_notification_seconds histogram\n"));
        assert!(!text.contains(".."));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn only_the_top_nodes_get_a_series_and_totals_count_every_node() {
        let nodes = (0..30).map(|i| (format!("n{i:02}"), i)).collect();
        let text = render(&Gauges {
            outbox_depth: 0,
            link_up: false,
            connections_up: 0,
            connections: 1,
            link_reconnects: 0,
            stats: Some(ServiceStats {
                node_items: nodes,
                ..ServiceStats::default()
            }),
            top_nodes: 3,
            webhooks: WebhookGauges::default(),
        })
        .unwrap();
        let mut series: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("herald_node_items{"))
            .collect();
        // A family lists its series in no set order.
        series.sort_unstable();
        assert_eq!(
            series,
            [
                "herald_node_items{node=\"n27\"} 27",
                "herald_node_items{node=\"n28\"} 28",
                "herald_node_items{node=\"n29\"} 29"
            ]
        );
        assert!(text.contains("herald_nodes 30\n"));
        // No group: the per-group families are still declared.
        assert!(text.contains("# TYPE herald_group_backlog gauge\n"));
        assert!(text.contains("# TYPE herald_group_held gauge\n"));
        assert!(text.contains(&format!("herald_items {}\n", (0..30).sum::<u64>())));
    }
}
