"""XEP-0060 §8.8 (manage subscriptions) and §8.9 (manage affiliations)
through the real ejabberd, and durability of owner state across Herald
restarts (SIGTERM and SIGKILL). Several real c2s clients per scenario.
"""

from __future__ import annotations

import pytest

from heraldtest.events import (events_for, message_type, subscription_event, wait_event,
                               wait_item)
from heraldtest.forms import field
from heraldtest.owner import (affiliations_get, affiliations_of, affiliations_set, config_of,
                              configure_get, configure_ok, create_ok, delete, item_ids, items,
                              own_subscriptions, publish, publish_ok, purge, set_affiliation,
                              subscribe, subscribe_ok, subscriptions_get, subscriptions_of,
                              subscriptions_set)
from heraldtest.replies import assert_error, assert_result
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS, tostring

ALICE, BOB, CAROL, DAVE = ("alice@localhost", "bob@localhost", "carol@localhost",
                           "dave@localhost")


@pytest.fixture
def clients(herald, connect):
    """alice (owner in every test), bob, carol."""
    return connect("alice"), connect("bob"), connect("carol")


def affiliation_notice(msg, node: str) -> tuple[str, str]:
    """(jid, affiliation) of a §8.9.4 notification (Example 211)."""
    aff = msg.find("ps:pubsub/ps:affiliations/ps:affiliation", NS)
    assert aff is not None, tostring(msg)
    assert msg.find("ps:pubsub/ps:affiliations", NS).get("node") == node
    return aff.get("jid"), aff.get("affiliation")


def wait_affiliation_notice(c, node: str):
    return c.wait_for(lambda m: m.find("ps:pubsub/ps:affiliations", NS) is not None
                      and m.find("ps:pubsub/ps:affiliations", NS).get("node") == node)


# --- §8.8 manage subscriptions ------------------------------------------------

def test_owner_gets_subscriptions(clients, unique_name):
    alice, bob, carol = clients
    node = unique_name("subs")
    create_ok(alice, node)
    assert subscriptions_of(alice, node) == {}
    subscribe_ok(bob, node)
    subscribe_ok(carol, node)
    reply = assert_result(subscriptions_get(alice, node))
    subs = reply.findall("pso:pubsub/pso:subscriptions/pso:subscription", NS)
    assert {(s.get("jid"), s.get("subscription")) for s in subs} == {
        (BOB, "subscribed"), (CAROL, "subscribed")}
    assert all(s.get("subid") for s in subs), tostring(reply)


def test_owner_sets_subscription_none(clients, unique_name):
    alice, bob, carol = clients
    node, other = unique_name("subs-none"), unique_name("sentinel")
    create_ok(alice, node)
    create_ok(alice, other)
    subscribe_ok(bob, node)
    subscribe_ok(bob, other)
    subscribe_ok(carol, node)
    assert_result(subscriptions_set(alice, node, [(BOB, "none")]))
    # §8.8.4: bob is told his subscription is gone.
    msg = wait_event(bob, subscription_event(node))
    sub = msg.find("pse:event/pse:subscription", NS)
    assert (sub.get("jid"), sub.get("subscription")) == (BOB, "none"), tostring(msg)
    assert subscriptions_of(alice, node) == {CAROL: "subscribed"}
    assert own_subscriptions(bob, node) == []
    # bob stops receiving, carol does not.
    item = publish_ok(alice, node, "after-none")
    wait_item(carol, node, item)
    sentinel = publish_ok(alice, other, "sentinel")
    wait_item(bob, other, sentinel)
    assert events_for(bob, node, 0.2) == []


def test_owner_subscribes_carol(clients, unique_name):
    alice, bob, carol = clients
    node = unique_name("subs-add")
    # Whitelist: carol could not subscribe herself; the owner can subscribe her.
    create_ok(alice, node, {"pubsub#access_model": "whitelist"})
    assert_error(subscribe(carol, node), "cancel", "not-allowed", "closed-node")
    assert_result(subscriptions_set(alice, node, [(CAROL, "subscribed")]))
    msg = wait_event(carol, subscription_event(node))
    sub = msg.find("pse:event/pse:subscription", NS)
    assert (sub.get("jid"), sub.get("subscription")) == (CAROL, "subscribed"), tostring(msg)
    assert sub.get("subid"), tostring(msg)
    assert subscriptions_of(alice, node) == {CAROL: "subscribed"}
    assert own_subscriptions(carol, node) == ["subscribed"]
    item = publish_ok(alice, node, "for-carol")
    wait_item(carol, node, item)
    # bob was not touched.
    assert own_subscriptions(bob, node) == []


def test_manage_subscriptions_non_owner_forbidden(clients, unique_name):
    alice, bob, carol = clients
    node = unique_name("subs-forbidden")
    create_ok(alice, node)
    set_affiliation(alice, node, CAROL, "publisher")
    subscribe_ok(bob, node)
    for who in (bob, carol):
        assert_error(subscriptions_get(who, node), "auth", "forbidden")
        assert_error(subscriptions_set(who, node, [(BOB, "none")]), "auth", "forbidden")
    assert subscriptions_of(alice, node) == {BOB: "subscribed"}
    assert_error(subscriptions_get(alice, unique_name("missing")), "cancel", "item-not-found")


def test_manage_subscriptions_is_all_or_nothing(clients, unique_name):
    alice, bob, carol = clients
    node = unique_name("subs-atomic")
    create_ok(alice, node)
    set_affiliation(alice, node, "dave@localhost", "outcast")
    subscribe_ok(bob, node)
    # dave is an outcast: the whole request fails, bob keeps his subscription.
    reply = subscriptions_set(alice, node, [(BOB, "none"), ("dave@localhost", "subscribed")])
    assert_error(reply, "auth", "forbidden")
    assert subscriptions_of(alice, node) == {BOB: "subscribed"}


# --- §8.9 manage affiliations ------------------------------------------------

def test_owner_gets_affiliations(clients, unique_name):
    alice, bob, carol = clients
    node = unique_name("affs")
    create_ok(alice, node)
    assert affiliations_of(alice, node) == {ALICE: "owner"}
    assert_result(affiliations_set(alice, node, [(BOB, "publisher"), (CAROL, "member")]))
    assert affiliations_of(alice, node) == {ALICE: "owner", BOB: "publisher", CAROL: "member"}


def test_affiliation_publisher_can_publish(clients, unique_name):
    alice, bob, carol = clients
    node = unique_name("aff-pub")
    create_ok(alice, node)
    subscribe_ok(carol, node)
    assert_error(publish(bob, node, "early"), "auth", "forbidden")
    set_affiliation(alice, node, BOB, "publisher")
    # §8.9.4: bob is told of his new affiliation.
    assert affiliation_notice(wait_affiliation_notice(bob, node), node) == (BOB, "publisher")
    item = publish_ok(bob, node, "by-publisher")
    msg = wait_item(carol, node, item)
    published = msg.find("pse:event/pse:items/pse:item", NS)
    assert published.get("publisher", BOB).startswith(BOB), tostring(msg)
    assert item_ids(bob, node) == [item]


def test_affiliation_publish_only(clients, unique_name):
    alice, bob, carol = clients
    node = unique_name("aff-pubonly")
    create_ok(alice, node)
    set_affiliation(alice, node, BOB, "publish-only")
    subscribe_ok(carol, node)
    item = publish_ok(bob, node, "blind")
    wait_item(carol, node, item)
    # §4.1: publish-only may not retrieve items nor subscribe.
    assert_error(items(bob, node), "auth", "forbidden")
    assert_error(subscribe(bob, node), "auth", "forbidden")
    assert affiliations_of(alice, node)[BOB] == "publish-only"


def test_affiliation_member_may_subscribe_to_whitelist(clients, unique_name):
    alice, bob, carol = clients
    node = unique_name("aff-member")
    create_ok(alice, node, {"pubsub#access_model": "whitelist"})
    publish_ok(alice, node, "secret")
    assert_error(subscribe(carol, node), "cancel", "not-allowed", "closed-node")
    assert_error(items(carol, node), "cancel", "not-allowed", "closed-node")
    set_affiliation(alice, node, CAROL, "member")
    subscribe_ok(carol, node)
    assert item_ids(carol, node) == ["secret"]
    # Members may not publish on a publishers-only node; bob is still out.
    assert_error(publish(carol, node, "nope"), "auth", "forbidden")
    assert_error(subscribe(bob, node), "cancel", "not-allowed", "closed-node")


def test_affiliation_none_removes_rights(clients, unique_name):
    alice, bob, carol = clients
    node = unique_name("aff-none")
    create_ok(alice, node)
    set_affiliation(alice, node, BOB, "publisher")
    publish_ok(bob, node, "while-publisher")
    set_affiliation(alice, node, BOB, "none")
    assert affiliations_of(alice, node) == {ALICE: "owner"}
    assert_error(publish(bob, node, "after"), "auth", "forbidden")
    # Back to the access model: open node, bob may still read.
    assert item_ids(bob, node) == ["while-publisher"]


def test_affiliation_outcast(clients, unique_name):
    alice, bob, carol = clients
    node = unique_name("aff-outcast")
    create_ok(alice, node)
    subscribe_ok(bob, node)
    subscribe_ok(carol, node)
    set_affiliation(alice, node, BOB, "outcast")
    assert affiliations_of(alice, node)[BOB] == "outcast"
    # Subscriptions removed.
    assert subscriptions_of(alice, node) == {CAROL: "subscribed"}
    assert_error(subscribe(bob, node), "auth", "forbidden")
    assert_error(items(bob, node), "auth", "forbidden")
    assert_error(publish(bob, node, "x"), "auth", "forbidden")
    item = publish_ok(alice, node, "not-for-bob")
    wait_item(carol, node, item)
    assert [m for m in events_for(bob, node, 0.5)
            if m.find("pse:event/pse:items", NS) is not None] == []


def test_removing_last_owner_refused(clients, unique_name):
    alice, bob, carol = clients
    node = unique_name("aff-last")
    create_ok(alice, node)
    for aff in ("none", "publisher", "member", "outcast"):
        assert_error(affiliations_set(alice, node, [(ALICE, aff)]), "modify", "not-acceptable")
    assert affiliations_of(alice, node) == {ALICE: "owner"}
    # With a second owner, alice may step down; bob then owns the node alone.
    set_affiliation(alice, node, BOB, "owner")
    set_affiliation(alice, node, ALICE, "none")
    assert affiliations_of(bob, node) == {BOB: "owner"}
    assert_error(affiliations_get(alice, node), "auth", "forbidden")
    assert_error(affiliations_set(bob, node, [(BOB, "none")]), "modify", "not-acceptable")


def test_manage_affiliations_non_owner_forbidden(clients, unique_name):
    alice, bob, carol = clients
    node = unique_name("aff-forbidden")
    create_ok(alice, node)
    set_affiliation(alice, node, CAROL, "publisher")
    for who in (bob, carol):
        assert_error(affiliations_get(who, node), "auth", "forbidden")
        assert_error(affiliations_set(who, node, [(who.bare_jid, "owner")]), "auth", "forbidden")
    assert affiliations_of(alice, node) == {ALICE: "owner", CAROL: "publisher"}
    assert_error(affiliations_get(alice, unique_name("missing")), "cancel", "item-not-found")


# --- durability of owner state -------------------------------------------------

@pytest.mark.parametrize("hard", [False, True], ids=["sigterm", "sigkill"])
def test_owner_state_survives_restart(herald, connect, unique_name, hard):
    alice, bob, carol, dave = (connect(u) for u in ("alice", "bob", "carol", "dave"))
    node = unique_name("durable")
    create_ok(alice, node, {"pubsub#title": "Durable", "pubsub#access_model": "whitelist",
                            "pubsub#max_items": "5", "pubsub#notification_type": "normal"})
    assert_result(affiliations_set(alice, node, [(BOB, "publisher"), (CAROL, "member"),
                                                 (DAVE, "outcast")]))
    assert_result(subscriptions_set(alice, node, [(CAROL, "subscribed")]))
    subscribe_ok(bob, node)
    config, affs, subs = (config_of(alice, node), affiliations_of(alice, node),
                          subscriptions_of(alice, node))
    assert subs == {BOB: "subscribed", CAROL: "subscribed"}

    herald.restart(hard=hard)

    assert config_of(alice, node) == config
    assert affiliations_of(alice, node) == affs
    assert subscriptions_of(alice, node) == subs
    # And in effect: bob publishes, both subscribers get it as type normal
    # (RFC 6121 §5.2.2: no type attribute means normal); dave stays out.
    item = publish_ok(bob, node, "after-restart")
    for who in (bob, carol):
        assert message_type(wait_item(who, node, item)) == "normal"
    assert_error(subscribe(dave, node), "auth", "forbidden")
    assert field(config_of(alice, node), "pubsub#title") == "Durable"
    assert_error(affiliations_get(carol, node), "auth", "forbidden")


def test_owner_changes_after_creation_survive_sigkill(herald, connect, unique_name):
    """Every kind of later owner change is durable, not only the state a
    node was created with: configure, affiliation and subscription changes
    and removals, delete, purge, and the item count max_items trims by."""
    alice, bob, carol = (connect(u) for u in ("alice", "bob", "carol"))
    node, gone, purged = unique_name("later"), unique_name("gone"), unique_name("purged")
    for n in (node, gone, purged):
        create_ok(alice, n)
    configure_ok(alice, node, {"pubsub#title": "v2", "pubsub#max_items": "3",
                               "pubsub#notify_retract": "0"})
    for i in range(5):
        publish_ok(alice, node, f"i{i}")
    set_affiliation(alice, node, BOB, "publisher")
    set_affiliation(alice, node, BOB, "none")
    set_affiliation(alice, node, CAROL, "member")
    subscribe_ok(bob, node)
    assert_result(subscriptions_set(alice, node, [(BOB, "none"), (CAROL, "subscribed")]))
    assert_result(delete(alice, gone))
    publish_ok(alice, purged, "p0")
    assert_result(purge(alice, purged))
    config = config_of(alice, node)

    herald.restart(hard=True)

    assert config_of(alice, node) == config
    assert field(config, "pubsub#title") == "v2"
    assert affiliations_of(alice, node) == {ALICE: "owner", CAROL: "member"}
    assert subscriptions_of(alice, node) == {CAROL: "subscribed"}
    assert item_ids(bob, node) == ["i2", "i3", "i4"]
    wait_item(carol, node, publish_ok(alice, node, "i5"))
    assert item_ids(bob, node) == ["i3", "i4", "i5"]
    assert_error(bob.disco_info(SERVICE, gone), "cancel", "item-not-found")
    assert_error(configure_get(alice, gone), "cancel", "item-not-found")
    assert item_ids(bob, purged) == []
    instant = create_ok(alice, None)
    assert instant not in (node, gone, purged)


def test_manage_requests_with_bad_entries_bad_request(clients, unique_name):
    alice, bob, carol = clients
    node = unique_name("bad-entries")
    create_ok(alice, node)
    assert_error(affiliations_set(alice, node, [(BOB, "king")]), "modify", "bad-request")
    # §8.9.2.4: one JID named twice.
    assert_error(affiliations_set(alice, node, [(BOB, "publisher"), (BOB, "member")]),
                 "modify", "bad-request")
    assert_error(subscriptions_set(alice, node, [(BOB, "maybe")]), "modify", "bad-request")
    assert affiliations_of(alice, node) == {ALICE: "owner"}
    assert subscriptions_of(alice, node) == {}
