#!/usr/bin/env python3
"""Catch-up benchmark (not a test): Herald vs ejabberd's own mod_pubsub on
the same ejabberd, with the raw-XML client of the integration tests.

1. Catch-up: a subscriber missed 10,000 items. Time fetching all of them in
   pages of 1,000. Herald: RSM <after> = the last item ID seen, then each
   page's <last/>. ejabberd: its RSM as it offers it, following its own
   <last/> cursor values from the first page on (its cursors are not item
   IDs, so "after the ID I saw" cannot be asked).
2. Page cost vs node size (Herald): one page of 1,000 from nodes of 1,000
   and 100,000 items (newest page, and a page after an item in the middle).

Needs: the test-client package heraldtest (`python3 -m pip install -e
tests`, as bench/run.sh does), a running Herald
(release build) for events.localhost and the sandbox ejabberd with
mod_pubsub at pubsub.localhost; user alice/pass.

    python3 bench/catchup.py --port 28222 [--items 10000] [--big 100000]

Prints a table, then one JSON line with the numbers and ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from heraldtest import catchup as cu
from heraldtest import client as xmppclient
from heraldtest.client import Client, IqError
from heraldtest.sandbox import EJABBERD_PUBSUB as EJABBERD
from heraldtest.sandbox import SERVICE as HERALD
from heraldtest.stanza import is_iq_reply
PAYLOAD = "x" * 150


def publish_many(c: Client, to: str, node: str, ids: list[str], window: int = 256) -> float:
    """Pipelined publishes (up to `window` in flight); returns items/s."""
    t0 = time.perf_counter()
    pending: list[str] = []
    for item_id in ids:
        iq_id = c.next_id()
        xml = cu.publish_xml(node, item_id, to, PAYLOAD).replace(
            "<iq type='set'", f"<iq id='{iq_id}' type='set'", 1)
        c.send_raw(xml)
        pending.append(iq_id)
        if len(pending) >= window:
            _drain(c, pending[: window // 2])
            del pending[: window // 2]
    _drain(c, pending)
    return len(ids) / (time.perf_counter() - t0)


def _drain(c: Client, iq_ids: list[str]) -> None:
    for iq_id in iq_ids:
        r = c.wait_for(lambda s, i=iq_id: is_iq_reply(s, i), timeout=60)
        if r.get("type") != "result":
            raise IqError(r)


def walk(c: Client, to: str, node: str, page: int, after: str | None) -> tuple[float, list[str], int]:
    """Follows <last/> from `after` until a short page; (seconds, ids, pages)."""
    t0 = time.perf_counter()
    out: list[str] = []
    pages = 0
    while True:
        ids, set_el = cu.items_page(c, node, page, after, to=to, timeout=120)
        pages += 1
        out.extend(ids)
        last = cu.rsm_text(set_el, "last")
        if len(ids) < page or not last:
            return time.perf_counter() - t0, out, pages
        after = last


def timed_page(c: Client, node: str, after: str | None, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        ids, _ = cu.items_page(c, node, 1000, after, timeout=120)
        times.append(time.perf_counter() - t0)
        assert len(ids) == 1000 or after is None, len(ids)
    return statistics.median(times)


def setup_node(c: Client, to: str, node: str, n: int, prefix: str) -> tuple[list[str], dict]:
    """A node with `max_items` n+1 holding a marker and n items."""
    info: dict = {}
    try:
        cu.create(c, node, {"pubsub#max_items": str(n + 1)}, to=to)
    except IqError as e:
        info["create_error"] = str(e.condition)
        cu.create(c, node, None, to=to)
    ids = [f"{prefix}-{i:06d}" for i in range(n)]
    cu.publish(c, node, f"{prefix}-marker", to=to)
    info["publish_per_s"] = round(publish_many(c, to, node, ids))
    return ids, info


def bench(args) -> dict:
    xmppclient.DEFAULT_PORT = args.port
    c = Client.connect("alice@localhost", "pass", presence=False, timeout=30)
    run = str(int(time.time()))
    res: dict = {"items": args.items, "page": 1000}

    ids, info = setup_node(c, HERALD, f"bench-h-{run}", args.items, "h")
    secs, got, pages = walk(c, HERALD, f"bench-h-{run}", 1000, "h-marker")
    res["herald"] = {"catchup_s": round(secs, 4), "fetched": len(got), "pages": pages,
                     "exact": got == ids, **info}

    ids, info = setup_node(c, EJABBERD, f"bench-e-{run}", args.items, "e")
    secs, got, pages = walk(c, EJABBERD, f"bench-e-{run}", 1000, None)
    res["ejabberd"] = {"catchup_s": round(secs, 4), "fetched": len(got),
                       "distinct": len(set(got)), "pages": pages,
                       "has_all": set(ids) <= set(got), **info}
    try:
        cu.items_page(c, f"bench-e-{run}", 1000, "e-marker", to=EJABBERD)
        res["ejabberd"]["after_item_id"] = "answered"
    except IqError as e:
        res["ejabberd"]["after_item_id"] = str(e.condition)
    ids_after, _ = (cu.items_page(c, f"bench-e-{run}", 1000, "e-marker", to=EJABBERD)
                    if res["ejabberd"]["after_item_id"] == "answered" else ([], None))
    res["ejabberd"]["after_item_id_returned"] = len(ids_after)

    sizes = {}
    for n in (1000, args.big):
        node = f"bench-s{n}-{run}"
        ids, info = setup_node(c, HERALD, node, n, f"s{n}")
        sizes[n] = {"newest_page_s": round(timed_page(c, node, None), 4),
                    "after_middle_s": round(timed_page(c, node, ids[n // 2 - 1000]), 4)
                    if n > 2000 else None, **info}
    res["herald_page_by_node_size"] = sizes
    h, e = res["herald"]["catchup_s"], res["ejabberd"]["catchup_s"]
    res["ratio_ejabberd_over_herald"] = round(e / h, 2) if h else None
    small, big = sizes[1000]["newest_page_s"], sizes[args.big]["newest_page_s"]
    res["ratio_page_big_over_small"] = round(big / small, 2) if small else None
    c.close()
    return res


def table(r: dict) -> str:
    h, e = r["herald"], r["ejabberd"]
    rows = [
        ("what", "Herald", "ejabberd mod_pubsub"),
        (f"catch-up {r['items']} items, pages of 1000 (s)", h["catchup_s"], e["catchup_s"]),
        ("items fetched / pages", f"{h['fetched']} / {h['pages']}",
         f"{e['fetched']} ({e['distinct']} distinct) / {e['pages']}"),
        ("exactly the missed items, in order", h["exact"], e["has_all"]),
        ("publish rate while filling (items/s)", h["publish_per_s"], e["publish_per_s"]),
        ("ratio ejabberd / Herald", r["ratio_ejabberd_over_herald"], ""),
    ]
    for n, s in r["herald_page_by_node_size"].items():
        rows.append((f"Herald: newest page of 1000, node of {n} (s)", s["newest_page_s"], ""))
        if s["after_middle_s"] is not None:
            rows.append((f"Herald: page after a middle item, node of {n} (s)",
                         s["after_middle_s"], ""))
    w = max(len(str(a)) for a, _, _ in rows)
    return "\n".join(f"{a:<{w}}  {str(b):>12}  {c}" for a, b, c in rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=int(xmppclient.DEFAULT_PORT))
    p.add_argument("--items", type=int, default=10_000)
    p.add_argument("--big", type=int, default=100_000)
    r = bench(p.parse_args())
    print(table(r))
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
