//! `/metrics` in the Prometheus text exposition format (0.0.4).

use std::fmt::Write;

use crate::metrics::{FLUSH_BUCKETS, METRICS, Source};
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

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn render(g: &Gauges) -> String {
    let mut out = String::with_capacity(2048);
    let m = &METRICS;
    head(
        &mut out,
        "herald_publishes_total",
        "counter",
        "Items published, by source (XMPP: items of successful publishes, at least one per publish; HTTP: items stored anew, no replays or unchanged items).",
    );
    for (label, source) in [("xmpp", Source::Xmpp), ("http", Source::Http)] {
        let n = m.published(source);
        let _ = writeln!(out, "herald_publishes_total{{source=\"{label}\"}} {n}");
    }
    let help = "Pubsub notification messages queued for ejabberd (events, consumer-group deliveries and notices, approval requests); not chat answers, room posts or MAM results.";
    head(&mut out, "herald_notifications_total", "counter", help);
    let _ = writeln!(out, "herald_notifications_total {}", m.notifications());
    head(
        &mut out,
        "herald_outbox_depth",
        "gauge",
        "Stanzas waiting for the component writer.",
    );
    let _ = writeln!(out, "herald_outbox_depth {}", g.outbox_depth);
    head(
        &mut out,
        "herald_link_up",
        "gauge",
        "1 while the component link is up.",
    );
    let _ = writeln!(out, "herald_link_up {}", u8::from(g.link_up));
    // With several connections, herald_link_up stays 1 while some are down.
    let help = "Component connections to ejabberd that are up.";
    head(&mut out, "herald_link_connections_up", "gauge", help);
    let _ = writeln!(out, "herald_link_connections_up {}", g.connections_up);
    let help = "Component connections configured (component.connections).";
    head(&mut out, "herald_link_connections", "gauge", help);
    let _ = writeln!(out, "herald_link_connections {}", g.connections);
    let help = "Component link connections after each link's first.";
    head(&mut out, "herald_link_reconnects_total", "counter", help);
    let _ = writeln!(out, "herald_link_reconnects_total {}", g.link_reconnects);
    flush_histogram(&mut out);
    webhook_series(&mut out, &g.webhooks);
    if let Some(stats) = &g.stats {
        node_series(&mut out, stats, g.top_nodes);
        group_series(&mut out, &stats.groups, g.top_nodes);
    }
    out
}

fn webhook_series(out: &mut String, w: &WebhookGauges) {
    let help =
        "Webhook endpoints by state (disabled: by 410 Gone, continuous failure or their owner).";
    head(out, "herald_webhook_endpoints", "gauge", help);
    sample(
        out,
        "herald_webhook_endpoints",
        &[("state", "active")],
        w.active,
    );
    sample(
        out,
        "herald_webhook_endpoints",
        &[("state", "disabled")],
        w.disabled,
    );
    let help = "Webhook attempts by result (success: a 2xx; failure: anything else, retried).";
    head(out, "herald_webhook_attempts_total", "counter", help);
    let failures = w.failed_attempts;
    sample(
        out,
        "herald_webhook_attempts_total",
        &[("result", "success")],
        w.delivered,
    );
    sample(
        out,
        "herald_webhook_attempts_total",
        &[("result", "failure")],
        failures,
    );
    let help = "Webhook deliveries that exhausted their retry schedule.";
    head(out, "herald_webhook_dead_lettered_total", "counter", help);
    let _ = writeln!(
        out,
        "herald_webhook_dead_lettered_total {}",
        w.dead_lettered
    );
    let help = "Webhook dead letters kept for a replay, over every endpoint.";
    head(out, "herald_webhook_dead_letters", "gauge", help);
    let _ = writeln!(out, "herald_webhook_dead_letters {}", w.dead_letters);
}

/// Totals over every node, and one series only for the `top` nodes holding
/// the most items, so cardinality stays bounded.
fn node_series(out: &mut String, stats: &ServiceStats, top: usize) {
    let nodes = &stats.node_items;
    head(out, "herald_nodes", "gauge", "Nodes the service holds.");
    let _ = writeln!(out, "herald_nodes {}", nodes.len());
    let help = "Items stored, over every node.";
    head(out, "herald_items", "gauge", help);
    let total: u64 = nodes.iter().map(|(_, n)| n).sum();
    let _ = writeln!(out, "herald_items {total}");
    let help =
        "Items in dead-letter nodes (consumer-group items that failed max_deliveries times).";
    head(out, "herald_dead_letters", "gauge", help);
    let _ = writeln!(out, "herald_dead_letters {}", stats.dead_letters);
    let mut ranked: Vec<&(String, u64)> = nodes.iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let help = "Items stored per node, for the nodes holding the most (http.metrics_top_nodes).";
    head(out, "herald_node_items", "gauge", help);
    for (node, n) in ranked.into_iter().take(top) {
        sample(out, "herald_node_items", &[("node", node)], *n);
    }
}

/// Group totals, and per-group series for the `top` groups with the
/// largest backlog.
fn group_series(out: &mut String, groups: &[GroupStats], top: usize) {
    head(out, "herald_groups", "gauge", "Consumer groups (XEP-0254).");
    let _ = writeln!(out, "herald_groups {}", groups.len());
    let help = "Items consumer groups have not settled, over every group.";
    head(out, "herald_group_backlog_items", "gauge", help);
    let total: u64 = groups.iter().map(|g| g.backlog).sum();
    let _ = writeln!(out, "herald_group_backlog_items {total}");
    let mut ranked: Vec<&GroupStats> = groups.iter().collect();
    ranked.sort_by(|a, b| {
        b.backlog
            .cmp(&a.backlog)
            .then_with(|| labels(a).cmp(&labels(b)))
    });
    ranked.truncate(top);
    let help = "Items the group has not settled (held, waiting, never handed out), for the groups with the largest backlog (http.metrics_top_nodes).";
    head(out, "herald_group_backlog", "gauge", help);
    for g in &ranked {
        sample(out, "herald_group_backlog", &labels(g), g.backlog);
    }
    let help = "Items members of the group hold now, for the same groups.";
    head(out, "herald_group_held", "gauge", help);
    for g in &ranked {
        sample(out, "herald_group_held", &labels(g), g.held);
    }
}

fn labels(g: &GroupStats) -> [(&'static str, &str); 2] {
    [("node", g.node.as_str()), ("group", g.group.as_str())]
}

/// One sample line; label values escaped.
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: u64) {
    let labels: Vec<String> = (labels.iter())
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn flush_histogram(out: &mut String) {
    let name = "herald_store_flush_seconds";
    head(
        out,
        name,
        "histogram",
        "Latency of the store flush of each group commit.",
    );
    let snap = METRICS.flush_snapshot();
    let mut cumulative = 0;
    for (bound, n) in FLUSH_BUCKETS.iter().zip(snap.buckets) {
        cumulative += n;
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", snap.count);
    let _ = writeln!(out, "{name}_sum {}", snap.sum_secs);
    let _ = writeln!(out, "{name}_count {}", snap.count);
}

/// Label values escape backslash, double quote and newline.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
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
                }],
            }),
            top_nodes: 20,
            webhooks: WebhookGauges {
                disabled: 1,
                ..Default::default()
            },
        });
        assert!(text.contains("herald_webhook_endpoints{state=\"disabled\"} 1\n"));
        assert!(text.contains("herald_outbox_depth 3\n"));
        assert!(text.contains("herald_link_reconnects_total 1\n"));
        assert!(text.contains("herald_node_items{node=\"a\\\"b\\\\c\"} 7\n"));
        assert!(text.contains("herald_store_flush_seconds_bucket{le=\"+Inf\"}"));
        assert!(text.contains("herald_dead_letters 2\n"));
        assert!(text.contains("herald_link_connections_up 1\n"));
        assert!(text.contains("herald_link_connections 2\n"));
        assert!(text.contains("herald_group_backlog{node=\"q\",group=\"workers\"} 4\n"));
        assert!(text.contains("herald_group_held{node=\"q\",group=\"workers\"} 1\n"));
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
        });
        let series: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("herald_node_items{"))
            .collect();
        assert_eq!(
            series,
            [
                "herald_node_items{node=\"n29\"} 29",
                "herald_node_items{node=\"n28\"} 28",
                "herald_node_items{node=\"n27\"} 27"
            ]
        );
        assert!(text.contains("herald_nodes 30\n"));
        assert!(text.contains(&format!("herald_items {}\n", (0..30).sum::<u64>())));
    }
}
