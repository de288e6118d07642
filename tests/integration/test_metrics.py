"""Issue 14, metrics: /metrics passes `promtool check metrics`, per-node
series stay bounded (top nodes plus totals), and the shipped alert rules
and Grafana dashboard use only metrics Herald exports."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import subprocess
import urllib.parse

import pytest

from heraldtest.harness import REPO
from heraldtest.ingest import TOKEN, TOKENS, parse_prometheus, put

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
    return {name for (name, _labels) in parse_prometheus(text)}


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
