"""Combines herald-bench runs into one JSON report with Herald/ejabberd
ratios, or prints a report as a table.

    report.py RESULTS.jsonl HERALD_PEAK_RSS_KB > report.json
    report.py --cluster N RESULTS.jsonl > report.json   (bench/cluster.sh)
    report.py --table report.json
"""
import json
import os
import platform
import sys
import time

HERALD, EJABBERD = "events.localhost", "pubsub.localhost"

# (metric path, higher is better)
METRICS = {
    "publish": [("items_per_s", True), ("notifications_per_s", True),
                ("publish_rtt_ms.p50", False), ("publish_rtt_ms.p99", False),
                ("end_to_end_ms.p50", False), ("end_to_end_ms.p99", False),
                ("lost", False), ("duplicates", False)],
    "catchup": [("seconds", False), ("items_per_s", True)],
    "audience": [("publishes_per_s", True), ("last_notification_ms.p50", False),
                 ("last_notification_ms.p99", False), ("publish_rtt_ms.p50", False),
                 ("subscribe_seconds", False), ("publishes", None), ("audience", None),
                 ("lost", False)],
}

# raw-limit-kK (bench/src/raw.rs): a bare component, no pubsub at all, so
# the values are what ejabberd routes (shown in the ejabberd column).
RAW = ["per_recipient.notifications_per_s", "multicast.notifications_per_s",
       "best_notifications_per_s", "per_recipient.delivered", "multicast.delivered",
       "multicast_batch"]
NOTES = {
    "raw-limit": "a bare XEP-0114 component (rawbench.localhost) sends pre-rendered "
                 "notifications, nothing else, once per recipient and once through "
                 "mod_multicast: what ejabberd routes from one component connection "
                 "(the sender and the counting clients share the machine)",
    "fraction_of_limit": "notifications/s of publish-kK over the best raw-limit-kK rate; "
                         "mod_pubsub routes inside ejabberd, not over a component link, "
                         "so its fraction can exceed 1",
    "audience-100k": "offline audience JIDs are never registered (ejabberd bounces their "
                     "notifications); online ones subscribed themselves; mod_pubsub's "
                     "publishes are capped (see publishes)",
    "recovery-1m": "kill -9, restart; ready_s = /readyz 200, first_publish_s = first HTTP "
                   "batch-ingest publish answered 200, both from the restart",
    "herald_peak_rss_mb": "VmHWM of the Herald process restarted by recovery-1m",
}
RECOVERY = ["ready_s", "first_publish_s", "peak_rss_mb", "items_stored", "nodes",
            "subscriptions_stored"]

# Herald-only rows of the HTTP bridges (bench/bridges.py): mod_pubsub has
# no webhooks or SSE, so ejabberd is "n/a" and there is no ratio. The
# first metric is the headline; the same run's XMPP publish-k1
# notifications/s follows, to compare the bridges with the XMPP fan-out.
BRIDGES = {
    "webhook-deliveries": ["deliveries_per_s", "items", "delivered", "duplicates",
                           "seconds", "max_in_flight", "herald_cpu_seconds"],
    "sse-100": ["events_per_s", "streams", "items", "per_stream_min", "per_stream_max",
                "reconnects", "seconds", "herald_cpu_seconds"],
}


def get(d, path):
    for part in path.split("."):
        d = d[part]
    return d


def combine(lines, rss_kb):
    runs = {}
    herald_only = {}
    raw = {}
    for line in lines:
        entry = json.loads(line)
        if entry["label"].startswith("raw-limit"):
            raw[entry["label"]] = entry["result"]
            continue
        if "service" not in entry["result"]:
            herald_only[entry["label"]] = entry["result"]
            continue
        runs.setdefault(entry["label"], {})[entry["result"]["service"]] = entry["result"]
    rows = []
    for label, r in raw.items():
        for path in RAW:
            rows.append({"workload": label, "metric": path, "herald": None,
                         "ejabberd": get(r, path), "herald_advantage": None})
        runs[label] = {"rawbench.localhost": r}
    for label, by_service in list(runs.items()):
        if label in raw:
            continue
        h, e = by_service.get(HERALD), by_service.get(EJABBERD)
        if h is None or e is None:
            continue
        kind = {"catchup": "catchup", "audience-100k": "audience"}.get(label, "publish")
        for path, higher in METRICS[kind]:
            hv, ev = get(h, path), get(e, path)
            ratio = None
            if hv and ev and higher is not None:
                ratio = hv / ev if higher else ev / hv
            rows.append({"workload": label, "metric": path, "herald": hv,
                         "ejabberd": ev, "herald_advantage": ratio})
        if kind == "audience" and e.get("publishes", 0) < h.get("publishes", 0):
            rows.append({"workload": label, "metric": "note", "herald": None,
                         "ejabberd": f"mod_pubsub publishes capped at {e['publishes']}",
                         "herald_advantage": None})
        limit = raw.get(label.replace("publish-", "raw-limit-"))
        if kind == "publish" and limit and limit.get("best_notifications_per_s"):
            best = limit["best_notifications_per_s"]
            hv, ev = h["notifications_per_s"] / best, e["notifications_per_s"] / best
            rows.append({"workload": label, "metric": "fraction_of_limit", "herald": hv,
                         "ejabberd": ev, "herald_advantage": hv / ev if ev else None})
        # Server CPU of each run: Herald's run costs Herald plus the ejabberd
        # routing for it; mod_pubsub's run costs ejabberd alone.
        hc, ec = sum(h["cpu_seconds"].values()), sum(e["cpu_seconds"].values())
        rows.append({"workload": label, "metric": "server_cpu_seconds", "herald": hc,
                     "ejabberd": ec, "herald_advantage": ec / hc if hc else None})
        rows.append({"workload": label, "metric": "  of which herald", "herald":
                     h["cpu_seconds"].get("herald"), "ejabberd": None, "herald_advantage": None})
    xmpp_k1 = runs.get("publish-k1", {}).get(HERALD, {}).get("notifications_per_s")
    for label, r in herald_only.items():
        if label in BRIDGES:
            for i, metric in enumerate(BRIDGES[label]):
                rows.append({"workload": label, "metric": metric, "herald": r.get(metric),
                             "ejabberd": "n/a" if i == 0 else None,
                             "herald_advantage": None})
            if xmpp_k1 is not None:
                rows.append({"workload": label, "metric": "xmpp k1 notif/s",
                             "herald": xmpp_k1, "ejabberd": None, "herald_advantage": None})
            runs[label] = {HERALD: r}
            continue
        if label == "recovery-1m":
            for i, metric in enumerate(RECOVERY):
                rows.append({"workload": label, "metric": metric, "herald": r.get(metric),
                             "ejabberd": "n/a" if i == 0 else None,
                             "herald_advantage": None})
            runs[label] = {HERALD: r}
            continue
        for metric in ("items", "seconds", "items_per_s"):
            rows.append({"workload": label, "metric": metric, "herald": r[metric],
                         "ejabberd": None, "herald_advantage": None})
        runs[label] = {HERALD: r}
    notes = {label: NOTES[label] for label in runs if label in NOTES}
    if any(label.startswith("raw-limit") for label in runs):
        notes["raw-limit"] = NOTES["raw-limit"]
        notes["fraction_of_limit"] = NOTES["fraction_of_limit"]
    if "recovery-1m" in runs:
        notes["herald_peak_rss_mb"] = NOTES["herald_peak_rss_mb"]
    return {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "mode": os.environ.get("HERALD_BENCH_MODE", "full"),
            "notes": notes,
            "machine": {"cpus": 2, "platform": platform.platform()},
            "herald_peak_rss_mb": int(rss_kb) / 1024 if rss_kb else None,
            "rows": rows, "runs": runs}


def cluster(lines, n):
    """Herald on JetStream as 1 and as n instances beside mod_pubsub:
    `herald` is n instances, `one_instance` one, `scaling` n over 1 (for
    a cost, 1 over n: above 1 is better either way), `herald_advantage`
    n instances over mod_pubsub."""
    runs = {}
    for line in lines:
        entry = json.loads(line)
        runs[entry["label"]] = entry["result"]
    rows = []
    for label in [l for l in runs if l.startswith("publish-k")]:
        e = runs[label]
        one, many = runs.get(f"cluster1-{label}"), runs.get(f"cluster{n}-{label}")
        if one is None or many is None:
            continue
        for path, higher in METRICS["publish"]:
            ov, mv, ev = get(one, path), get(many, path), get(e, path)
            ratio = lambda a, b: (a / b if higher else b / a) if a and b else None
            rows.append({"workload": label, "metric": path, "herald": mv, "one_instance": ov,
                         "scaling": ratio(mv, ov), "ejabberd": ev,
                         "herald_advantage": ratio(mv, ev)})
    return {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {"cpus": 2, "platform": platform.platform()},
            "cluster_instances": n, "rows": rows, "runs": runs}


def cluster_table(report):
    n = report["cluster_instances"]
    print(f"{'workload':<14}{'metric':<22}{'herald x1':>11}{f'herald x{n}':>11}"
          f"{f'x{n}/x1':>8}{'ejabberd':>11}{f'x{n}/ej':>8}")
    fmt = lambda v: "-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))
    adv = lambda v: "-" if v is None else f"{v:.2f}x"
    for r in report["rows"]:
        print(f"{r['workload']:<14}{r['metric']:<22}{fmt(r['one_instance']):>11}"
              f"{fmt(r['herald']):>11}{adv(r['scaling']):>8}{fmt(r['ejabberd']):>11}"
              f"{adv(r['herald_advantage']):>8}")


def table(report):
    if "cluster_instances" in report:
        return cluster_table(report)
    print(f"{'workload':<20}{'metric':<36}{'herald':>12}{'ejabberd':>12}{'advantage':>11}")
    for r in report["rows"]:
        fmt = lambda v: "-" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))
        adv = "-" if r["herald_advantage"] is None else f"{r['herald_advantage']:.2f}x"
        print(f"{r['workload']:<20}{r['metric']:<36}{fmt(r['herald']):>12}{fmt(r['ejabberd']):>12}{adv:>11}")
    fill = report["runs"].get("ingest-fill", {}).get(HERALD, {})
    rec = report["runs"].get("recovery-1m", {}).get(HERALD, {})
    if rec.get("items_stored"):
        fill = {"items": rec["items_stored"]}
    if report["herald_peak_rss_mb"] is None:
        return
    print(f"herald peak RSS: {report['herald_peak_rss_mb']:.1f} MB "
          f"(with {fill.get('items', 0)} items stored after the fill)")


if __name__ == "__main__":
    if sys.argv[1] == "--table":
        table(json.load(open(sys.argv[2])))
    elif sys.argv[1] == "--cluster":
        n = int(sys.argv[2])
        print(json.dumps(cluster(open(sys.argv[3]).read().splitlines(), n), indent=1))
    else:
        print(json.dumps(combine(open(sys.argv[1]).read().splitlines(), sys.argv[2]), indent=1))
