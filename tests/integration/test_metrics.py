"""Issue 14, metrics: /metrics passes `promtool check metrics`, per-node
series stay bounded (top nodes plus totals), publish-to-notification
latency is observed, and the shipped alert rules and Grafana dashboard use
only metrics Herald exports."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import subprocess
import time
import urllib.parse

import pytest

from heraldtest.harness import REPO

from heraldtest.entity import subscribe_ok
from heraldtest.events import items_in
from heraldtest.ingest import TOKENS, parse_prometheus, put, scrape
from heraldtest.queueing import create_node, join, publish_pipelined
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS_PUBSUB, NS_QUEUE, esc

ALERTS = REPO / "deploy" / "prometheus" / "herald-alerts.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "herald-dashboard.json"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool (apt: prometheus) missing; scripts/test.sh installs it")


def scrape_text(h) -> str:
    url = urllib.parse.urlparse(h.http_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request("GET", "/metrics")
    resp = conn.getresponse()
    assert resp.status == 200
    return resp.read().decode()


@pytest.fixture
def busy_herald(herald_factory):
    """30 quiet nodes with one item each and 5 hot ones with three."""
    h = herald_factory(config={"http": {"tokens": TOKENS, "metrics_top_nodes": 5}})
    for i in range(30):
        assert put(h, f"ingest-quiet-{i:02}", "a", {"n": i})[0] == 201
    for i in range(5):
        for item in ("a", "b", "c"):
            assert put(h, f"ingest-hot-{i}", item, {"n": i})[0] == 201
    return h


def exported_names(text: str) -> set[str]:
    """Every family /metrics declares (a family may have no sample yet, e.g.
    per-group series with no group), with a histogram's series names."""
    parse_prometheus(text)   # well-formed
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def promql_metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\bherald_[a-z0-9_]+", expr))


@needs_promtool
def test_promtool_accepts_the_metrics_output(busy_herald):
    text = scrape_text(busy_herald)
    out = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, f"{out.stdout}{out.stderr}\n--- /metrics\n{text}"


def test_per_node_series_are_only_the_top_nodes_plus_totals(busy_herald):
    samples = parse_prometheus(scrape_text(busy_herald))
    per_node = {dict(labels)["node"]: v for (name, labels), v in samples.items()
                if name == "herald_node_items"}
    assert per_node == {f"ingest-hot-{i}": 3 for i in range(5)}, per_node
    assert samples[("herald_link_connections_up", ())] == samples[("herald_link_connections", ())] == 1
    assert samples[("herald_nodes", ())] == 35
    assert samples[("herald_items", ())] == 30 + 5 * 3


@needs_promtool
def test_alert_rules_are_valid_and_use_exported_metrics(busy_herald):
    out = subprocess.run([PROMTOOL, "check", "rules", str(ALERTS)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    exported = exported_names(scrape_text(busy_herald))
    used = promql_metric_names(ALERTS.read_text())
    assert used, "the alert rules name no Herald metric"
    assert used <= exported, f"not exported: {sorted(used - exported)}"


def test_grafana_dashboard_queries_name_exported_metrics(busy_herald):
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 6, exprs
    exported = exported_names(scrape_text(busy_herald))
    for expr in exprs:
        used = promql_metric_names(expr)
        assert used, f"query names no Herald metric: {expr}"
        assert used <= exported, f"{expr}: not exported: {sorted(used - exported)}"


def test_consumer_group_backlog_held_items_and_dead_letters(herald_factory, connect, unique_name):
    h = herald_factory(config={"http": {"tokens": TOKENS},
                               "queue": {"max_deliveries": 1, "tick_ms": 50}})
    node = unique_name("jobs")
    alice = connect("alice")
    create_node(alice, node)
    bob = connect("bob", resource="worker")
    join(bob, node, "workers", 1)
    assert publish_pipelined(alice, node, ["j1", "j2", "j3"]) == 3

    def group(samples, name):
        return samples.get((name, (("node", node), ("group", "workers"))))

    def settles(want_backlog, want_held, want_dead, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            samples = parse_prometheus(scrape_text(h))
            got = (group(samples, "herald_group_backlog"), group(samples, "herald_group_held"),
                   samples.get(("herald_dead_letters", ())))
            if got == (want_backlog, want_held, want_dead) or time.monotonic() > deadline:
                return got, samples
            time.sleep(0.1)

    # Credit 1: j1 is held, j2 and j3 were never handed out.
    got, samples = settles(3, 1, 0)
    assert got == (3, 1, 0), got
    assert samples[("herald_groups", ())] == 1
    assert samples[("herald_group_backlog_items", ())] == 3
    # A nack past max_deliveries: j1 becomes a dead letter, j2 goes out.
    bob.iq_ok(f"<iq type='set' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
              f"<unlock xmlns='{NS_QUEUE}' node='{esc(node)}'>"
              f"<item id='j1'/></unlock></pubsub></iq>")
    got, _ = settles(2, 1, 1)
    assert got == (2, 1, 1), got


def test_publish_to_notification_latency_counts_publishes_that_notified(herald_factory, connect,
                                                                         unique_name):
    h = herald_factory(config={"http": {"tokens": TOKENS}})
    node = unique_name("ingest")   # the tokens may publish to ingest-*
    assert put(h, node, "seed", {"n": 0})[0] == 201   # no subscriber yet: no observation
    count = ("herald_publish_to_notification_seconds_count", ())
    total = ("herald_publish_to_notification_seconds_sum", ())
    inf = ("herald_publish_to_notification_seconds_bucket", (("le", "+Inf"),))
    before = scrape(h)
    assert before[count] == before[inf]
    bob = connect("bob")
    subscribe_ok(bob, node, "bob@localhost")
    assert put(h, node, "a", {"n": 1})[0] == 201      # HTTP publish, notifies bob
    admin = connect("admin")                          # an admin may publish to any node
    admin.iq_ok(f"<iq type='set' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
                f"<publish node='{esc(node)}'><item id='x'><e xmlns='urn:x'/></item></publish>"
                f"</pubsub></iq>")
    # Observed once the notification is in the outbox, before bob has it.
    assert len(items_in(bob.messages(timeout=3))) == 2
    after = scrape(h)
    assert after[count] - before[count] >= 2, (before[count], after[count])
    assert after[inf] == after[count]
    assert after[total] > before[total]
    # Buckets are cumulative and end at the count.
    buckets = sorted((float(dict(labels)["le"]), v) for (name, labels), v in after.items()
                     if name == "herald_publish_to_notification_seconds_bucket")
    values = [v for _, v in buckets]
    assert values == sorted(values) and values[-1] == after[count], buckets
