"""XEP-0060 entity use cases through a real ejabberd: §6.5 retrieve items,
§7.1 publish, §7.2 retract. alice owns and publishes; bob and carol
subscribe or read.
"""

from __future__ import annotations

import time

from heraldtest.entity import (create_node, entry, get_items, item_ids, items_ok,
                               payload_title, publish, publish_iq, publish_ok, pubsub_iq,
                               retract, set_affiliations, subscribe_ok)
from heraldtest.events import assert_no_event, event_items, items_event, sync, wait_event
from heraldtest.replies import assert_error, assert_result
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS, esc, tostring


def event_item_ids(msg):
    return [i.get("id") for i in event_items(msg).findall("pse:item", NS)]


def collect_event_ids(client, node, want, timeout=5.0):
    """Item IDs from notifications about `node` until `want` are all seen."""
    seen = []
    deadline = time.monotonic() + timeout
    while not set(want) <= set(seen):
        msg = wait_event(client, items_event(node), timeout=max(0.1, deadline - time.monotonic()))
        seen += event_item_ids(msg)
    return seen


# --- §6.5 retrieve items -----------------------------------------------------

def test_6_5_retrieve_all_one_several_and_max_items(herald, connect, unique_name):
    alice, bob = connect("alice"), connect("bob")
    node = unique_name()
    create_node(alice, node)
    publish_ok(alice, node, [(f"i{n}", entry(f"item {n}")) for n in range(1, 5)])
    items = items_ok(bob, node)
    assert [i.get("id") for i in items] == ["i1", "i2", "i3", "i4"]
    assert [payload_title(i) for i in items] == [f"item {n}" for n in range(1, 5)]

    one = items_ok(bob, node, ids=["i3"])
    assert [(i.get("id"), payload_title(i)) for i in one] == [("i3", "item 3")]

    several = items_ok(bob, node, ids=["i4", "i2"])
    assert sorted(i.get("id") for i in several) == ["i2", "i4"]
    assert all(payload_title(i) for i in several)

    newest = items_ok(bob, node, max_items=2)
    assert [i.get("id") for i in newest] == ["i3", "i4"]


def test_6_5_retrieve_errors(herald, connect, unique_name):
    alice, bob = connect("alice"), connect("bob")
    wl, auth, outcast = unique_name("wl"), unique_name("auth"), unique_name("out")
    create_node(alice, wl, {"pubsub#access_model": "whitelist"})
    create_node(alice, auth, {"pubsub#access_model": "authorize"})
    create_node(alice, outcast)
    for n in (wl, auth, outcast):
        publish_ok(alice, n, [("x", entry("secret"))])
        assert item_ids(get_items(alice, n)) == ["x"], "the owner can always read"
    set_affiliations(alice, outcast, {"bob@localhost": "outcast"})

    assert_error(get_items(bob, unique_name("missing")), "cancel", "item-not-found")
    assert_error(get_items(bob, wl), "cancel", "not-allowed", "closed-node")
    assert_error(get_items(bob, auth), "auth", "not-authorized", "not-subscribed")
    assert_error(get_items(bob, outcast), "auth", "forbidden")
    # after the owner whitelists bob, the same request works
    set_affiliations(alice, wl, {"bob@localhost": "member"})
    assert item_ids(get_items(bob, wl)) == ["x"]


def test_6_5_retrieve_presence_model_requires_presence(herald, connect, unique_name):
    alice, bob = connect("alice"), connect("bob")
    node = unique_name()
    create_node(alice, node, {"pubsub#access_model": "presence"})
    publish_ok(alice, node, [("p", entry("presence only"))])
    assert_error(get_items(bob, node), "auth", "not-authorized",
                 "presence-subscription-required")


# --- §7.1 publish -----------------------------------------------------------------

def test_7_1_publish_with_id_notifies_every_subscriber(herald, connect, unique_name):
    alice, bob, carol = connect("alice"), connect("bob"), connect("carol")
    node = unique_name()
    create_node(alice, node)
    subscribe_ok(bob, node)
    subscribe_ok(carol, node)
    assert publish_ok(alice, node, [("ae890ac5", entry("Soliloquy"))]) == ["ae890ac5"]
    for client in (bob, carol):
        msg = wait_event(client, items_event(node))
        assert msg.get("type") == "headline" and msg.get("id"), tostring(msg)
        items = event_items(msg).findall("pse:item", NS)
        assert [i.get("id") for i in items] == ["ae890ac5"]
        assert items[0].get("publisher", "").split("/")[0] == "alice@localhost"
        title = items[0].findtext("{urn:example:herald:test}entry/"
                                  "{urn:example:herald:test}title")
        assert title == "Soliloquy", tostring(msg)
    # the publisher is not subscribed and gets nothing
    sync(alice)
    assert_no_event(alice, node, wait=0.3)


def test_7_1_2_notification_without_payload(herald, connect, unique_name):
    alice, bob = connect("alice"), connect("bob")
    node = unique_name()
    create_node(alice, node, {"pubsub#deliver_payloads": False})
    subscribe_ok(bob, node)
    publish_ok(alice, node, [("bare", entry("kept on the node"))])
    items = event_items(wait_event(bob, items_event(node))).findall("pse:item", NS)
    assert [i.get("id") for i in items] == ["bare"]
    assert len(items[0]) == 0, f"payload delivered: {tostring(items[0])}"
    assert [payload_title(i) for i in items_ok(bob, node)] == ["kept on the node"]


def test_7_1_publish_without_id_gets_server_generated_id(herald, connect, unique_name):
    alice, bob = connect("alice"), connect("bob")
    node = unique_name()
    create_node(alice, node)
    subscribe_ok(bob, node)
    ids = publish_ok(alice, node, [(None, entry("anonymous"))])
    assert len(ids) == 1 and ids[0], "the reply names the generated ID"
    assert event_item_ids(wait_event(bob, items_event(node))) == ids
    assert item_ids(get_items(bob, node)) == ids
    # two publishes without ID get two distinct IDs
    other = publish_ok(alice, node, [(None, entry("another"))])
    assert other[0] != ids[0]


def test_7_1_publish_several_items_in_one_request(herald, connect, unique_name):
    alice, bob, carol = connect("alice"), connect("bob"), connect("carol")
    node = unique_name()
    create_node(alice, node)
    subscribe_ok(bob, node)
    subscribe_ok(carol, node)
    ids = publish_ok(alice, node, [("a", entry("A")), ("b", entry("B")), (None, entry("C"))])
    assert ids[:2] == ["a", "b"] and len(ids) == 3 and ids[2]
    for client in (bob, carol):
        assert sorted(collect_event_ids(client, node, ids)) == sorted(ids)
    assert item_ids(get_items(bob, node)) == ids


def test_7_1_5_publish_options_preconditions(herald, connect, unique_name):
    alice, bob = connect("alice"), connect("bob")
    node = unique_name()
    create_node(alice, node, {"pubsub#access_model": "whitelist"})
    set_affiliations(alice, node, {"bob@localhost": "member"})
    subscribe_ok(bob, node)
    met = publish_ok(alice, node, [("ok", entry("met"))],
                     options={"pubsub#access_model": "whitelist"})
    assert met == ["ok"]
    assert event_item_ids(wait_event(bob, items_event(node))) == ["ok"]
    reply = publish(alice, node, [("no", entry("not met"))],
                    options={"pubsub#access_model": "open"})
    assert_error(reply, "cancel", "conflict", "precondition-not-met")
    assert item_ids(get_items(alice, node)) == ["ok"], "a failed publish stores nothing"
    sync(bob)
    assert_no_event(bob, node, wait=0.3)


def test_7_1_3_payload_too_big(herald_factory, connect, unique_name):
    herald_factory(config={"limits": {"max_payload_bytes": 256}})
    alice, bob = connect("alice"), connect("bob")
    node = unique_name()
    create_node(alice, node)
    subscribe_ok(bob, node)
    reply = publish(alice, node, [("big", entry("x" * 1000))])
    assert_error(reply, "modify", "not-acceptable", "payload-too-big")
    assert publish_ok(alice, node, [("small", entry("fits"))]) == ["small"]
    assert event_item_ids(wait_event(bob, items_event(node))) == ["small"]
    assert item_ids(get_items(bob, node)) == ["small"]


def test_7_1_3_publish_errors(herald, connect, unique_name):
    alice, bob = connect("alice"), connect("bob")
    node = unique_name()
    create_node(alice, node)
    subscribe_ok(bob, node)
    assert_error(publish(bob, node, [("b", entry("not mine"))]), "auth", "forbidden")
    two_payloads = publish_iq(node, [("two", entry("one") + entry("two"))])
    assert_error(alice.iq(two_payloads), "modify", "bad-request", "invalid-payload")
    assert_error(alice.iq(pubsub_iq(f"<publish node='{esc(node)}'/>")),
                 "modify", "bad-request", "item-required")
    # nothing of the above was stored or notified
    assert items_ok(alice, node) == []
    sync(bob)
    assert_no_event(bob, node, wait=0.3)
    # once a publisher, bob may publish
    set_affiliations(alice, node, {"bob@localhost": "publisher"})
    assert publish_ok(bob, node, [("b", entry("now mine"))]) == ["b"]
    item = event_items(wait_event(bob, items_event(node))).find("pse:item", NS)
    assert item.get("publisher", "").split("/")[0] == "bob@localhost"


def test_7_1_3_publish_to_missing_node_item_not_found(herald_factory, connect, unique_name):
    """Without the right to create nodes there is no auto-create (§7.1.4),
    so a missing node is item-not-found."""
    herald_factory(config={"pubsub": {"create_domains": []}})
    admin, alice = connect("admin"), connect("alice")
    node = unique_name()
    create_node(admin, node)
    assert_error(publish(alice, unique_name("missing"), [("m", entry("nowhere"))]),
                 "cancel", "item-not-found")
    assert_error(publish(alice, node, [("m", entry("not a publisher"))]), "auth", "forbidden")


def test_7_1_4_auto_create_on_publish(herald, connect, unique_name):
    alice, bob = connect("alice"), connect("bob")
    features = {f.get("var") for f in
                assert_result(bob.disco_info(SERVICE)).findall("disco:query/disco:feature", NS)}
    assert "http://jabber.org/protocol/pubsub#auto-create" in features
    node = unique_name("auto")
    assert publish_ok(alice, node, [("first", entry("created by publishing"))]) == ["first"]
    reply = assert_result(alice.iq(pubsub_iq(f"<affiliations node='{esc(node)}'/>", "get")))
    affs = reply.findall("ps:pubsub/ps:affiliations/ps:affiliation", NS)
    assert [(x.get("node"), x.get("affiliation")) for x in affs] == [(node, "owner")]
    subscribe_ok(bob, node)
    assert item_ids(get_items(bob, node)) == ["first"]


def test_7_1_4_auto_create_can_be_turned_off(herald_factory, connect, unique_name):
    """pubsub.auto_create = false: even a user who may create nodes gets
    item-not-found, and the feature is not advertised."""
    herald_factory(config={"pubsub": {"auto_create": False}})
    alice = connect("alice")
    features = {f.get("var") for f in
                assert_result(alice.disco_info(SERVICE)).findall("disco:query/disco:feature", NS)}
    assert "http://jabber.org/protocol/pubsub#auto-create" not in features
    assert_error(publish(alice, unique_name("missing"), [("m", entry("nowhere"))]),
                 "cancel", "item-not-found")


def test_7_1_republish_replaces_and_moves_to_newest(herald, connect, unique_name):
    alice, bob = connect("alice"), connect("bob")
    node = unique_name()
    create_node(alice, node)
    publish_ok(alice, node, [("a", entry("A1")), ("b", entry("B")), ("c", entry("C"))])
    subscribe_ok(bob, node)
    assert publish_ok(alice, node, [("a", entry("A2"))]) == ["a"]
    msg = wait_event(bob, items_event(node))
    assert event_item_ids(msg) == ["a"]
    items = items_ok(bob, node)
    assert [i.get("id") for i in items] == ["b", "c", "a"]
    assert payload_title(items[-1]) == "A2"
    assert [i.get("id") for i in items_ok(bob, node, max_items=1)] == ["a"]
    assert [payload_title(i) for i in items_ok(bob, node, ids=["a"])] == ["A2"]


# --- §7.2 retract ----------------------------------------------------------------

def retract_ids(msg):
    return [r.get("id") for r in event_items(msg).findall("pse:retract", NS)]


def test_7_2_retract_with_notify(herald, connect, unique_name):
    alice, bob, carol = connect("alice"), connect("bob"), connect("carol")
    node = unique_name()
    create_node(alice, node, {"pubsub#notify_retract": False})
    publish_ok(alice, node, [("r1", entry("one")), ("r2", entry("two"))])
    subscribe_ok(bob, node)
    subscribe_ok(carol, node)
    assert_result(retract(alice, node, "r1", notify="true"))
    for client in (bob, carol):
        assert retract_ids(wait_event(client, items_event(node))) == ["r1"]
    assert item_ids(get_items(bob, node)) == ["r2"]
    assert_error(get_items(bob, node, ids=["r1"]), "cancel", "item-not-found")


def test_7_2_retract_without_notify(herald, connect, unique_name):
    alice, bob = connect("alice"), connect("bob")
    quiet, default = unique_name("quiet"), unique_name("default")
    create_node(alice, quiet, {"pubsub#notify_retract": False})
    create_node(alice, default)
    for n in (quiet, default):
        publish_ok(alice, n, [("r1", entry("one")), ("r2", entry("two"))])
        subscribe_ok(bob, n)
    # notify absent: the node's pubsub#notify_retract decides
    assert_result(retract(alice, quiet, "r1"))
    # notify='false' on a node that notifies by default
    assert_result(retract(alice, default, "r1", notify="false"))
    sync(bob)
    assert_no_event(bob, quiet, wait=0.5)
    assert_no_event(bob, default, wait=0.1)
    assert item_ids(get_items(bob, quiet)) == ["r2"]
    assert item_ids(get_items(bob, default)) == ["r2"]
    # notify absent on the default node: pubsub#notify_retract=true notifies
    assert_result(retract(alice, default, "r2"))
    assert retract_ids(wait_event(bob, items_event(default))) == ["r2"]


def test_7_2_retract_errors(herald, connect, unique_name):
    alice, bob = connect("alice"), connect("bob")
    node = unique_name()
    create_node(alice, node)
    publish_ok(alice, node, [("keep", entry("keep me"))])
    subscribe_ok(bob, node)
    assert_error(retract(alice, node, "no-such-item", notify="true"), "cancel",
                 "item-not-found")
    assert_error(retract(bob, node, "keep", notify="true"), "auth", "forbidden")
    assert_error(retract(alice, unique_name("missing"), "keep"), "cancel", "item-not-found")
    assert item_ids(get_items(bob, node)) == ["keep"]
    sync(bob)
    assert_no_event(bob, node, wait=0.3)
