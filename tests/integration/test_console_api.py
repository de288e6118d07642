"""Issue 14 (first part), the operator's JSON API and its shell commands,
against a real Herald and ejabberd: nodes made over XMPP and HTTP seen
with their counts and subscribers, paging, a node in full, consumer
groups, status; refused without an admin token (and outside its node
patterns); no answer ever echoes a token; `herald nodes|node|groups|tail`
print the same as tables or JSON.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest

from heraldtest import entity, owner
from heraldtest.harness import Herald
from heraldtest.ingest import request

ADMIN = "console-admin-token-01234"
PUBLISH = "console-publish-token-012"
READ = "console-read-token-012345"
TOKENS = {
    "ops": {"token": ADMIN, "nodes": ["ops-*"], "scopes": ["admin", "read"]},
    "pub": {"token": PUBLISH, "nodes": ["ops-*", "other"], "create": True},
    "reader": {"token": READ, "nodes": ["ops-*"], "scopes": ["read"]},
}
SECRETS = [ADMIN, PUBLISH, READ, "herald-dev-secret"]


@pytest.fixture
def herald(herald_factory) -> Herald:
    return herald_factory(config={"http": {"tokens": TOKENS}})


def get(h: Herald, path: str, token=ADMIN):
    status, _, body = request(h, "GET", path, token=token)
    text = json.dumps(body)
    assert not any(s in text for s in SECRETS), f"{path} echoed a secret: {text}"
    return status, body


def publish(h: Herald, node: str, item_id: str) -> None:
    status, _, reply = request(h, "PUT", f"/v1/nodes/{node}/items/{item_id}", {"i": item_id},
                               token=PUBLISH)
    assert status in (200, 201), reply


def cli(herald_bin, h: Herald, *args: str, timeout: float = 15) -> str:
    out = subprocess.run([str(herald_bin), *args, "--url", h.http_url, "--token", ADMIN],
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    assert ADMIN not in out.stdout
    return out.stdout


def test_nodes_made_over_xmpp_and_http_are_seen_with_their_counts(herald, connect, herald_bin):
    alice, bob = connect("alice"), connect("bob")
    owner.create_ok(alice, "ops-xmpp")
    entity.subscribe(bob, "ops-xmpp", "bob@localhost")
    publish(herald, "ops-http", "a")
    publish(herald, "ops-http", "b")
    publish(herald, "other", "x")            # outside the admin token's patterns
    status, page = get(herald, "/v1/nodes")
    assert status == 200, page
    by_name = {n["node"]: n for n in page["nodes"]}
    assert set(by_name) == {"ops-http", "ops-xmpp"}, by_name
    assert by_name["ops-http"]["items"] == 2 and by_name["ops-http"]["history"] == 2
    assert by_name["ops-xmpp"]["subscriptions"] == 1 and by_name["ops-xmpp"]["items"] == 0
    status, first = get(herald, "/v1/nodes?limit=1")
    assert [n["node"] for n in first["nodes"]] == ["ops-http"] and first["next"] == "ops-http"
    status, rest = get(herald, f"/v1/nodes?limit=1&after={first['next']}")
    assert [n["node"] for n in rest["nodes"]] == ["ops-xmpp"]
    status, node = get(herald, "/v1/nodes/ops-xmpp")
    assert status == 200, node
    assert [(s["jid"], s["state"]) for s in node["subscribers"]] == [("bob@localhost", "subscribed")]
    assert node["config"]["pubsub#max_items"], node["config"]
    status, node = get(herald, "/v1/nodes/ops-http")
    assert node["last_publish"].endswith("Z") and node["sequence"] == 2
    status, st = get(herald, "/v1/status")
    assert st["link"]["up"] is True and st["publishes"]["http"] >= 3, st
    assert st["link"]["per_connection"] == [True], st
    assert st["store_bytes"] > 0, st
    # The same from a shell.
    table = cli(herald_bin, herald, "nodes")
    assert table.splitlines()[0].split() == ["NODE", "ITEMS", "HISTORY", "SUBSCRIPTIONS", "TITLE"]
    rows = {line.split()[0]: line.split() for line in table.splitlines()[1:]}
    assert rows["ops-http"][1:4] == ["2", "2", "0"] and "other" not in rows
    listed = json.loads(cli(herald_bin, herald, "nodes", "--json"))
    assert {n["node"] for n in listed["nodes"]} == {"ops-http", "ops-xmpp"}
    shown = cli(herald_bin, herald, "node", "ops-xmpp")
    assert "bob@localhost" in shown and "subscribed" in shown and "pubsub#max_items" in shown
    groups = json.loads(cli(herald_bin, herald, "groups", "--json"))
    assert groups["groups"] == [] and "dead_letters" in groups


def test_tail_prints_events_as_they_are_published(herald, herald_bin):
    publish(herald, "ops-tail", "before")
    proc = subprocess.Popen([str(herald_bin), "tail", "ops-tail", "--count", "2", "--json",
                             "--url", herald.http_url, "--token", READ],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)                      # the stream is open
        publish(herald, "ops-tail", "one")
        publish(herald, "ops-tail", "two")
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["item_id"] for e in events] == ["one", "two"]


def test_the_api_needs_an_admin_token_for_the_node(herald):
    publish(herald, "other", "x")
    for path in ["/v1/status", "/v1/nodes", "/v1/nodes/ops-a", "/v1/groups"]:
        status, body = get(herald, path, token=None)
        assert status == 401, (path, body)
        status, body = get(herald, path, token=READ)
        assert status == 403 and "admin" in body["message"], (path, body)
        status, body = get(herald, path, token=PUBLISH)
        assert status == 403, (path, body)
    status, body = get(herald, "/v1/nodes/other")
    assert status == 403, body
    status, body = get(herald, "/v1/nodes/ops-none")
    assert status == 404, body


def test_a_dead_letter_is_listed_and_resent_to_its_group(herald_factory, connect, herald_bin):
    from heraldtest.queueing import create_node, items_of, join, poll, publish_pipelined
    from heraldtest.sandbox import SERVICE
    from heraldtest.stanza import NS_PUBSUB, NS_QUEUE, esc
    h = herald_factory(config={"http": {"tokens": TOKENS},
                               "queue": {"max_deliveries": 1, "tick_ms": 50}})
    node = "ops-jobs"
    alice, bob = connect("alice"), connect("bob", resource="worker")
    create_node(alice, node)
    join(bob, node, "workers", 1)
    assert publish_pipelined(alice, node, ["j1"]) == 1

    def delivered(timeout=10):
        seen, deadline = [], time.monotonic() + timeout
        while not seen and time.monotonic() < deadline:
            seen = [i for m in poll(bob, 0.2) for i in items_of(m)]
        return seen

    assert delivered() == ["j1"]
    bob.iq_ok(f"<iq type='set' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
              f"<unlock xmlns='{NS_QUEUE}' node='{esc(node)}'><item id='j1'/></unlock>"
              f"</pubsub></iq>")          # a nack past max_deliveries: a dead letter
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status, page = get(h, f"/v1/nodes/{node}/dead-letters")
        if page.get("dead_letters"):
            break
        time.sleep(0.1)
    assert status == 200 and [d["item_id"] for d in page["dead_letters"]] == ["j1"], page
    assert "j1" in cli(herald_bin, h, "dead-letters", node)
    # Resend: the item is handed to the group again, the dead letter goes.
    out = cli(herald_bin, h, "dead-letters", node, "--resend", "j1")
    assert out.strip() == f"resent j1 to {node}"
    assert delivered() == ["j1"], "the resent item reached the group again"
    status, page = get(h, f"/v1/nodes/{node}/dead-letters")
    assert page["dead_letters"] == [], page
    status, _, body = request(h, "POST", f"/v1/nodes/{node}/dead-letters/j1/resend", token=ADMIN)
    assert status == 404, body
    status, _, body = request(h, "POST", f"/v1/nodes/{node}/dead-letters/j1/resend", token=READ)
    assert status == 403, body


def test_a_group_shows_its_members_lag_and_redeliveries(herald_factory, connect):
    from heraldtest.queueing import create_node, items_of, join, poll, publish_pipelined
    from heraldtest.sandbox import SERVICE
    from heraldtest.stanza import NS_PUBSUB, NS_QUEUE, esc
    h = herald_factory(config={"http": {"tokens": TOKENS},
                               "queue": {"max_deliveries": 5, "tick_ms": 50,
                                         "backoff_base_ms": 50, "backoff_max_ms": 100}})
    node = "ops-redeliver"
    alice, bob = connect("alice"), connect("bob", resource="worker")
    create_node(alice, node)
    join(bob, node, "workers", 1)
    assert publish_pipelined(alice, node, ["j1"]) == 1

    def delivered(timeout=10):
        seen, deadline = [], time.monotonic() + timeout
        while not seen and time.monotonic() < deadline:
            seen = [i for m in poll(bob, 0.2) for i in items_of(m)]
        return seen

    assert delivered() == ["j1"]
    bob.iq_ok(f"<iq type='set' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
              f"<unlock xmlns='{NS_QUEUE}' node='{esc(node)}'><item id='j1'/></unlock>"
              f"</pubsub></iq>")          # a nack: j1 goes out again
    assert delivered() == ["j1"]
    status, body = get(h, "/v1/groups")
    assert status == 200, body
    [g] = [g for g in body["groups"] if g["node"] == node]
    assert g["group"] == "workers" and g["redeliveries"] == 1, g
    assert (g["held"], g["lag"], g["waiting"], g["backlog"]) == (1, 0, 0, 1), g
    [m] = g["members"]
    assert m["jid"] == "bob@localhost/worker" and (m["held"], m["credit"]) == (1, 1), m
    assert m["available"] is True and m["subid"], m


def test_a_large_purge_reports_its_progress_on_the_operations_board(herald_factory, connect,
                                                                    herald_bin):
    h = herald_factory(config={"http": {"tokens": TOKENS},
                               "pubsub": {"default_max_items": 50_000}})
    node, total = "ops-big", 20_000
    status, board = get(h, "/v1/operations")
    assert status == 200 and board == {"running": [], "finished": []}, board
    for start in range(0, total, 1000):
        batch = {"items": [{"id": f"i{k}", "json": {"k": k}} for k in range(start, start + 1000)]}
        status, _, reply = request(h, "POST", f"/v1/nodes/{node}/items:batch", batch,
                                   token=PUBLISH)
        assert status in (200, 201), reply
    admin = connect("admin")
    seen_running = []
    done = threading.Event()

    def watch():                             # the board answers while the core purges
        while not done.is_set():
            _, b = get(h, "/v1/operations")
            seen_running.extend(r for r in b.get("running", []) if r["target"] == node)
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        reply = owner.purge(admin, node)
        assert reply.get("type") == "result", reply
    finally:
        done.set()
        watcher.join(5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, board = get(h, "/v1/operations")
        if board["finished"]:
            break
        time.sleep(0.1)
    [record] = board["finished"]
    assert (record["kind"], record["target"], record["state"]) == ("purge", node, "done"), record
    assert record["done"] == total and record["total"] == total, record
    assert board["running"] == [], board
    # The watcher saw it running (a 20k purge takes well over its 10 ms
    # polls), with progress that only grows.
    assert seen_running, "the board answered while the core purged"
    assert all(r["state"] == "running" and r["total"] == total for r in seen_running)
    dones = [r["done"] for r in seen_running]
    assert dones == sorted(dones) and dones[-1] <= total, dones
    log = h.log_text()
    assert "operation started" in log and "operation finished" in log, h.log_tail()
    status, node_now = get(h, f"/v1/nodes/{node}")
    assert node_now["items"] == 0, node_now
    table = cli(herald_bin, h, "operations")
    assert table.split()[:7] == ["KIND", "TARGET", "STATE", "DONE", "TOTAL", "ELAPSED", "ERROR"]
    assert table.splitlines()[1].split()[:5] == ["purge", node, "done", str(total), str(total)]
    # Without admin: refused.
    status, body = get(h, "/v1/operations", token=READ)
    assert status == 403, body
