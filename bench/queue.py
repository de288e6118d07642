#!/usr/bin/env python3
"""Consumer-group throughput: 1, 2 and 4 consumers in one group, each
spending a fixed time per item (default 5 ms), through a real ejabberd.

    export HERALD_EJABBERD_DIR=... HERALD_C2S_PORT=... HERALD_COMPONENT_PORT=...
    bash ejabberd-config/ejabberd-up.sh test
    python3 -m pip install -e tests   # heraldtest, once
    python3 bench/queue.py [--items 2000] [--work-ms 5] [--credit 10]
                           [--herald target/release/herald]

Starts its own Herald (temporary data dir) against the test-profile
ejabberd, publishes the items with pipelining, and measures from the
first publish to the last confirmed ack. Prints one table row per run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from heraldtest import client as xmppclient
from heraldtest.client import Client
from heraldtest.harness import REPO, Ejabberd, Herald
from heraldtest.queueing import Consumer, Ledger, create_node, join, publish_pipelined, wait_until
from heraldtest.sandbox import DOMAIN, PASSWORD

USERS = ["qbench-pub"] + [f"qbench-{i}" for i in range(4)]


def run(ej: Ejabberd, n: int, items: int, work_s: float, credit: int) -> dict:
    port = ej.c2s_port
    pub = Client.connect(f"{USERS[0]}@{DOMAIN}", PASSWORD, port)
    node = f"bench-{uuid.uuid4().hex[:8]}"
    create_node(pub, node)
    ledger = Ledger()
    consumers = []
    for i in range(n):
        c = Client.connect(f"{USERS[1 + i]}@{DOMAIN}", PASSWORD, port, resource="w")
        join(c, node, "bench", credit)
        consumers.append(Consumer(c, node, ledger, name=f"c{i}", work_s=work_s))
    for c in consumers:
        c.start()
    started = time.monotonic()
    published = publish_pipelined(pub, node, (f"b{k}" for k in range(items)))
    wait_until(lambda: ledger.acked_total() == items, 600, f"{items} acks")
    elapsed = time.monotonic() - started
    for c in consumers:
        c.stop.set()
        c.join(5)
        c.client.close()
    pub.close()
    once = all(len(w) == 1 for w in ledger.acked.values())
    return {"n": n, "published": published, "elapsed": elapsed,
            "rate": items / elapsed, "shares": [len(c.received) for c in consumers],
            "once": once}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--work-ms", type=float, default=5.0)
    ap.add_argument("--credit", type=int, default=10)
    ap.add_argument("--consumers", default="1,2,4")
    ap.add_argument("--herald", default=os.environ.get(
        "HERALD_BIN", str(REPO / "target" / "debug" / "herald")))
    args = ap.parse_args()
    ej = Ejabberd(Path(os.environ.get("HERALD_EJABBERD_DIR", REPO / ".ejabberd" / "test")))
    xmppclient.DEFAULT_PORT = ej.c2s_port
    for u in USERS:
        xmppclient.ensure_user(u, PASSWORD, DOMAIN, ej.c2s_port)
    with tempfile.TemporaryDirectory() as tmp:
        herald = Herald(Path(args.herald), Path(tmp), ej,
                        {"pubsub": {"admins": [f"{USERS[0]}@{DOMAIN}"]}})
        try:
            # Inside the try: a Herald left running after a failed start
            # would share the component domain with the next run's.
            herald.start().wait_ready()
            print(f"{args.items} items, {args.work_ms} ms of work per item, "
                  f"credit {args.credit} per consumer, herald {args.herald}")
            print(f"{'consumers':>9} {'seconds':>8} {'items/s':>8} {'speedup':>8} "
                  f"{'acked once':>10}  items per consumer")
            base = None
            for n in (int(x) for x in args.consumers.split(",")):
                r = run(ej, n, args.items, args.work_ms / 1000, args.credit)
                base = base or r["rate"]
                print(f"{n:>9} {r['elapsed']:>8.2f} {r['rate']:>8.0f} "
                      f"{r['rate'] / base:>7.2f}x {str(r['once']):>10}  {r['shares']}",
                      flush=True)
        finally:
            herald.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
