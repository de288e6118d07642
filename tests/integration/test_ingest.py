"""Issue 5: HTTP ingest and the operator's surface, against a real ejabberd.

Events are published over HTTP; XMPP clients logged in to the private
ejabberd check what subscribers receive and what the store holds.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Optional

import pytest

from heraldtest.entity import subscribe_ok
from heraldtest.events import items_in
from heraldtest.harness import REPO, Herald
from heraldtest.ingest import NARROW, TOKEN, TOKENS, post, put, request, scrape
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS_PUBSUB, tostring

NS_EVENT = "http://jabber.org/protocol/pubsub#event"
NS_JSON = "urn:xmpp:json:0"

@pytest.fixture
def herald(herald_factory) -> Herald:
    return herald_factory(config={"http": {"tokens": TOKENS},
                                  "limits": {"max_payload_bytes": 4096}})


def items(client, node: str, ids: Optional[list[str]] = None) -> list:
    """The node's items (all, or these IDs) as <item/> elements."""
    inner = "".join(f"<item id='{i}'/>" for i in ids or [])
    reply = client.iq_ok(f"<iq type='get' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
                         f"<items node='{node}'>{inner}</items></pubsub></iq>")
    return reply.findall(f"{{{NS_PUBSUB}}}pubsub/{{{NS_PUBSUB}}}items/{{{NS_PUBSUB}}}item")


def item_ids(client, node: str) -> list[str]:
    return [i.get("id") for i in items(client, node)]


def test_http_publish_reaches_an_xmpp_subscriber(herald, connect, unique_name):
    node = unique_name("ingest")
    status, _, first = put(herald, node, "app-1", {"app": "one"})
    assert status == 201, first
    assert (first["node"], first["id"], first["seq"], first["status"]) == (node, "app-1", 1, "created")
    bob = connect("bob")
    subscribe_ok(bob, node, "bob@localhost")
    status, _, reply = post(herald, node, {"app": "two", "note": "<&>"})
    assert status == 201 and reply["seq"] == 2, reply
    got = items_in(bob.messages(timeout=3))
    assert [i.get("id") for i in got] == [reply["id"]]
    payload = got[0].find(f"{{{NS_JSON}}}json")
    assert payload is not None, tostring(got[0])
    assert json.loads(payload.text) == {"app": "two", "note": "<&>"}


def test_retried_put_and_keyed_post_notify_once(herald, connect, unique_name):
    node = unique_name("ingest")
    assert put(herald, node, "seed", {"n": 0})[0] == 201
    bob = connect("bob")
    subscribe_ok(bob, node, "bob@localhost")
    first = put(herald, node, "a", {"n": 1})
    again = put(herald, node, "a", {"n": 1})
    assert first[0] == 201 and again[0] == 200
    assert again[2]["seq"] == first[2]["seq"] and again[2]["status"] == "unchanged"
    key = {"Idempotency-Key": "order-77"}
    p1 = post(herald, node, {"order": 77}, headers=key)
    p2 = post(herald, node, {"order": 77}, headers=key)
    assert p1[0] == p2[0] == 201
    assert p2[2]["id"] == p1[2]["id"] and p2[2]["replayed"] is True
    assert p2[1].get("idempotent-replayed") == "true"
    reused = post(herald, node, {"order": 78}, headers=key)
    assert reused[0] == 422 and reused[2]["error"] == "idempotency_key_reused"
    got = [i.get("id") for i in items_in(bob.messages(timeout=2))]
    assert got == ["a", p1[2]["id"]]
    # A different body replaces the item: new seq, newest, notified.
    changed = put(herald, node, "a", {"n": 2})
    assert changed[0] == 200 and changed[2]["status"] == "replaced"
    assert changed[2]["seq"] > p1[2]["seq"]
    assert [i.get("id") for i in items_in(bob.messages(timeout=2))] == ["a"]
    assert item_ids(bob, node) == ["seed", p1[2]["id"], "a"]


BIG = {"blob": "x" * 5000}
BAD_INPUTS = [
    # (name, method, path-suffix, body, kwargs, status, error code, message part)
    ("invalid json", "PUT", "/items/x", "{nope", {}, 400, "invalid_json", "invalid JSON"),
    ("too big", "PUT", "/items/x", BIG, {}, 413, "payload_too_large", "max_payload_bytes"),
    ("wrong content type", "PUT", "/items/x", "hi", {"content_type": "text/plain"}, 415,
     "unsupported_media_type", "Content-Type"),
    ("no content type", "POST", "/items", "{}", {"content_type": None}, 415,
     "unsupported_media_type", "Content-Type"),
    ("bad item id", "PUT", "/items/a%0Ab", {"n": 1}, {}, 400, "bad_item_id", "control"),
    ("long item id", "PUT", "/items/" + "i" * 300, {"n": 1}, {}, 400, "bad_item_id", "256"),
    ("invalid xml", "POST", "/items", "<a/><b/>", {"content_type": "application/xml"}, 400,
     "invalid_xml", "XML"),
    ("cloudevent without source", "POST", "/items",
     {"specversion": "1.0", "id": "e1", "type": "t"},
     {"content_type": "application/cloudevents+json"}, 400, "invalid_cloudevent", "source"),
    ("batch with one bad item", "POST", "/items:batch",
     {"items": [{"id": "ok", "json": 1}, {"id": "bad"}]}, {}, 400, "bad_request", "item 1"),
    ("batch with one big item", "POST", "/items:batch",
     {"items": [{"id": "ok", "json": 1}, {"id": "big", "json": BIG}]}, {}, 413,
     "payload_too_large", "item 1"),
    ("bad idempotency key", "POST", "/items", {"n": 1}, {"headers": {"Idempotency-Key": "a b"}},
     400, "bad_idempotency_key", "Idempotency-Key"),
]


def test_bad_inputs_get_their_status_and_leave_the_store_unchanged(herald, connect, unique_name):
    node = unique_name("ingest")
    assert put(herald, node, "seed", {"n": 0})[0] == 201
    alice = connect("alice")
    before = [tostring(i) for i in items(alice, node)]
    for name, method, suffix, body, kw, status, code, part in BAD_INPUTS:
        got = request(herald, method, f"/v1/nodes/{node}{suffix}", body, **kw)
        assert got[0] == status, (name, got)
        assert got[2].get("error") == code, (name, got)
        assert part in got[2].get("message", ""), (name, got)
        assert got[1].get("content-type") == "application/json", name
    assert [tostring(i) for i in items(alice, node)] == before


def test_auth_is_required_and_scoped(herald, connect, unique_name):
    node = unique_name("ingest")
    for token in (None, "wrong-token-0123456789"):
        status, headers, body = put(herald, node, "a", {"n": 1}, token=token)
        assert status == 401, body
        assert headers.get("www-authenticate", "").startswith("Bearer")
        assert body["error"] == "unauthorized"
    status, _, body = put(herald, node, "a", {"n": 1}, token=NARROW)
    assert status == 403 and body["error"] == "forbidden"
    assert NARROW not in body["message"]
    status, _, body = put(herald, "apps-" + node, "a", {"n": 1}, token=NARROW)
    assert status == 404 and body["error"] == "node_not_found"
    alice = connect("alice")
    for n in (node, "apps-" + node):
        reply = alice.iq(f"<iq type='get' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
                         f"<items node='{n}'/></pubsub></iq>")
        assert reply.get("type") == "error", tostring(reply)
    assert TOKEN not in herald.log_text() and NARROW not in herald.log_text()


def test_batch_is_all_or_nothing_and_ordered(herald, connect, unique_name):
    node = unique_name("ingest")
    batch = {"items": [{"id": "b1", "json": {"n": 1}},
                       {"xml": "<app xmlns='urn:example:platform' name='x'/>"},
                       {"id": "b3", "json": [1, 2]}]}
    status, _, body = request(herald, "POST", f"/v1/nodes/{node}/items:batch", batch)
    assert status == 200, body
    assert [i["seq"] for i in body["items"]] == [1, 2, 3]
    alice = connect("alice")
    assert item_ids(alice, node) == ["b1", body["items"][1]["id"], "b3"]
    events = [{"specversion": "1.0", "id": f"ce-{i}", "source": "/billing",
               "type": "invoice.paid"} for i in range(3)]
    status, _, body = request(herald, "POST", f"/v1/nodes/{node}/items:batch", events,
                              content_type="application/cloudevents-batch+json")
    assert status == 200, body
    assert item_ids(alice, node)[-3:] == ["ce-0", "ce-1", "ce-2"]


def test_sigkill_during_http_publishes_loses_no_acknowledged_item(herald_factory, connect,
                                                                   unique_name):
    h = herald_factory(config={"http": {"tokens": TOKENS},
                               "pubsub": {"default_max_items": 100000}})
    node = unique_name("ingest")
    assert put(h, node, "seed", {"n": 0})[0] == 201
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def publisher(worker: int) -> None:
        n = 0
        while not stop.is_set():
            item_id = f"w{worker}-{n}"
            n += 1
            try:
                status, _, _ = put(h, node, item_id, {"worker": worker, "n": n})
            except OSError:
                return
            if 200 <= status < 300:
                with lock:
                    acked.append(item_id)

    threads = [threading.Thread(target=publisher, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while len(acked) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    h.kill()
    stop.set()
    for t in threads:
        t.join(timeout=20)
    assert len(acked) >= 50, f"only {len(acked)} publishes acknowledged before the kill"
    h.start().wait_ready()
    alice = connect("alice")
    found: set[str] = set()
    for i in range(0, len(acked), 100):
        chunk = acked[i:i + 100]
        found |= {el.get("id") for el in items(alice, node, chunk)}
    missing = [i for i in acked if i not in found]
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged items lost: {missing[:10]}"


def test_metrics_parse_and_move(herald, connect, unique_name):
    node = unique_name("ingest")
    before = scrape(herald)
    assert before[("herald_link_up", ())] == 1
    bob = connect("bob")
    assert put(herald, node, "a", {"n": 1})[0] == 201
    subscribe_ok(bob, node, "bob@localhost")
    assert put(herald, node, "b", {"n": 2})[0] == 201
    admin = connect("admin")      # an admin owns every node: may publish
    admin.iq_ok(f"<iq type='set' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
                f"<publish node='{node}'><item id='x'><e xmlns='urn:x'/></item></publish>"
                f"</pubsub></iq>")
    assert len(items_in(bob.messages(timeout=2))) == 2
    after = scrape(herald)
    http_key = ("herald_publishes_total", (("source", "http"),))
    xmpp_key = ("herald_publishes_total", (("source", "xmpp"),))
    assert after[http_key] - before.get(http_key, 0) == 2
    assert after[xmpp_key] - before.get(xmpp_key, 0) == 1
    notes = ("herald_notifications_total", ())
    assert after[notes] - before[notes] >= 2
    assert after[("herald_node_items", (("node", node),))] == 3
    count = ("herald_store_flush_seconds_count", ())
    assert after[count] > before[count]
    inf = ("herald_store_flush_seconds_bucket", (("le", "+Inf"),))
    assert after[inf] == after[count]
    assert ("herald_outbox_depth", ()) in after
    assert ("herald_link_reconnects_total", ()) in after


def test_health_and_readiness(herald):
    assert request(herald, "GET", "/healthz", token=None, content_type=None)[0] == 200
    status, _, body = request(herald, "GET", "/readyz", token=None, content_type=None)
    # A cluster follower also names the leader (HERALD_TEST_STORAGE=cluster).
    assert status == 200 and body.get("status") == "ready", body


def test_readiness_fails_without_the_component_link(herald_factory):
    h = herald_factory(config={"component": {"port": 1}}, start=False).start()
    deadline = time.monotonic() + 10
    while True:
        try:
            status, headers, body = request(h, "GET", "/readyz", token=None, content_type=None)
            break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert status == 503 and "retry-after" in headers, body
    assert request(h, "GET", "/healthz", token=None, content_type=None)[0] == 200


def readme_examples() -> list[str]:
    """The sh blocks of the README between the ingest-examples markers."""
    text = (REPO / "README.md").read_text()
    section = text.split("<!-- ingest-examples -->")[1].split("<!-- /ingest-examples -->")[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def test_readme_examples_run_as_written(herald_factory, herald_bin, connect):
    h = herald_factory(config={"http": {"tokens": TOKENS}})
    blocks = readme_examples()
    assert len(blocks) >= 2
    env = dict(os.environ, HERALD_URL=h.http_url, HERALD_TOKEN=TOKEN,
               PATH=f"{Path(herald_bin).parent}:{os.environ['PATH']}")
    for block in blocks:
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", block], env=env,
                             capture_output=True, text=True, timeout=60, cwd=h.workdir)
        assert out.returncode == 0, f"{block}\n--- stdout\n{out.stdout}\n--- stderr\n{out.stderr}"
        for line in out.stdout.splitlines():
            if line.startswith("{"):
                assert "seq" in line and json.loads(line), line
    alice = connect("alice")
    assert "app-42" in item_ids(alice, "apps")
