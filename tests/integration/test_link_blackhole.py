"""Issue 16 (5): at-least-once on the component link.

A TCP proxy sits between Herald and ejabberd's component port. While a
publisher publishes steadily over HTTP and three subscribers are online,
the component connection is blackholed (nothing moves, no socket closes).
Herald must notice within seconds, reconnect (the proxy lets new
connections through) and write again what ejabberd never confirmed, so
every subscriber gets every acknowledged item as a live notification,
without any catch-up request by the client. Duplicates are allowed (each
notification carries its stanza-id); they are counted and reported.
"""

from __future__ import annotations

import collections
import threading
import time

import pytest

from heraldtest.entity import subscribe_ok
from heraldtest.ingest import TOKEN, TOKENS, put
from heraldtest.tcpproxy import BlackholeProxy

NS_EVENT = "http://jabber.org/protocol/pubsub#event"
SUBSCRIBERS = ["bob", "carol", "dave"]
BLACKHOLE_SECS = 8
CONFIRM_TIMEOUT_MS = 2000


def link_ups(herald) -> int:
    return herald.log_text().count("component link up")


def collect(client, node: str, counts: collections.Counter, stop: threading.Event) -> None:
    """Counts every live notification item of `node` until stopped."""
    while not stop.is_set():
        for m in client.messages(timeout=0.2):
            for item in m.iterfind(f"{{{NS_EVENT}}}event/{{{NS_EVENT}}}items/{{{NS_EVENT}}}item"):
                counts[item.get("id")] += 1


@pytest.mark.parametrize("connections", [1, 2])
def test_blackholed_link_loses_no_acknowledged_notification(herald_factory, connect, ejabberd,
                                                            unique_name, connections):
    """With two connections, probe answers may come back on the other one."""
    with BlackholeProxy(ejabberd.component_port) as proxy:
        herald = herald_factory(config={
            "component": {"port": proxy.port, "confirm_timeout_ms": CONFIRM_TIMEOUT_MS,
                          "connections": connections},
            "http": {"tokens": TOKENS},
            "pubsub": {"default_max_items": 100000},
        })
        node = unique_name("ingest")
        assert put(herald, node, "seed", {"n": 0})[0] == 201
        clients = {}
        for user in SUBSCRIBERS:
            clients[user] = connect(user)
            subscribe_ok(clients[user], node, f"{user}@localhost")
        counts = {u: collections.Counter() for u in SUBSCRIBERS}
        stop_collect = threading.Event()
        collectors = [threading.Thread(target=collect, args=(clients[u], node, counts[u],
                                                             stop_collect), daemon=True)
                      for u in SUBSCRIBERS]
        for t in collectors:
            t.start()

        acked: list[str] = []
        stop_publish = threading.Event()

        def publisher() -> None:
            n = 0
            while not stop_publish.is_set():
                item_id = f"i{n}"
                n += 1
                status, _, _ = put(herald, node, item_id, {"n": n}, token=TOKEN)
                if status == 201:
                    acked.append(item_id)
                time.sleep(0.01)

        pub = threading.Thread(target=publisher, daemon=True)
        pub.start()
        time.sleep(2)
        ups_before = link_ups(herald)
        assert proxy.blackhole() == connections, "every component connection uses the proxy"
        holed_at = time.monotonic()
        reconnected_after = None
        while time.monotonic() - holed_at < BLACKHOLE_SECS:
            if reconnected_after is None and link_ups(herald) >= ups_before + connections:
                reconnected_after = time.monotonic() - holed_at
            time.sleep(0.1)
        acked_during = len(acked)
        proxy.heal()
        time.sleep(2)
        stop_publish.set()
        pub.join(timeout=20)

        deadline = time.monotonic() + 20
        want = set(acked)
        while time.monotonic() < deadline:
            if all(want <= set(counts[u]) for u in SUBSCRIBERS):
                break
            time.sleep(0.2)
        stop_collect.set()
        for t in collectors:
            t.join(timeout=5)

        assert acked_during > 200, f"only {acked_during} items acknowledged by the blackhole's end"
        report = []
        for u in SUBSCRIBERS:
            missing = [i for i in acked if counts[u][i] == 0]
            dups = sum(c - 1 for c in counts[u].values() if c > 1)
            report.append(f"{u}: {len(acked) - len(missing)}/{len(acked)} items, "
                          f"{len(missing)} missing, {dups} duplicates")
        print("\n".join(report))
        assert reconnected_after is not None and reconnected_after < CONFIRM_TIMEOUT_MS / 1000 + 3, \
            f"link back {reconnected_after} s after the blackhole began\n" + "\n".join(report)
        assert all(counts[u][i] > 0 for u in SUBSCRIBERS for i in acked), "\n".join(report)
