"""Node configuration options (XEP-0060 §16.4 pubsub#node_config) in effect,
observed by real clients through the real ejabberd: the owner configures,
another client publishes, subscribes, retrieves and receives notifications.
"""

from __future__ import annotations

import pytest

from heraldtest.events import (QUIET, event_child, events_for, item_event_ids, items_event,
                               message_type, subscription_event, wait_event, wait_item)
from heraldtest.forms import field
from heraldtest.owner import (PAYLOAD_NS, config_of, configure_ok, configure_set, create,
                              create_ok, disco_meta, item_ids, items, publish_ok, purge,
                              retract, subscribe_ok, subscriptions_set)
from heraldtest.replies import assert_error, assert_result
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS, NS_DELAY, tostring


@pytest.fixture
def alice(herald, connect):
    return connect("alice")


@pytest.fixture
def bob(herald, connect):
    return connect("bob")


def the_item(msg, node: str):
    items_el = msg.find("pse:event/pse:items", NS)
    assert items_el is not None and items_el.get("node") == node, tostring(msg)
    found = items_el.findall("pse:item", NS)
    assert len(found) == 1, tostring(msg)
    return found[0]


# --- pubsub#max_items -----------------------------------------------------------

def test_max_items_trims_oldest(alice, bob, unique_name):
    node = unique_name("max3")
    create_ok(alice, node, {"pubsub#max_items": "3"})
    for i in range(5):
        publish_ok(alice, node, f"i{i}")
    assert item_ids(bob, node) == ["i2", "i3", "i4"]


def test_lowering_max_items_trims_existing(alice, bob, unique_name):
    node = unique_name("max-lower")
    create_ok(alice, node, {"pubsub#max_items": "10"})
    for i in range(5):
        publish_ok(alice, node, f"i{i}")
    configure_ok(alice, node, {"pubsub#max_items": "2"})
    assert item_ids(bob, node) == ["i3", "i4"]
    publish_ok(alice, node, "i5")
    assert item_ids(bob, node) == ["i4", "i5"]


def test_max_items_max_is_service_cap(herald_factory, connect, unique_name):
    herald_factory(config={"limits": {"max_items_per_node": 4},
                           "pubsub": {"default_max_items": 2}})
    alice, bob = connect("alice"), connect("bob")
    node = unique_name("max-max")
    create_ok(alice, node, {"pubsub#max_items": "max"})
    assert field(config_of(alice, node), "pubsub#max_items") == "max"
    for i in range(6):
        publish_ok(alice, node, f"i{i}")
    assert item_ids(bob, node) == ["i2", "i3", "i4", "i5"]
    # Above the cap: refused, not silently lowered.
    assert_error(configure_set(alice, node, {"pubsub#max_items": "5"}),
                 "modify", "not-acceptable")
    assert field(config_of(alice, node), "pubsub#max_items") == "max"
    # A default node keeps default_max_items.
    small = create_ok(alice, unique_name("dflt"))
    assert field(config_of(alice, small), "pubsub#max_items") == "2"


# --- pubsub#persist_items ----------------------------------------------------------

def test_persist_items_false(alice, bob, unique_name):
    node = unique_name("transient")
    create_ok(alice, node, {"pubsub#persist_items": "0"})
    subscribe_ok(bob, node)
    item = publish_ok(alice, node, "fleeting", text="hello")
    msg = wait_item(bob, node, item)
    entry = the_item(msg, node).find(f"{{{PAYLOAD_NS}}}entry")
    assert entry is not None and entry.text == "hello", tostring(msg)
    reply = assert_result(items(bob, node))
    assert reply.findall("ps:pubsub/ps:items/ps:item", NS) == [], tostring(reply)
    assert item_ids(alice, node) == []


# --- pubsub#deliver_payloads / deliver_notifications -------------------------------

def test_deliver_payloads_false(alice, bob, unique_name):
    node = unique_name("nopayload")
    create_ok(alice, node, {"pubsub#deliver_payloads": "0"})
    subscribe_ok(bob, node)
    item = publish_ok(alice, node, "light", text="heavy payload")
    el = the_item(wait_item(bob, node, item), node)
    assert el.get("id") == "light"
    assert list(el) == [], f"payload delivered: {tostring(el)}"
    # The item itself is stored with its payload.
    reply = assert_result(items(bob, node))
    stored = reply.find("ps:pubsub/ps:items/ps:item", NS)
    assert stored.find(f"{{{PAYLOAD_NS}}}entry").text == "heavy payload"


def test_deliver_payloads_true_default(alice, bob, unique_name):
    node = unique_name("payload")
    create_ok(alice, node)
    subscribe_ok(bob, node)
    item = publish_ok(alice, node, "full", text="body")
    el = the_item(wait_item(bob, node, item), node)
    assert el.find(f"{{{PAYLOAD_NS}}}entry").text == "body"


def test_deliver_notifications_false(alice, bob, unique_name):
    node, other = unique_name("silent"), unique_name("sentinel")
    create_ok(alice, node, {"pubsub#deliver_notifications": "0"})
    create_ok(alice, other)
    subscribe_ok(bob, node)
    subscribe_ok(bob, other)
    publish_ok(alice, node, "unseen")
    sentinel = publish_ok(alice, other, "sentinel")
    wait_item(bob, other, sentinel)
    assert events_for(bob, node, 0.2) == []
    assert item_ids(bob, node) == ["unseen"]
    # Switching it back on delivers again.
    configure_ok(alice, node, {"pubsub#deliver_notifications": "1"})
    wait_item(bob, node, publish_ok(alice, node, "seen"))


# --- pubsub#notify_retract -------------------------------------------------------------

def test_notify_retract_true(alice, bob, unique_name):
    node = unique_name("retract")
    create_ok(alice, node, {"pubsub#notify_retract": "1"})
    subscribe_ok(bob, node)
    wait_item(bob, node, publish_ok(alice, node, "gone"))
    assert_result(retract(alice, node, "gone"))
    msg = wait_event(bob, items_event(node,
                     lambda ch: ch.find("pse:retract", NS) is not None))
    assert msg.find("pse:event/pse:items/pse:retract", NS).get("id") == "gone"
    assert item_ids(bob, node) == []


def test_notify_retract_false(alice, bob, unique_name):
    node = unique_name("retract-quiet")
    create_ok(alice, node, {"pubsub#notify_retract": "0"})
    subscribe_ok(bob, node)
    wait_item(bob, node, publish_ok(alice, node, "gone"))
    assert_result(retract(alice, node, "gone"))
    sentinel = publish_ok(alice, node, "sentinel")
    wait_item(bob, node, sentinel)
    retracts = [m for m in events_for(bob, node, 0.2)
                if m.find("pse:event/pse:items/pse:retract", NS) is not None]
    assert retracts == []
    assert item_ids(bob, node) == ["sentinel"]


# --- pubsub#notification_type ------------------------------------------------------------

@pytest.mark.parametrize("kind", ["headline", "normal"])
def test_notification_type(alice, bob, unique_name, kind):
    node = unique_name(f"type-{kind}")
    create_ok(alice, node, {"pubsub#notification_type": kind})
    subscribe_ok(bob, node)
    msg = wait_item(bob, node, publish_ok(alice, node, "typed"))
    assert message_type(msg) == kind, tostring(msg)
    if kind == "headline":
        assert msg.get("type") == "headline"


def test_notification_type_changed_by_configure(alice, bob, unique_name):
    node = unique_name("type-switch")
    create_ok(alice, node)
    subscribe_ok(bob, node)
    assert message_type(wait_item(bob, node, publish_ok(alice, node, "a"))) == "headline"
    configure_ok(alice, node, {"pubsub#notification_type": "normal"})
    assert message_type(wait_item(bob, node, publish_ok(alice, node, "b"))) == "normal"


# --- pubsub#title / pubsub#type in meta-data ------------------------------------------------

def test_title_and_type_in_meta_data(alice, bob, unique_name):
    node = unique_name("meta")
    create_ok(alice, node, {"pubsub#title": "Release train",
                            "pubsub#type": "urn:example:release"})
    meta = disco_meta(bob, node)
    assert field(meta, "pubsub#title") == "Release train"
    assert field(meta, "pubsub#type") == "urn:example:release"
    configure_ok(alice, node, {"pubsub#title": "Release train 2"})
    assert field(disco_meta(bob, node), "pubsub#title") == "Release train 2"
    # The title is also the node's name in the service's disco#items (§5.2).
    reply = assert_result(bob.iq(f"<iq type='get' to='{SERVICE}'>"
                                 "<query xmlns='http://jabber.org/protocol/disco#items'/></iq>"))
    names = {i.get("node"): i.get("name") for i in reply.findall("items:query/items:item", NS)}
    assert names.get(node) == "Release train 2"


# --- pubsub#send_last_published_item -------------------------------------------------------

def test_send_last_published_item_on_sub(alice, bob, connect, unique_name):
    node = unique_name("last")
    create_ok(alice, node, {"pubsub#send_last_published_item": "on_sub"})
    publish_ok(alice, node, "older", text="old")
    publish_ok(alice, node, "newest", text="new")
    subscribe_ok(bob, node)
    msg = wait_event(bob, items_event(node))
    el = the_item(msg, node)
    assert el.get("id") == "newest"
    assert el.find(f"{{{PAYLOAD_NS}}}entry").text == "new"
    delay = msg.find(f"{{{NS_DELAY}}}delay")
    assert delay is not None and delay.get("stamp"), tostring(msg)
    # Only the last one.
    assert [item_event_ids(m, node) for m in events_for(bob, node, 0.5)] == []


def test_send_last_published_item_never(alice, bob, unique_name):
    node = unique_name("last-never")
    create_ok(alice, node, {"pubsub#send_last_published_item": "never"})
    publish_ok(alice, node, "old")
    subscribe_ok(bob, node)
    live = publish_ok(alice, node, "live")
    msg = wait_event(bob, items_event(node))
    # The first notification bob gets is the live one, without delay.
    assert item_event_ids(msg, node) == [live], tostring(msg)
    assert msg.find(f"{{{NS_DELAY}}}delay") is None


# --- pubsub#item_expire ----------------------------------------------------------------------

def test_item_expire_stored(alice, bob, unique_name):
    node = unique_name("expire")
    create_ok(alice, node, {"pubsub#item_expire": "3600"})
    assert field(config_of(alice, node), "pubsub#item_expire") == "3600"
    configure_ok(alice, node, {"pubsub#item_expire": "60"})
    assert field(config_of(alice, node), "pubsub#item_expire") == "60"
    configure_ok(alice, node, {"pubsub#item_expire": ""})
    assert field(config_of(alice, node), "pubsub#item_expire") in (None, "")
    assert_error(create(bob, unique_name("expire-bad"), {"pubsub#item_expire": "-5"}),
                 "modify", "not-acceptable")


def test_send_last_published_item_after_purge_sends_nothing(alice, bob, unique_name):
    node = unique_name("last-purged")
    create_ok(alice, node, {"pubsub#send_last_published_item": "on_sub"})
    publish_ok(alice, node, "purged-away")
    assert_result(purge(alice, node))
    subscribe_ok(bob, node)
    live = publish_ok(alice, node, "live")
    msg = wait_event(bob, items_event(node))
    assert item_event_ids(msg, node) == [live], tostring(msg)
    assert msg.find(f"{{{NS_DELAY}}}delay") is None


def test_send_last_published_item_on_owner_subscription(alice, bob, unique_name):
    """A subscription the owner creates (§8.8.2) is a new subscription too:
    on an on_sub node the subscriber gets the last item, as after approval."""
    node = unique_name("last-owner-sub")
    create_ok(alice, node, {"pubsub#send_last_published_item": "on_sub"})
    publish_ok(alice, node, "older")
    publish_ok(alice, node, "newest", text="new")
    assert_result(subscriptions_set(alice, node, [("bob@localhost", "subscribed")]))
    wait_event(bob, subscription_event(node))
    msg = wait_event(bob, items_event(node))
    assert item_event_ids(msg, node) == ["newest"], tostring(msg)
    assert msg.find(f"{{{NS_DELAY}}}delay") is not None, tostring(msg)
    # Changing an existing subscription does not resend it.
    assert_result(subscriptions_set(alice, node, [("bob@localhost", "subscribed")]))
    assert [item_event_ids(m, node) for m in events_for(bob, node, QUIET)
            if event_child(m, "items", node) is not None] == []
