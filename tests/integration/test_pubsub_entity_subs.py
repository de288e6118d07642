"""XEP-0060 entity use cases through a real ejabberd: §6.1.6 multiple
subscriptions (SubIDs, SHIM headers), §6.2 unsubscribe, §6.3 subscription
options. alice owns and publishes, bob (and carol) subscribe.
"""

from __future__ import annotations

from heraldtest.entity import (create_node, entry, options_get, options_set, publish_ok,
                               pubsub_iq, subscribe, subscribe_ok, unsubscribe)
from heraldtest.events import (assert_no_event, event_items, items_event, shim_subids, sync,
                               wait_event)
from heraldtest.forms import SUBSCRIBE_OPTIONS, form_values
from heraldtest.replies import assert_error, assert_result, pubsub_child
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS


def two_subscriptions(bob, node):
    """bob holds two delivering subscriptions: one made with deliver=false
    (a distinct subscription) and switched on afterwards, one default."""
    first = subscribe_ok(bob, node, options={"pubsub#deliver": False}).get("subid")
    second = subscribe_ok(bob, node).get("subid")
    assert first and second and first != second
    assert_result(options_set(bob, node, {"pubsub#deliver": True}, subid=first))
    return first, second


# --- §6.1.6 multiple subscriptions ------------------------------------------

def test_6_1_6_multiple_subscriptions_shim_subids(herald, connect, unique_name):
    alice, bob, carol = connect("alice"), connect("bob"), connect("carol")
    node = unique_name()
    create_node(alice, node)
    first, second = two_subscriptions(bob, node)
    # an identical second subscribe returns the existing subscription
    again = subscribe_ok(bob, node)
    assert again.get("subid") in (first, second)
    subscribe_ok(carol, node)
    publish_ok(alice, node, [("m1", entry("multi"))])
    msg = wait_event(bob, items_event(node))
    assert sorted(shim_subids(msg)) == sorted([first, second])
    assert [i.get("id") for i in event_items(msg).findall("pse:item", NS)] == ["m1"]
    # one notification per recipient, not one per subscription
    sync(bob)
    assert_no_event(bob, node, wait=0.3)
    # a single subscription gets no SubID header
    assert shim_subids(wait_event(carol, items_event(node))) == []


# --- §6.2 unsubscribe -------------------------------------------------------------

def test_6_2_unsubscribe_single_without_subid(herald, connect, unique_name):
    alice, bob, carol = connect("alice"), connect("bob"), connect("carol")
    node = unique_name()
    create_node(alice, node)
    subscribe_ok(bob, node)
    subscribe_ok(carol, node)
    assert_result(unsubscribe(bob, node))
    publish_ok(alice, node, [("u1", entry("after unsubscribe"))])
    wait_event(carol, items_event(node))          # the publish went out ...
    sync(bob)
    assert_no_event(bob, node, 0.5)  # ... but not to bob
    assert_error(unsubscribe(bob, node), "cancel", "unexpected-request", "not-subscribed")


def test_6_2_unsubscribe_with_subid_and_subid_required(herald, connect, unique_name):
    alice, bob = connect("alice"), connect("bob")
    node = unique_name()
    create_node(alice, node)
    first, second = two_subscriptions(bob, node)
    assert_error(unsubscribe(bob, node), "modify", "bad-request", "subid-required")
    assert_error(unsubscribe(bob, node, subid="no-such-subid"), "modify",
                 "not-acceptable", "invalid-subid")
    assert_result(unsubscribe(bob, node, subid=first))
    publish_ok(alice, node, [("s1", entry("one left"))])
    msg = wait_event(bob, items_event(node))
    assert shim_subids(msg) in ([], [second])
    # with one subscription left, no subid is needed
    assert_result(unsubscribe(bob, node))
    assert_error(unsubscribe(bob, node, subid=second), "cancel", "unexpected-request",
                 "not-subscribed")


def test_6_2_unsubscribe_errors(herald, connect, unique_name):
    alice, bob, carol = connect("alice"), connect("bob"), connect("carol")
    node = unique_name()
    create_node(alice, node)
    subscribe_ok(carol, node)
    assert_error(unsubscribe(bob, node), "cancel", "unexpected-request", "not-subscribed")
    # bob may not unsubscribe carol
    assert_error(unsubscribe(bob, node, jid="carol@localhost"), "auth", "forbidden")
    assert_error(unsubscribe(bob, unique_name("missing")), "cancel", "item-not-found")
    # carol is still subscribed
    publish_ok(alice, node, [("e1", entry("still there"))])
    wait_event(carol, items_event(node))


# --- §6.3 subscription options ------------------------------------------------

def test_6_3_options_get_and_deliver_false(herald, connect, unique_name):
    alice, bob, carol = connect("alice"), connect("bob"), connect("carol")
    node = unique_name()
    create_node(alice, node)
    sub = subscribe_ok(bob, node)
    subscribe_ok(carol, node)
    reply = assert_result(options_get(bob, node))
    opts = pubsub_child(reply, "options")
    assert opts.get("node") == node and opts.get("jid") == "bob@localhost"
    values = form_values(opts.find("x:x", NS))
    assert values["FORM_TYPE"] == [SUBSCRIBE_OPTIONS]
    assert values["pubsub#deliver"] in (["1"], ["true"])

    assert_result(options_set(bob, node, {"pubsub#deliver": False}))
    values = form_values(pubsub_child(assert_result(options_get(bob, node)), "options")
                         .find("x:x", NS))
    assert values["pubsub#deliver"] in (["0"], ["false"])
    publish_ok(alice, node, [("quiet", entry("not delivered"))])
    wait_event(carol, items_event(node))          # the notification went out to carol
    sync(bob)
    assert_no_event(bob, node, wait=1.0)

    assert_result(options_set(bob, node, {"pubsub#deliver": True}, subid=sub.get("subid")))
    publish_ok(alice, node, [("loud", entry("delivered"))])
    items = event_items(wait_event(bob, items_event(node)))
    assert [i.get("id") for i in items.findall("pse:item", NS)] == ["loud"]


def test_6_3_subscribe_and_configure(herald, connect, unique_name):
    alice, bob, carol = connect("alice"), connect("bob"), connect("carol")
    node = unique_name()
    create_node(alice, node)
    reply = assert_result(subscribe(bob, node, options={"pubsub#deliver": False}))
    x = reply.find("ps:pubsub/ps:options/x:x", NS)
    assert x is not None, "subscribe-and-configure result echoes the options"
    assert form_values(x)["pubsub#deliver"] in (["0"], ["false"])
    subscribe_ok(carol, node)
    publish_ok(alice, node, [("q", entry("quiet"))])
    wait_event(carol, items_event(node))
    sync(bob)
    assert_no_event(bob, node, wait=0.5)


def test_6_3_options_errors(herald, connect, unique_name):
    alice, bob, carol = connect("alice"), connect("bob"), connect("carol")
    node = unique_name()
    create_node(alice, node)
    # not subscribed: unexpected-request (type modify, Example 65)
    assert_error(options_get(bob, node), "modify", "unexpected-request", "not-subscribed")
    subscribe_ok(carol, node)
    # bob may not read or change carol's options
    assert_error(options_get(bob, node, jid="carol@localhost"), "auth", "forbidden")
    assert_error(options_set(bob, node, {"pubsub#deliver": False}, jid="carol@localhost"),
                 "auth", "forbidden")
    assert_error(options_get(bob, unique_name("missing")), "cancel", "item-not-found")
    first, _ = two_subscriptions(bob, node)
    assert_error(options_get(bob, node), "modify", "bad-request", "subid-required")
    assert_error(options_get(bob, node, subid="bogus"), "modify", "not-acceptable",
                 "invalid-subid")
    assert_result(options_get(bob, node, subid=first))
    assert_error(options_set(bob, node, {"pubsub#deliver": "maybe"}, subid=first),
                 "modify", "bad-request", "invalid-options")
    # jid is required on <options/>
    reply = bob.iq(f"<iq type='get' to='{SERVICE}'><pubsub "
                   f"xmlns='http://jabber.org/protocol/pubsub'><options node='{node}'/>"
                   f"</pubsub></iq>")
    assert_error(reply, "modify", "bad-request", "jid-required")


def test_6_4_default_subscription_options(herald, connect, unique_name):
    alice, bob = connect("alice"), connect("bob")
    node = unique_name()
    create_node(alice, node)
    for body in (f"<default node='{node}'/>", "<default/>"):
        reply = assert_result(bob.iq(pubsub_iq(body, "get")))
        x = pubsub_child(reply, "default").find("x:x", NS)
        values = form_values(x)
        assert values["FORM_TYPE"] == [SUBSCRIBE_OPTIONS]
        assert values["pubsub#deliver"] in (["1"], ["true"])
    reply = bob.iq(pubsub_iq(f"<default node='{unique_name('missing')}'/>", "get"))
    assert_error(reply, "cancel", "item-not-found")
