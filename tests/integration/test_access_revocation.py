"""Issue 16, the access-rule side, through ejabberd with real clients:
revocation ends subscriptions (with the XEP-0060 §12 subscription-state
notification, then no payloads), `<node>/dead-letter` belongs to the
node's owners, `limits.max_nodes` neither loses failed group items nor
hides behind `node_refused`, and the chat `list` shows what disco#items
shows."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse

from heraldtest.entity import (create_node, entry, get_items, items_ok, publish_ok, pubsub_iq,
                               set_affiliations, subscribe, subscribe_ok)
from heraldtest.events import (assert_no_event, items_event, subscription_event, sync,
                               wait_event)
from heraldtest.forms import NODE_CONFIG, form
from heraldtest.muc import command
from heraldtest.owner import configure_ok
from heraldtest.queueing import join
from heraldtest.replies import assert_error
from heraldtest.stanza import NS, NS_QUEUE, esc, local

QUEUE = {"backoff_base_ms": 50, "backoff_max_ms": 200, "max_deliveries": 3, "tick_ms": 50}
TOKEN = "access-token-0123456789"
TOKENS = {"platform": {"token": TOKEN, "nodes": ["cap-*"], "create": True}}


def subscription_notice(client, node):
    """The next §12 subscription-state notification about `node`."""
    msg = wait_event(client, subscription_event(node), timeout=5)
    return msg.find("pse:event/pse:subscription", NS)


def fail_for_good(alice, worker, node, item_id):
    """Publishes `item_id` and has `worker` unlock it max_deliveries times."""
    join(worker, node, "workers", 1)
    publish_ok(alice, node, [(item_id, entry("poison"))])
    for _ in range(QUEUE["max_deliveries"]):
        msg = worker.wait_for(lambda s: local(s) == "message" and s.find(
            f"pse:event/pse:items/pse:item[@id='{item_id}']", NS) is not None, timeout=10)
        assert msg is not None
        worker.iq_ok(pubsub_iq(f"<unlock xmlns='{NS_QUEUE}' node='{esc(node)}'>"
                               f"<item id='{esc(item_id)}'/></unlock>"))


def wait_dead_letter(alice, node, item_id):
    dead = f"{node}/dead-letter"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        reply = get_items(alice, dead)
        if reply.get("type") == "result":
            ids = [i.get("id") for i in reply.iterfind("ps:pubsub/ps:items/ps:item", NS)]
            if item_id in ids:
                return
        time.sleep(0.1)
    raise AssertionError(f"{item_id} never reached {dead}")


def http_put(h, node, item_id, body):
    url = urllib.parse.urlparse(h.http_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=15)
    try:
        conn.request("PUT", f"/v1/nodes/{node}/items/{item_id}", body=json.dumps(body),
                     headers={"Authorization": f"Bearer {TOKEN}",
                              "Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


def test_switch_to_whitelist_ends_a_strangers_subscription(herald, connect, unique_name):
    alice, bob, carol = connect("alice"), connect("bob"), connect("carol")
    node = unique_name("news")
    create_node(alice, node)
    set_affiliations(alice, node, {carol.bare_jid: "member"})
    subscribe_ok(bob, node)
    subscribe_ok(carol, node)
    publish_ok(alice, node, [("before", entry("hello"))])
    wait_event(bob, items_event(node))
    wait_event(carol, items_event(node))

    configure_ok(alice, node, {"pubsub#access_model": "whitelist"})
    sub = subscription_notice(bob, node)
    assert (sub.get("node"), sub.get("jid"), sub.get("subscription")) == \
        (node, bob.bare_jid, "none")

    publish_ok(alice, node, [("after", entry("secret"))])
    assert wait_event(carol, items_event(node)) is not None, "members keep their subscription"
    sync(bob)
    assert_no_event(bob, node, wait=0.5)
    assert_error(get_items(bob, node), "cancel", "not-allowed", "closed-node")
    assert f" {node}" not in command(bob, "list"), "hidden like in disco#items"
    assert f" {node}" in command(carol, "list")


def test_member_set_to_none_stops_getting_payloads(herald, connect, unique_name):
    alice, bob = connect("alice"), connect("bob")
    node = unique_name("club")
    create_node(alice, node, {"pubsub#access_model": "whitelist"})
    set_affiliations(alice, node, {bob.bare_jid: "member"})
    subscribe_ok(bob, node)
    publish_ok(alice, node, [("one", entry("for members"))])
    wait_event(bob, items_event(node))

    set_affiliations(alice, node, {bob.bare_jid: "none"})
    sub = subscription_notice(bob, node)
    assert sub.get("subscription") == "none"
    publish_ok(alice, node, [("two", entry("not for bob"))])
    sync(bob)
    assert_no_event(bob, node, wait=0.5)


def test_dead_letter_names_belong_to_the_nodes_owners(herald_factory, connect, unique_name):
    herald_factory(config={"queue": QUEUE})
    alice, bob, carol = connect("alice"), connect("bob", resource="worker"), connect("carol")
    node = unique_name("jobs")
    early = unique_name("later")
    # Nobody (but admins) claims the name before the node exists ...
    for who in (alice, carol):
        assert_error(who.iq(pubsub_iq(f"<create node='{esc(early)}/dead-letter'/>")),
                     "auth", "forbidden")
    create_node(alice, node)
    squat = pubsub_iq(f"<create node='{esc(node)}/dead-letter'/><configure>"
                      f"{form(NODE_CONFIG, {'pubsub#access_model': 'open'})}</configure>")
    # ... nor, once it exists, anyone but its owners.
    assert_error(carol.iq(squat), "auth", "forbidden")

    fail_for_good(alice, bob, node, "poison")
    wait_dead_letter(alice, node, "poison")
    dead = f"{node}/dead-letter"
    assert [i.get("id") for i in items_ok(alice, dead)] == ["poison"]
    assert_error(get_items(carol, dead), "cancel", "not-allowed", "closed-node")
    assert_error(subscribe(carol, dead), "cancel", "not-allowed", "closed-node")


def test_max_nodes_has_its_own_refusal(herald_factory, connect, unique_name):
    h = herald_factory(config={"limits": {"max_nodes": 1}, "http": {"tokens": TOKENS}})
    alice = connect("alice")
    node = unique_name("cap-full")
    create_node(alice, node)
    assert_error(alice.iq(pubsub_iq(f"<create node='{esc(unique_name('cap'))}'/>")),
                 "cancel", "not-allowed", "max-nodes-exceeded")
    status, body = http_put(h, unique_name("cap-http"), "i1", {"n": 1})
    assert (status, body.get("error")) == (507, "max_nodes_reached"), body
    assert "limits.max_nodes" in body.get("message", "")
    status, body = http_put(h, node, "i2", {"n": 2})
    assert status == 201, "existing nodes still take items"


def test_max_nodes_keeps_failed_group_items(herald_factory, connect, unique_name):
    herald_factory(config={"queue": QUEUE, "limits": {"max_nodes": 1}})
    alice, bob = connect("alice"), connect("bob", resource="worker")
    node = unique_name("cap-jobs")
    create_node(alice, node)
    fail_for_good(alice, bob, node, "poison")
    wait_dead_letter(alice, node, "poison")
