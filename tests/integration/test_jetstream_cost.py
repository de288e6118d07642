"""What one published item costs Herald on JetStream, in NATS messages:
the messages Herald's own connections send (requests and publishes, from
each server's /connz) and everything the three servers take in (/varz
in_msgs: clients, routes and raft replication), per item, over N HTTP
publishes with several in flight. Prints items/s too; asserts the count
per item, which is what sets JetStream's throughput (docs/scaling.md).

HERALD_JS_COST_ITEMS (default 300) sets N.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

import heraldtest.ops as ps
from heraldtest.harness import REPO, nats_urls
from heraldtest.ingest import TOKENS, put

N = int(os.environ.get("HERALD_JS_COST_ITEMS", "300"))
IN_FLIGHT = 16
NATS_BASE = int(os.environ.get("HERALD_NATS_PORT_BASE", "14222"))
NATS_DIR = Path(os.environ.get("HERALD_NATS_DIR", str(REPO / ".nats")))
# Herald's messages per item: the item and its history entry are two
# publishes, plus one lookup of the item's subject (3.00 measured). The
# margin absorbs the idle probe's jitter (a probe round is 7 messages);
# a second lookup per item (4, as before) fails.
MAX_HERALD_MSGS_PER_ITEM = 3.5


def monitor(path: str) -> list[dict]:
    out = []
    for i in range(3):
        url = f"http://127.0.0.1:{NATS_BASE + 20 + i}{path}"
        with urllib.request.urlopen(url, timeout=5) as r:
            out.append(json.load(r))
    return out


def herald_msgs() -> int:
    """Messages sent so far by connections named "herald", all servers."""
    return sum(c.get("in_msgs", 0)
               for connz in monitor("/connz?limit=4096")
               for c in connz.get("connections") or []
               if c.get("name") == "herald")


def nats_cpu() -> float:
    """CPU seconds the three NATS servers used so far (from /proc)."""
    total = 0.0
    for n in (1, 2, 3):
        pid = (NATS_DIR / f"n{n}.pid").read_text().strip()
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def server_msgs() -> int:
    return sum(v.get("in_msgs", 0) for v in monitor("/varz"))


def start(herald_factory):
    prefix = "jc" + uuid.uuid4().hex[:10]
    h = herald_factory(config={
        "storage": {"data_dir": None, "backend": "jetstream",
                    "jetstream": {"servers": nats_urls(), "partitions": 1,
                                  "stream_prefix": prefix}},
        "http": {"tokens": TOKENS},
    })
    return h, prefix


def measure(label: str, workers: list) -> float:
    """Runs `workers` (each publishes its share of the N items) and
    returns Herald's NATS messages per item, printing the rest."""
    # Idle traffic (the /readyz probe asks every second): measured, then
    # subtracted from the run's.
    idle_h, idle_s, t0 = herald_msgs(), server_msgs(), time.monotonic()
    time.sleep(3)
    idle_secs = time.monotonic() - t0
    idle_h_rate = (herald_msgs() - idle_h) / idle_secs
    idle_s_rate = (server_msgs() - idle_s) / idle_secs
    idle_cpu = nats_cpu()
    time.sleep(1)
    idle_cpu_rate = nats_cpu() - idle_cpu
    before_h, before_s, before_cpu = herald_msgs(), server_msgs(), nats_cpu()
    started = time.monotonic()
    threads = [threading.Thread(target=w) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.monotonic() - started
    per_h = (herald_msgs() - before_h - idle_h_rate * secs) / N
    per_s = (server_msgs() - before_s - idle_s_rate * secs) / N
    cpu_ms = (nats_cpu() - before_cpu - idle_cpu_rate * secs) / N * 1000
    print(f"{label}: {N} items in {secs:.2f} s ({N / secs:.0f} items/s, {len(workers)} "
          f"in flight); Herald sent {per_h:.2f} NATS msgs per item, the servers took in "
          f"{per_s:.1f} per item and used {cpu_ms:.2f} ms CPU per item (idle: "
          f"{idle_h_rate:.1f} and {idle_s_rate:.1f} msgs/s, NATS {idle_cpu_rate * 1000:.0f} ms "
          f"CPU/s)")
    return per_h


@pytest.mark.skipif(bool(os.environ.get("HERALD_NATS_URLS")),
                    reason="reads the monitoring ports of the NATS cluster this suite started")
def test_nats_messages_per_http_published_item(herald_factory):
    h, prefix = start(herald_factory)
    node = f"ingest-{prefix}"
    status, _, body = put(h, node, "warm", {"n": 0})
    assert status in (200, 201), body
    ids = iter(range(N))
    lock = threading.Lock()
    failures: list[str] = []

    def worker():
        while True:
            with lock:
                n = next(ids, None)
            if n is None:
                return
            status, _, body = put(h, node, f"it-{n}", {"n": n})
            if status not in (200, 201):
                failures.append(f"{status} {body}")

    per = measure("HTTP PUT", [worker] * IN_FLIGHT)
    assert not failures, failures[:5]
    assert per <= MAX_HERALD_MSGS_PER_ITEM, f"{per:.2f} NATS messages per item"


@pytest.mark.skipif(bool(os.environ.get("HERALD_NATS_URLS")),
                    reason="reads the monitoring ports of the NATS cluster this suite started")
def test_nats_messages_per_xmpp_published_item(herald_factory, connect, unique_name):
    start(herald_factory)
    clients = [connect(u) for u in ("alice", "bob", "carol", "dave")]
    node = unique_name("js-cost")
    ps.create_node(clients[0], node, {"pubsub#max_items": "100000",
                                      "pubsub#publish_model": "open"})
    share = N // len(clients)

    def worker(c, k):
        return lambda: [ps.publish(c, node, f"x{k}-{n}", "<p/>") for n in range(share)]

    per = measure("XMPP publish", [worker(c, k) for k, c in enumerate(clients)])
    assert per <= MAX_HERALD_MSGS_PER_ITEM, f"{per:.2f} NATS messages per item"
