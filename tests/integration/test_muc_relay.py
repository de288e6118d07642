"""MUC relay (issue 8): a room member sees a readable message per item,
Herald rejoins after a kick and an ejabberd restart, and a burst is held
to the room's rate with digests."""

import json
import subprocess
import time

import pytest

from heraldtest.harness import EJ_DIR
from heraldtest.muc import (body, destroy_room, groupchat_from, join_room, make_persistent,
                            publish, wait_occupant)
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS_ITEM

NICK = "herald"


def relay_config(room, node, rate=20, window=60, template=None):
    config = {"relay": {"max_per_minute": rate, "window_secs": window,
                        "rooms": [{"nodes": [f"{node}*"], "room": room, "nick": NICK}]}}
    if template:
        config["chat"] = {"templates": [{"nodes": [f"{node}*"], "template": template}]}
    return config


@pytest.fixture
def room(connect, unique_name):
    """A fresh room created by alice (its owner), alice inside."""
    name = f"{unique_name('ops')}@conference.localhost"
    alice = connect("alice", resource="room")
    join_room(alice, name, "alice")
    yield name, alice
    destroy_room(alice, name)


def test_room_member_sees_a_readable_message_per_item(herald_factory, room, connect,
                                                      unique_name):
    name, alice = room
    node = unique_name("apps")
    herald_factory(config=relay_config(name, node, template="{type} {data.app} by {data.user}"))
    wait_occupant(alice, name, NICK)
    bob = connect("bob")
    publish(bob, node, "<app xmlns='urn:example:platform' name='shiny' action='created'/>", "a1")
    event = {"type": "app.created", "data": {"app": "shiny", "user": "carol"}}
    publish(bob, node, f"<json xmlns='urn:xmpp:json:0'>{json.dumps(event)}</json>", "a2")
    got = groupchat_from(alice, name, NICK, timeout=10, expect=2)
    assert [body(m) for m in got] == ["? ? by ?", "app.created shiny by carol"]
    wrapper = got[0].find(f"{{{NS_ITEM}}}item")
    assert wrapper is not None and wrapper.get("node") == node and wrapper.get("id") == "a1"
    assert wrapper.find("{urn:example:platform}app").get("name") == "shiny"


def test_http_published_item_reaches_the_room(herald_factory, room, unique_name):
    """An item published over HTTP ingest is relayed like an XMPP one."""
    import http.client
    import urllib.parse
    name, alice = room
    node = unique_name("apps")
    token = "relay-test-token-0123456789"
    config = relay_config(name, node, template="{type} {data.app}")
    config["http"] = {"tokens": {"ops": {"token": token, "nodes": [f"{node}*"], "create": True}}}
    herald = herald_factory(config=config)
    wait_occupant(alice, name, NICK)
    url = urllib.parse.urlparse(herald.http_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=15)
    conn.request("PUT", f"/v1/nodes/{node}/items/h1",
                 body=json.dumps({"type": "app.deleted", "data": {"app": "old"}}),
                 headers={"Authorization": f"Bearer {token}",
                          "Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 201, resp.read()
    conn.close()
    got = groupchat_from(alice, name, NICK, timeout=10, expect=1)
    assert [body(m) for m in got] == ["app.deleted old"]
    wrapper = got[0].find(f"{{{NS_ITEM}}}item")
    assert wrapper is not None and wrapper.get("id") == "h1"


def test_default_body_without_template(herald_factory, room, connect, unique_name):
    name, alice = room
    node = unique_name("apps")
    herald_factory(config=relay_config(name, node))
    wait_occupant(alice, name, NICK)
    publish(connect("bob"), node, "<app xmlns='urn:x' name='shiny' action='created'/>")
    got = groupchat_from(alice, name, NICK, timeout=10, expect=1)
    assert [body(m) for m in got] == [f"[{node}] app action=created name=shiny"]


def test_other_nodes_are_not_relayed(herald_factory, room, connect, unique_name):
    name, alice = room
    node = unique_name("apps")
    herald_factory(config=relay_config(name, node))
    wait_occupant(alice, name, NICK)
    publish(connect("bob"), unique_name("billing"), "<x xmlns='urn:x'/>")
    assert groupchat_from(alice, name, NICK, timeout=2) == []


def test_rejoins_after_a_kick(herald_factory, room, connect, unique_name):
    name, alice = room
    node = unique_name("apps")
    herald_factory(config=relay_config(name, node))
    wait_occupant(alice, name, NICK)
    alice.iq_ok(f"<iq type='set' to='{name}'><query xmlns='http://jabber.org/protocol/muc#admin'>"
                f"<item nick='{NICK}' role='none'><reason>test</reason></item></query></iq>")
    wait_occupant(alice, name, NICK, timeout=15)
    publish(connect("bob"), node, "<app xmlns='urn:x' name='back'/>")
    got = groupchat_from(alice, name, NICK, timeout=10, expect=1)
    assert [body(m) for m in got] == [f"[{node}] app name=back"]


def test_burst_is_held_to_the_rate_with_digests(herald_factory, room, connect, unique_name):
    name, alice = room
    node = unique_name("apps")
    rate, window = 10, 4
    herald_factory(config=relay_config(name, node, rate=rate, window=window))
    wait_occupant(alice, name, NICK)
    bob = connect("bob")
    items = "".join(f"<item id='b{i}'><app xmlns='urn:x' n='{i}'/></item>" for i in range(100))
    for _ in range(10):  # 1,000 items in 10 publish requests
        bob.iq_ok(f"<iq type='set' to='{SERVICE}'><pubsub xmlns='http://jabber.org/protocol/pubsub'>"
                  f"<publish node='{node}'>{items}</publish></pubsub></iq>", timeout=30)
    got = groupchat_from(alice, name, NICK, timeout=window * 2 + 4)
    items_seen = [m for m in got if m.find(f"{{{NS_ITEM}}}item") is not None]
    digests = [body(m) for m in got if m.find(f"{{{NS_ITEM}}}item") is None]
    assert 1 <= len(items_seen) <= rate * 3, len(items_seen)  # at most the rate per window
    assert digests, "no digest"
    held = sum(int(d.split()[0]) for d in digests)
    assert held + len(items_seen) == 1000, digests
    assert all(f"more events on {node} in the last {window} seconds" in d for d in digests)


def _ejabberd(script):
    subprocess.run(["bash", str(EJ_DIR / script), "test"], check=True, capture_output=True)


def test_comes_back_to_the_room_after_an_ejabberd_restart(herald_factory, connect,
                                                          unique_name):
    name = f"{unique_name('ops')}@conference.localhost"
    alice = connect("alice", resource="room")
    join_room(alice, name, "alice")
    make_persistent(alice, name)
    node = unique_name("apps")
    herald = herald_factory(config=relay_config(name, node))
    wait_occupant(alice, name, NICK)
    _ejabberd("ejabberd-down.sh")
    time.sleep(1)
    _ejabberd("ejabberd-up.sh")
    herald.wait_ready(timeout=30)
    alice = connect("alice", resource="room2")
    alice.send_raw(f"<presence to='{name}/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
    wait_occupant(alice, name, NICK, timeout=30)
    publish(connect("bob"), node, "<app xmlns='urn:x' name='after-restart'/>")
    got = groupchat_from(alice, name, NICK, timeout=10, expect=1)
    assert [body(m) for m in got] == [f"[{node}] app name=after-restart"]
    destroy_room(alice, name)


# --- XEP-0248: a room following a collection (issue 17) ---------------------------

def family(owner, root, unique_name):
    """root ⊃ news ⊃ sports, root ⊃ weather, root ⊃ closed (whitelist), lone
    outside; returns the leaves' names."""
    from heraldtest.owner import create_ok
    coll = {"pubsub#node_type": "collection"}
    create_ok(owner, root, coll)
    news = create_ok(owner, unique_name("news"), {**coll, "pubsub#collection": root})
    sports = create_ok(owner, unique_name("sports"), {"pubsub#collection": news})
    weather = create_ok(owner, unique_name("weather"), {"pubsub#collection": root})
    closed = create_ok(owner, unique_name("closed"), {"pubsub#collection": root,
                                                      "pubsub#access_model": "whitelist"})
    lone = create_ok(owner, unique_name("lone"))
    return sports, weather, closed, lone


def relayed(alice, name):
    """(body, wrapper node, wrapper collection) of each post until quiet."""
    got = groupchat_from(alice, name, NICK, timeout=3)
    out = []
    for m in got:
        w = m.find(f"{{{NS_ITEM}}}item")
        out.append((body(m), w.get("node"), w.get("collection")))
    return out


def test_room_following_a_collection_gets_its_leaves_and_not_a_leaf_moved_out(
        herald_factory, room, connect, unique_name):
    """The room's `nodes` names a collection: items of a direct leaf and of
    a nested one are posted, named by their leaf; a whitelist leaf is not
    (the room's JID may not read it) until an owner makes the room a
    member; a leaf moved out falls silent while its sibling still posts."""
    from heraldtest.owner import configure_ok, set_affiliation
    name, alice = room
    root = unique_name("fam")
    config = {"relay": {"rooms": [{"nodes": [root], "room": name, "nick": NICK}]}}
    herald_factory(config=config)
    wait_occupant(alice, name, NICK)
    bob = connect("bob")
    sports, weather, closed, lone = family(bob, root, unique_name)
    for leaf in (weather, sports, closed, lone):
        publish(bob, leaf, f"<app xmlns='urn:x' name='{leaf}'/>")
    assert relayed(alice, name) == [
        (f"[{weather}] app name={weather}", weather, root),
        (f"[{sports}] app name={sports}", sports, root),
    ]
    set_affiliation(bob, closed, name, "member")
    publish(bob, closed, "<app xmlns='urn:x' name='now'/>")
    assert relayed(alice, name) == [(f"[{closed}] app name=now", closed, root)]

    configure_ok(bob, weather, {"pubsub#collection": ""})
    publish(bob, weather, "<app xmlns='urn:x' name='gone'/>")
    publish(bob, sports, "<app xmlns='urn:x' name='still'/>")
    assert relayed(alice, name) == [(f"[{sports}] app name=still", sports, root)]
