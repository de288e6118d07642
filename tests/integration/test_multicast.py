"""Issue 18: XEP-0033 multicast fan-out through ejabberd's mod_multicast
(multicast.localhost in the test sandbox). Herald finds the service after
the link comes up and sends one notification per batch of subscribers
with bcc addresses; ejabberd delivers one copy each. Subscribers with
SubIDs get their own messages; with `multicast = false` everyone does.
Counts come from /metrics (herald_multicast_*_total).
"""

from __future__ import annotations

import time

from heraldtest.entity import (create_node, entry, options_set, publish_iq, publish_ok,
                               pubsub_iq, subscribe_ok)
from heraldtest.events import assert_no_event, event_items, items_event, shim_subids, wait_event
from heraldtest.ingest import scrape
from heraldtest.replies import assert_result
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS

FOUND = "XEP-0033 multicast service found"
NONE_FOUND = "no XEP-0033 multicast service"
BOUNCED = "multicast stanza bounced"
ADDRESS_NS = "http://jabber.org/protocol/address"


def wait_found(h, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while FOUND not in h.log_text():
        assert time.monotonic() < deadline, "no multicast service discovered"
        time.sleep(0.1)


def wait_logged(h, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in h.log_text():
        assert time.monotonic() < deadline, f"never logged: {text}"
        time.sleep(0.1)


def counters(h) -> tuple[float, float]:
    m = scrape(h)
    return (m.get(("herald_multicast_stanzas_total", ()), 0.0),
            m.get(("herald_multicast_recipients_total", ()), 0.0))


def received_ids(client, node: str, n: int, service: str = SERVICE) -> list[str]:
    """The item IDs of the next n notifications about node; none after."""
    ids = []
    for _ in range(n):
        msg = wait_event(client, items_event(node, service=service))
        assert msg.find(f"{{{ADDRESS_NS}}}addresses") is None, "addresses not stripped"
        assert msg.get("to", "").split("/")[0] == client.bare_jid
        ids += [i.get("id") for i in event_items(msg).findall("pse:item", NS)]
    assert_no_event(client, node, wait=0.7)
    return ids


def test_every_subscriber_gets_each_notification_once_through_multicast(
        herald_factory, connect, unique_name):
    h = herald_factory(config={"component": {"multicast_batch": 2}})
    wait_found(h)
    alice = connect("alice")
    subs = [connect(u) for u in ("bob", "carol", "dave")]
    node = unique_name()
    create_node(alice, node)
    for s in subs:
        subscribe_ok(s, node)
    before = counters(h)
    for i in range(3):
        publish_ok(alice, node, [(f"m{i}", entry(f"n{i}"))])
    for s in subs:
        assert received_ids(s, node, 3) == ["m0", "m1", "m2"]
    stanzas, recipients = (a - b for a, b in zip(counters(h), before))
    # Three subscribers in batches of two: one multicast stanza for two of
    # them and a direct message for the third, per publish.
    assert (stanzas, recipients) == (3, 6)


def test_a_subscriber_with_subids_gets_its_own_message(herald_factory, connect, unique_name):
    h = herald_factory()
    wait_found(h)
    alice, bob, carol, dave = (connect(u) for u in ("alice", "bob", "carol", "dave"))
    node = unique_name()
    create_node(alice, node)
    first = subscribe_ok(bob, node, options={"pubsub#deliver": False}).get("subid")
    second = subscribe_ok(bob, node).get("subid")
    assert_result(options_set(bob, node, {"pubsub#deliver": True}, subid=first))
    subscribe_ok(carol, node)
    subscribe_ok(dave, node)
    before = counters(h)
    publish_ok(alice, node, [("s1", entry("shared"))])
    msg = wait_event(bob, items_event(node))
    assert sorted(shim_subids(msg)) == sorted([first, second])
    assert_no_event(bob, node, wait=0.5)
    for c in (carol, dave):
        assert received_ids(c, node, 1) == ["s1"]
    stanzas, recipients = (a - b for a, b in zip(counters(h), before))
    assert (stanzas, recipients) == (1, 2), "bob's SubID message never multicast"


def test_multicast_off_still_delivers_exactly_once(herald_factory, connect, unique_name):
    h = herald_factory(config={"component": {"multicast": False}})
    alice = connect("alice")
    subs = [connect(u) for u in ("bob", "carol", "dave")]
    node = unique_name()
    create_node(alice, node)
    for s in subs:
        subscribe_ok(s, node)
    publish_ok(alice, node, [("o1", entry("one")), ("o2", entry("two"))])
    for s in subs:
        assert received_ids(s, node, 1) == ["o1", "o2"]
    assert counters(h) == (0, 0)
    assert FOUND not in h.log_text()


def bounces(h) -> float:
    return scrape(h).get(("herald_multicast_bounces_total", ()), 0.0)


def fan_out(connect, node: str, service: str, items: int) -> list:
    """Three subscribers of a fresh node at `service`, `items` publishes
    by alice, one at a time; returns the subscribers."""
    alice = connect("alice")
    subs = [connect(u) for u in ("bob", "carol", "dave")]
    alice.iq_ok(pubsub_iq(f"<create node='{node}'/>", to=service))
    for s in subs:
        s.iq_ok(pubsub_iq(f"<subscribe node='{node}' jid='{s.bare_jid}'/>", to=service))
    for i in range(items):
        xml = publish_iq(node, [(f"f{i}", entry(f"n{i}"))]).replace(
            f"to='{SERVICE}'", f"to='{service}'", 1)
        alice.iq_ok(xml)
    return subs


def test_a_refusing_multicast_service_falls_back_per_recipient(
        herald_factory, connect, unique_name):
    # ejabberd's `multicast` access rule (ejabberd-config/ejabberd.yml.in)
    # denies this component: mod_multicast answers each stanza with a
    # <forbidden/> error (XEP-0033 §8), after disco found the service.
    jid = "mcdenied.localhost"
    h = herald_factory(config={"component": {"jid": jid, "multicast_batch": 2}},
                       name="mcdenied")
    wait_found(h)
    node = unique_name()
    subs = fan_out(connect, node, jid, 4)
    for s in subs:
        got = received_ids(s, node, 4, service=jid)
        # A resent copy may come after the next publish's direct message
        # (xep-notes/xep-0033.md, "Order"): exactly once, not in order.
        assert sorted(got) == ["f0", "f1", "f2", "f3"], got
    assert BOUNCED in h.log_text()
    assert bounces(h) >= 1
    stanzas, _ = counters(h)
    # Paused after the first bounce: at most the stanzas already on their
    # way before it came back went to the service, not one per publish.
    assert 1 <= stanzas < 4, stanzas


def test_no_multicast_service_means_one_message_each(herald_factory, connect, unique_name):
    # The parent domain nomc.localhost is not served here: discovery gets
    # errors, ends without a service, and says so.
    jid = "events.nomc.localhost"
    h = herald_factory(config={"component": {"jid": jid}}, name="nomc")
    wait_logged(h, NONE_FOUND)
    assert FOUND not in h.log_text()
    node = unique_name()
    subs = fan_out(connect, node, jid, 2)
    for s in subs:
        assert received_ids(s, node, 2, service=jid) == ["f0", "f1"]
    assert counters(h) == (0, 0)
    assert bounces(h) == 0
