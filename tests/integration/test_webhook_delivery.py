"""Issue 13, webhook delivery from the log, against a real Herald, ejabberd
and a real HTTP receiver that verifies every signature with the
`standardwebhooks` library (heraldtest/webhook_receiver.py): delivery in
order, retries after 500, timeouts and Retry-After, 410, secret rotation,
replay, dead letters and their resend, continuous failure, a slow
endpoint not delaying a fast one, and kill -9 during deliveries with
nothing lost.
"""

from __future__ import annotations

import threading
import time

import pytest

from heraldtest.harness import Herald
from heraldtest.ingest import request, scrape
from heraldtest.webhook_receiver import Delivery, Receiver

HOOKS = "hooks-token-0123456789abc"
PUBLISH = "hooks-publish-token-01234"
ADMIN = "hooks-admin-token-0123456"
TOKENS = {
    "hooks": {"token": HOOKS, "nodes": ["apps*"], "scopes": ["webhooks"]},
    "pub": {"token": PUBLISH, "nodes": ["apps*"], "create": True},
    "ops": {"token": ADMIN, "nodes": ["apps*"], "scopes": ["admin"]},
}
FAST_RETRIES = {"allow_private": True, "retry_delays_ms": [100, 100, 100],
                "retry_after_cap_ms": 2000, "timeout_ms": 700}


def start(factory, **webhooks) -> Herald:
    return factory(config={"http": {"tokens": TOKENS},
                           "webhooks": FAST_RETRIES | webhooks})


def create(h: Herald, url: str, nodes=("apps",), **fields) -> dict:
    body = {"url": url, "nodes": list(nodes)} | fields
    status, _, reply = request(h, "POST", "/v1/webhooks", body, token=HOOKS)
    assert status == 201, reply
    return reply


def endpoint(h: Herald, hook_id: str) -> dict:
    status, _, reply = request(h, "GET", f"/v1/webhooks/{hook_id}", token=HOOKS)
    assert status == 200, reply
    return reply


def publish(h: Herald, node: str, item_id: str, payload=None) -> None:
    status, _, reply = request(h, "PUT", f"/v1/nodes/{node}/items/{item_id}",
                               payload or {"id": item_id}, token=PUBLISH)
    assert status in (200, 201), reply


def item_ids(got: list[Delivery]) -> list[str]:
    return [d.json["item_id"] for d in got]


def wait_until(check, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    return check()


def test_deliveries_are_signed_in_order_and_advance_the_cursor(herald_factory):
    h = start(herald_factory)
    publish(h, "apps", "before")             # before the endpoint: not sent
    with Receiver() as r:
        made = create(h, r.url, strict_order=True)
        r.secrets.append(made["secret"])
        for i in range(1, 6):
            publish(h, "apps", f"i{i}", {"n": i})
        publish(h, "apps-other", "x")        # a node the endpoint does not follow
        got = r.wait_for(lambda g: len(g) >= 5)
        time.sleep(0.3)
        got = r.got()
        assert item_ids(got) == [f"i{i}" for i in range(1, 6)]
        assert all(d.verified for d in got), [d.headers for d in got]
        bodies = [d.json for d in got]
        assert [b["payload"] for b in bodies] == [{"n": i} for i in range(1, 6)]
        assert all(b["type"] == "item.published" and b["node"] == "apps" for b in bodies)
        assert [d.webhook_id for d in got] == [b["stanza_id"] for b in bodies]
        assert all(d.headers["content-type"] == "application/json" for d in got)
        seqs = [b["sequence"] for b in bodies]
        assert seqs == sorted(seqs)
        shown = wait_until(lambda: endpoint(h, made["id"])["cursors"].get("apps") == seqs[-1]
                           and endpoint(h, made["id"]))
        assert shown, endpoint(h, made["id"])
        status, _, log = request(h, "GET", f"/v1/webhooks/{made['id']}/deliveries", token=HOOKS)
        assert status == 200 and len(log["deliveries"]) == 5
        assert all(a["status"] == 200 and a["error"] is None for a in log["deliveries"])


def test_500_timeout_and_retry_after_are_retried_with_one_webhook_id(herald_factory):
    h = start(herald_factory)
    script = [(500, {}, 0), (200, {}, 1.5), (503, {"Retry-After": "1"}, 0), (200, {}, 0)]
    calls = []

    def behaviour(d: Delivery):
        calls.append(time.monotonic())
        return script[min(len(calls), len(script)) - 1]

    with Receiver(behaviour) as r:
        made = create(h, r.url)
        r.secrets.append(made["secret"])
        publish(h, "apps", "flaky")
        got = r.wait_for(lambda g: len(g) >= 4, timeout=20)
        assert len(got) == 4, [d.headers for d in got]
        assert len({d.webhook_id for d in got}) == 1
        assert all(d.verified for d in got)
        # Retry-After: 1 was honoured (the schedule alone says 100 ms).
        assert calls[3] - calls[2] >= 0.9
        time.sleep(0.5)
        assert len(r.got()) == 4, "delivered once it got its 200"
        status, _, log = request(h, "GET", f"/v1/webhooks/{made['id']}/deliveries", token=HOOKS)
        attempts = log["deliveries"][::-1]
        assert [a["status"] for a in attempts] == [500, None, 503, 200]
        assert "timed out" in attempts[1]["error"]


def test_an_exhausted_schedule_dead_letters_and_replay_resends(herald_factory):
    h = start(herald_factory)
    broken = threading.Event()
    broken.set()

    def behaviour(d: Delivery):
        return (500, {}, 0) if broken.is_set() and d.json["item_id"] == "doomed" else (200, {}, 0)

    with Receiver(behaviour) as r:
        made = create(h, r.url)
        publish(h, "apps", "doomed")
        publish(h, "apps", "fine")
        letters = wait_until(lambda: endpoint(h, made["id"])["dead_letters"])
        assert [d["seq"] for d in letters] and letters[0]["attempts"] == 4, letters
        assert "500" in letters[0]["error"]
        assert "fine" in item_ids(r.got()), "a dead letter does not block the rest"
        metrics = scrape(h)
        assert metrics[("herald_webhook_dead_letters", ())] == 1
        assert metrics[("herald_webhook_dead_lettered_total", ())] == 1
        broken.clear()
        status, _, reply = request(h, "POST", f"/v1/webhooks/{made['id']}/replay",
                                   {"dead_letters": True}, token=HOOKS)
        assert status == 202 and reply["resending"] == 1, reply
        assert wait_until(lambda: not endpoint(h, made["id"])["dead_letters"])
        doomed = [d for d in r.got() if d.json["item_id"] == "doomed"]
        assert doomed[-1].webhook_id == letters[0]["webhook_id"]


def test_410_disables_the_endpoint_and_says_so(herald_factory):
    h = start(herald_factory)
    with Receiver(lambda d: (410, {}, 0)) as r:
        made = create(h, r.url, strict_order=True)
        publish(h, "apps", "a")
        publish(h, "apps", "b")
        status = wait_until(lambda: endpoint(h, made["id"])["status"]["state"] == "disabled"
                            and endpoint(h, made["id"])["status"])
        assert status and "410" in status["reason"], endpoint(h, made["id"])
        time.sleep(0.5)
        assert item_ids(r.got()) == ["a"], "nothing after the 410"
        metrics = scrape(h)
        assert metrics[("herald_webhook_endpoints", (("state", "disabled"),))] == 1
        # Re-enabling resumes from the cursor: `a` was never acknowledged.
        r.behaviour = lambda d: (200, {}, 0)
        status, _, reply = request(h, "PATCH", f"/v1/webhooks/{made['id']}",
                                   {"enabled": True}, token=HOOKS)
        assert status == 200, reply
        got = r.wait_for(lambda g: item_ids(g)[1:] == ["a", "b"])
        assert item_ids(got) == ["a", "a", "b"]


def test_continuous_failure_disables_after_the_configured_time(herald_factory):
    h = start(herald_factory, disable_after_failing_ms=300, retry_delays_ms=[200] * 20)
    with Receiver(lambda d: (500, {}, 0)) as r:
        made = create(h, r.url)
        publish(h, "apps", "a")
        status = wait_until(lambda: endpoint(h, made["id"])["status"]["state"] == "disabled"
                            and endpoint(h, made["id"])["status"])
        assert status and status["reason"] == "failing continuously", endpoint(h, made["id"])
        assert endpoint(h, made["id"])["failing_since_ms"] is not None


def test_a_rotated_secret_signs_beside_the_old_one_during_the_grace(herald_factory):
    h = start(herald_factory, rotation_grace_ms=60_000)
    with Receiver() as r:
        made = create(h, r.url)
        r.secrets.append(made["secret"])
        publish(h, "apps", "a")
        r.wait_for(lambda g: len(g) >= 1)
        status, _, rotated = request(h, "POST", f"/v1/webhooks/{made['id']}/rotate-secret",
                                     token=HOOKS)
        assert status == 200 and rotated["secret"] != made["secret"], rotated
        r.secrets.append(rotated["secret"])
        publish(h, "apps", "b")
        got = r.wait_for(lambda g: len(g) >= 2)
        assert got[0].verified_by == [0]
        assert sorted(got[1].verified_by) == [0, 1], got[1].headers
        assert len(got[1].headers["webhook-signature"].split(" ")) == 2


def test_replay_from_an_item_or_a_time_sends_again_with_the_same_ids(herald_factory):
    h = start(herald_factory)
    with Receiver() as r:
        made = create(h, r.url, strict_order=True)
        for i in range(1, 6):
            publish(h, "apps", f"i{i}")
        first = r.wait_for(lambda g: len(g) >= 5)
        ids = {d.json["item_id"]: d.webhook_id for d in first}
        status, _, reply = request(h, "POST", f"/v1/webhooks/{made['id']}/replay",
                                   {"node": "apps", "after_item": "i2"}, token=HOOKS)
        assert status == 202, reply
        again = r.wait_for(lambda g: len(g) >= 8)[5:]
        assert item_ids(again) == ["i3", "i4", "i5"]
        assert [d.webhook_id for d in again] == [ids[i] for i in ("i3", "i4", "i5")]
        status, _, reply = request(h, "POST", f"/v1/webhooks/{made['id']}/replay",
                                   {"since": "2000-01-01T00:00:00Z"}, token=HOOKS)
        assert status == 202, reply
        assert item_ids(r.wait_for(lambda g: len(g) >= 13)[8:]) == [f"i{i}" for i in range(1, 6)]
        status, _, reply = request(h, "POST", f"/v1/webhooks/{made['id']}/replay",
                                   {"node": "apps", "after_item": "nope"}, token=HOOKS)
        assert status == 404, reply
        status, _, reply = request(h, "POST", f"/v1/webhooks/{made['id']}/replay",
                                   {"node": "apps"}, token=HOOKS)
        assert status == 400, reply
    # Each replay that got past its checks is on the operations board.
    status, _, board = request(h, "GET", "/v1/operations", token=ADMIN)
    assert status == 200 and board["running"] == [], board
    shown = [(r["kind"], r["target"], r["state"], r["done"]) for r in board["finished"]]
    assert shown == [("replay", made["id"], "failed", 0), ("replay", made["id"], "done", 1),
                     ("replay", made["id"], "done", 1)], board
    assert "no such item" in board["finished"][0]["error"], board


def test_a_slow_endpoint_does_not_delay_a_fast_one(herald_factory):
    h = start(herald_factory, timeout_ms=10_000)
    with Receiver(lambda d: (200, {}, 2.0)) as slow, Receiver() as fast:
        create(h, slow.url, strict_order=True)
        create(h, fast.url)
        started = time.monotonic()
        for i in range(10):
            publish(h, "apps", f"i{i}")
        got = fast.wait_for(lambda g: len(g) >= 10)
        took = time.monotonic() - started
        assert len(got) == 10 and took < 5, f"fast endpoint: {len(got)} in {took:.1f}s"
        assert len(slow.got()) <= 3, "the slow one is still on its first deliveries"


def test_kill_9_during_deliveries_loses_nothing(herald_factory):
    h = start(herald_factory)
    total = 150
    with Receiver(lambda d: (200, {}, 0.02)) as r:
        made = create(h, r.url)
        r.secrets.append(made["secret"])
        for i in range(total // 2):
            publish(h, "apps", f"i{i}")
        r.wait_for(lambda g: len(g) >= 10)
        h.restart(hard=True)                 # SIGKILL mid-delivery
        for i in range(total // 2, total):
            publish(h, "apps", f"i{i}")
        want = {f"i{i}" for i in range(total)}
        got = r.wait_for(lambda g: want <= set(item_ids(g)), timeout=60)
        missing = want - set(item_ids(got))
        assert not missing, f"lost {sorted(missing)[:10]}"
        assert all(d.verified for d in got)
        repeats = len(got) - len({d.webhook_id for d in got})
        print(f"kill -9 during {total} deliveries: {repeats} repeated, 0 lost")
        # Repeats carry the webhook-id of the first attempt (receivers dedup on it).
        by_id = {}
        for d in got:
            by_id.setdefault(d.webhook_id, set()).add(d.json["item_id"])
        assert all(len(v) == 1 for v in by_id.values())


def test_a_node_deleted_and_made_again_is_followed_from_its_start(herald_factory, connect):
    from heraldtest import owner
    h = start(herald_factory)
    with Receiver() as r:
        made = create(h, r.url, strict_order=True)
        for i in ("a", "b", "c"):
            publish(h, "apps", i)
        r.wait_for(lambda g: len(g) >= 3)
        assert wait_until(lambda: endpoint(h, made["id"])["cursors"].get("apps") == 3)
        admin = connect("admin")
        assert owner.delete(admin, "apps").get("type") == "result"
        publish(h, "apps", "x")              # a new node "apps": its seqs start at 1
        got = r.wait_for(lambda g: len(g) >= 4)
        assert item_ids(got) == ["a", "b", "c", "x"]
        # The old cursor (3) must not hide the new node's first entries
        # after a restart either.
        h.restart(hard=True)
        publish(h, "apps", "y")
        got = r.wait_for(lambda g: "y" in item_ids(g))
        assert item_ids(got)[-1] == "y" and item_ids(got).count("x") <= 2



def test_an_endpoint_naming_a_collection_gets_its_leaves_events(herald_factory, connect):
    """Issue 17: an endpoint naming only a XEP-0248 collection receives the
    events of the leaves below it, in the collection's order, each body
    naming its leaf and the collection, webhook-id the collection's
    stanza-id; a leaf outside the owner token's patterns stays out, and
    the collection's cursor still moves past it."""
    from heraldtest.owner import create_ok, publish_ok
    h = start(herald_factory)
    admin = connect("admin")
    create_ok(admin, "apps-all", {"pubsub#node_type": "collection"})
    create_ok(admin, "apps-x", {"pubsub#collection": "apps-all"})
    create_ok(admin, "other-y", {"pubsub#collection": "apps-all"})   # not apps*
    with Receiver() as r:
        made = create(h, r.url, nodes=("apps-all",))
        r.secrets.append(made["secret"])
        publish(h, "apps-x", "x1")
        publish_ok(admin, "other-y", "y1")
        publish(h, "apps-x", "x2")
        publish_ok(admin, "other-y", "y2")
        r.wait_for(lambda g: len(g) >= 2)
        time.sleep(0.5)
        got = r.got()
        assert [(d.json["node"], d.json["item_id"]) for d in got] == [
            ("apps-x", "x1"), ("apps-x", "x2")], [d.json for d in got]
        assert all(d.json["collection"] == "apps-all" and d.verified for d in got)
        assert [d.webhook_id for d in got] == [d.json["stanza_id"] for d in got]
        assert [d.json["sequence"] for d in got] == [1, 3]
        shown = wait_until(lambda: endpoint(h, made["id"])["cursors"].get("apps-all") == 4)
        assert shown, endpoint(h, made["id"])
