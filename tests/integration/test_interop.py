"""What third-party clients and the RFCs expect (issue 15): each test sends
what a client library sends (stanza.js, aioxmpp, profanity, slixmpp) and
checks what that client would show.
"""

from __future__ import annotations

import asyncio

import pytest

from heraldtest.entity import create_node, entry, publish_ok, pubsub_iq
from heraldtest.replies import assert_error, assert_result, pubsub_child
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS, esc, local


def rsm_first_last_count(reply):
    s = reply.find("ps:pubsub/rsm:set", NS)
    assert s is not None
    return (s.findtext("rsm:first", None, NS), s.findtext("rsm:last", None, NS),
            s.findtext("rsm:count", None, NS))


def test_max_items_with_an_rsm_set_is_the_newest(herald, connect, unique_name):
    """stanza.js getItems({max: 3}) sends max_items='3' and <set><max>3</max></set>:
    XEP-0060 §6.5.7 says max_items is the most recent N."""
    alice = connect("alice")
    node = unique_name("maxitems")
    assert_result(create_node(alice, node))
    for i in range(1, 6):
        publish_ok(alice, node, [(f"i{i}", entry(f"t{i}"))])
    for rsm in ("<set xmlns='http://jabber.org/protocol/rsm'><max>3</max></set>",
                "<set xmlns='http://jabber.org/protocol/rsm'/>",
                "<set xmlns='http://jabber.org/protocol/rsm'><max>10</max></set>"):
        reply = assert_result(alice.iq(pubsub_iq(
            f"<items node='{node}' max_items='3'/>{rsm}", "get")))
        got = [i.get("id") for i in pubsub_child(reply, "items").findall("ps:item", NS)]
        assert got == ["i3", "i4", "i5"], rsm
        assert rsm_first_last_count(reply) == ("i3", "i5", "5")


def test_subscribe_without_jid_is_malformed_even_for_a_missing_node(herald, connect,
                                                                    unique_name):
    """XEP-0060 §6.1.1 requires 'jid': a request without one is refused as
    malformed (bad-request) before the node is looked up, so the client
    is not told a node is missing when its request is at fault."""
    alice = connect("alice")
    node = unique_name("subjid")
    assert_result(create_node(alice, node))
    for n in (unique_name("missing"), node):
        reply = alice.iq(pubsub_iq(f"<subscribe node='{n}'/>"))
        assert_error(reply, "modify", "bad-request", "jid-required")


NS_RSM = "http://jabber.org/protocol/rsm"


def test_disco_info_advertises_rsm_on_service_and_node(herald, users, ejabberd, connect,
                                                       unique_name):
    """XEP-0059 §6: clients (aioxmpp) check disco#info for the rsm feature
    before paging; a node's items and disco#items page too."""
    slix = pytest.importorskip("heraldtest.slix")
    alice = connect("alice")
    node = unique_name("rsmdisco")
    assert_result(create_node(alice, node))

    async def scenario():
        async with slix.slix_session(users["bob"], "pass", ejabberd.c2s_port) as bob:
            disco = bob.plugin["xep_0030"]
            service = await disco.get_info(jid=SERVICE, timeout=10)
            on_node = await disco.get_info(jid=SERVICE, node=node, timeout=10)
            return (service["disco_info"]["features"], on_node["disco_info"]["features"])

    service, on_node = asyncio.run(asyncio.wait_for(scenario(), 60))
    for features in (service, on_node):
        assert NS_RSM in features, features
        assert "http://jabber.org/protocol/pubsub#rsm" in features, features


def remove_roster_item(client, jid):
    client.iq_ok(f"<iq type='set'><query xmlns='jabber:iq:roster'>"
                 f"<item jid='{esc(jid)}' subscription='remove'/></query></iq>")


def from_service(type_):
    return lambda s: (local(s) == "presence" and s.get("from") == SERVICE
                      and s.get("type") == type_)


def test_approved_roster_subscription_is_followed_by_available_presence(herald, connect):
    """RFC 6121 §3.1.5: after approving, the contact sends its current
    presence; without it profanity shows Herald offline."""
    dave = connect("dave")
    # ejabberd keeps the roster across tests: start from no item, or it
    # would not route the subscribe again.
    remove_roster_item(dave, SERVICE)
    try:
        # The removal's own unsubscribe exchange can swallow the first
        # subscribe inside ejabberd: ask again (see test_pubsub_entity.py).
        for attempt in range(3):
            dave.send(f"<presence type='subscribe' to='{SERVICE}'/>")
            try:
                dave.wait_for(from_service("subscribed"), timeout=4)
                break
            except TimeoutError:
                if attempt == 2:
                    raise
        # No probe sent: the available presence comes on its own.
        dave.wait_for(from_service(None), timeout=4)
    finally:
        remove_roster_item(dave, SERVICE)


def test_chat_replies_deliveries_and_room_posts_carry_a_message_id(herald_factory, connect,
                                                                   unique_name):
    """RFC 6120 §8.1.3: clients key receipts, corrections and dedup on the
    message id; Herald's chat answers, chat deliveries and room posts have one."""
    from heraldtest.muc import (chat_from_herald, destroy_room, groupchat_from, join_room,
                                publish, wait_occupant)
    alice = connect("alice", resource="room")
    room = f"{unique_name('ids')}@conference.localhost"
    join_room(alice, room, "alice")
    node = unique_name("idnode")
    try:
        herald_factory(config={"relay": {"max_per_minute": 20, "window_secs": 60, "rooms": [
            {"nodes": [f"{node}*"], "room": room, "nick": "herald"}]}})
        wait_occupant(alice, room, "herald")
        assert_result(create_node(alice, node))
        bob = connect("bob")
        bob.send(f"<message type='chat' to='{SERVICE}'><body>subscribe {node}</body></message>")
        reply = chat_from_herald(bob, timeout=10, expect=1)
        assert len(reply) == 1 and "Subscribed" in reply[0].findtext("c:body", "", NS)
        publish(alice, node, "<app xmlns='urn:x' name='shiny'/>", "m1")
        delivery = chat_from_herald(bob, timeout=10, expect=1)
        post = groupchat_from(alice, room, "herald", timeout=10, expect=1)
        ids = [m.get("id") for m in reply + delivery + post]
        assert len(ids) == 3 and all(ids) and len(set(ids)) == 3, ids
    finally:
        destroy_room(alice, room)


def test_refused_publish_and_retract_say_why(herald, connect, unique_name):
    """A refused publish names its reason (the publish model or the
    affiliation), as the chat commands do, not just "insufficient privileges"."""
    from heraldtest.entity import publish, retract, set_affiliations
    from heraldtest.stanza import NS_STANZAS
    alice, bob = connect("alice"), connect("bob")

    def text(reply):
        assert_error(reply, "auth", "forbidden")
        return reply.findtext(f"{{jabber:client}}error/{{{NS_STANZAS}}}text") or ""

    node = unique_name("why")
    assert_result(create_node(alice, node))
    assert "not a publisher" in text(publish(bob, node, [("b1", entry("x"))]))
    set_affiliations(alice, node, {"bob@localhost": "member"})
    assert "member, not a publisher" in text(publish(bob, node, [("b1", entry("x"))]))
    set_affiliations(alice, node, {"bob@localhost": "publish-only"})
    publish_ok(bob, node, [("b1", entry("x"))])
    assert "publish-only" in text(retract(bob, node, "b1"))
    set_affiliations(alice, node, {"bob@localhost": "outcast"})
    assert "outcast" in text(publish(bob, node, [("b2", entry("x"))]))

    subs_only = unique_name("why")
    assert_result(create_node(alice, subs_only, {"pubsub#publish_model": "subscribers"}))
    assert "subscribe first" in text(publish(bob, subs_only, [("b1", entry("x"))]))


def test_rsm_max_alone_is_the_oldest_page_and_empty_before_the_newest(herald, connect,
                                                                      unique_name):
    """What xep-notes/xep-0059.md now says: <max/> alone pages from the
    oldest (XEP-0059 §2.1); <before/> empty gives the newest (§2.5)."""
    alice = connect("alice")
    node = unique_name("rsmmax")
    assert_result(create_node(alice, node))
    for i in range(1, 6):
        publish_ok(alice, node, [(f"i{i}", entry(f"t{i}"))])

    def page(rsm):
        reply = assert_result(alice.iq(pubsub_iq(
            f"<items node='{node}'/><set xmlns='{NS_RSM}'>{rsm}</set>", "get")))
        return [i.get("id") for i in pubsub_child(reply, "items").findall("ps:item", NS)]

    assert page("<max>2</max>") == ["i1", "i2"]
    assert page("<max>2</max><before/>") == ["i4", "i5"]


def test_stanza_ids_are_opaque_and_stay_mam_cursors_across_a_restart(herald, connect,
                                                                    unique_name):
    """XEP-0359 §5: stanza-ids should be unpredictable and must not reveal
    the archive's size; they stay usable as MAM cursors, also after a
    restart, and the service advertises urn:xmpp:sid:0."""
    import re
    import time

    import heraldtest.catchup as cu
    alice, bob = connect("alice"), connect("bob")
    node = unique_name("sid")
    cu.create(alice, node)
    cu.subscribe(bob, node, "bob@localhost")
    for i in range(1, 5):
        cu.publish(alice, node, f"s{i}")
    seen, deadline = [], time.monotonic() + 10
    while len(seen) < 4 and time.monotonic() < deadline:
        seen.extend(m for m in bob.messages(timeout=0.5) if cu.event_item_ids(m))
    sids = [cu.stanza_id(m) for m in seen]
    assert len(sids) == 4 and len(set(sids)) == 4, sids
    for sid in sids:
        assert re.fullmatch(r"[0-9a-f]{32}", sid), sid
        # No counter shows through: not "<node>-<seq>", no small number.
        assert "-" not in sid and not re.search(r"0{10}", sid), sid

    herald.restart()
    bob = connect("bob")
    results, fin = cu.mam_query(bob, node, rsm=f"<max>10</max><after>{sids[1]}</after>")
    assert [w for _, w, _ in results] == ["item:s3", "item:s4"]
    assert [i for i, _, _ in results] == sids[2:], "the same IDs after the restart"
    features = [f.get("var") for f in bob.disco_info(SERVICE).iter()
                if f.tag.endswith("}feature")]
    assert "urn:xmpp:sid:0" in features


HERALD_OPTS = "{urn:herald:subscribe_options:0}"


def test_herald_subscription_options_are_namespaced_fields(herald, connect, unique_name):
    """XEP-0068: fields outside the registered pubsub#subscribe_options
    FORM_TYPE are named in Clark notation; the form shows them so, and a
    submit with those names works (the old names are still accepted)."""
    from heraldtest.entity import options_get, subscribe_ok
    from heraldtest.forms import form_values
    from heraldtest.muc import chat_from_herald, publish
    alice, bob = connect("alice"), connect("bob")
    node = unique_name("opts")
    assert_result(create_node(alice, node))
    sub = subscribe_ok(bob, node, options={f"{HERALD_OPTS}chat": True})
    reply = assert_result(options_get(bob, node, sub.get("subid")))
    fields = form_values(reply.find("ps:pubsub/ps:options/x:x", NS))
    for name in ("chat", "queue_group", "queue_start", "queue_after"):
        assert f"{HERALD_OPTS}{name}" in fields, sorted(fields)
    assert not {"herald#chat", "pubsub#queue_group", "pubsub#queue_start",
                "pubsub#queue_after"} & set(fields), sorted(fields)
    assert fields[f"{HERALD_OPTS}chat"] in (["true"], ["1"])
    publish(alice, node, "<app xmlns='urn:x' name='shiny'/>", "o1")
    assert len(chat_from_herald(bob, timeout=10, expect=1)) == 1


def test_room_posts_held_while_out_carry_delay_and_a_digest_with_times(herald_factory,
                                                                       connect,
                                                                       unique_name):
    """XEP-0203: what Herald posts late (held while kicked out of the room)
    carries <delay/> with the event's time, so an old event does not read
    as new; what it could not hold comes as one digest with times."""
    import time

    from heraldtest.muc import (body, destroy_room, groupchat_from, join_room, publish,
                                wait_occupant)
    alice = connect("alice", resource="room")
    room = f"{unique_name('late')}@conference.localhost"
    join_room(alice, room, "alice")
    node = unique_name("late")
    try:
        herald_factory(config={"relay": {"max_per_minute": 2, "window_secs": 60, "rooms": [
            {"nodes": [f"{node}*"], "room": room, "nick": "herald"}]}})
        wait_occupant(alice, room, "herald")
        alice.iq_ok(f"<iq type='set' to='{room}'><query "
                    "xmlns='http://jabber.org/protocol/muc#admin'>"
                    "<item nick='herald' role='none'/></query></iq>")
        time.sleep(0.3)   # Herald has seen its kick (it rejoins after 2 s)
        bob = connect("bob")
        for i in range(5):
            publish(bob, node, f"<app xmlns='urn:x' name='n{i}'/>", f"k{i}")
        got = groupchat_from(alice, room, "herald", timeout=15, expect=3)
        texts = [body(m) for m in got]
        assert len(got) == 3, texts
        assert texts[0].startswith(f"While I was out of the room: 3 events on {node} ("), texts
        assert f'"last {node}"' in texts[0], texts
        for m in got[1:]:
            delay = m.find("{urn:xmpp:delay}delay")
            assert delay is not None and delay.get("stamp", "").startswith("20"), texts
        assert got[0].find("{urn:xmpp:delay}delay") is None
    finally:
        destroy_room(alice, room)


def test_readable_bodies_for_people(herald_factory, connect, unique_name):
    """Chat bodies a person can read: a CloudEvent says what happened
    (its type) first, then its data as key=value, then its source and own
    time; JSON keys keep the publisher's order; XML values with spaces are
    quoted; a digest says how to see what it held back; `last NODE 50` says
    it shows at most 20."""
    from heraldtest.muc import body, chat_from_herald, command, publish
    from heraldtest.stanza import NS_ITEM
    herald_factory(config={"chat": {"max_per_minute": 3, "window_secs": 2}})
    alice, bob = connect("alice"), connect("bob")
    node = unique_name("read")
    assert_result(create_node(alice, node))
    assert f"Subscribed to {node}" in command(bob, f"subscribe {node}")
    event = ('{"specversion":"1.0","id":"e1","source":"/billing","type":"invoice.paid",'
             '"time":"2026-12-02T04:10:03Z","data":{"invoice":"A-1","amount":10}}')
    publish(alice, node, f"<json xmlns='urn:xmpp:json:0'>{event}</json>", "r1")
    publish(alice, node, "<json xmlns='urn:xmpp:json:0'>{\"zeta\":1,\"alpha\":2}</json>", "r2")
    publish(alice, node, "<app xmlns='urn:x' name='two words'/>", "r3")
    got = [body(m) for m in chat_from_herald(bob, timeout=10, expect=3)]
    assert got == [
        f"[{node}] invoice.paid invoice=A-1 amount=10 (source=/billing time=2026-12-02T04:10:03Z)",
        f"[{node}] zeta=1 alpha=2",
        f'[{node}] app name="two words"',
    ], got
    for i in range(4):
        publish(alice, node, f"<app xmlns='urn:x' n='{i}'/>", f"b{i}")
    msgs = chat_from_herald(bob, timeout=6)
    digests = [body(m) for m in msgs if m.find(f"{{{NS_ITEM}}}item") is None]
    assert digests and all(f'Send "last {node}" to {SERVICE} to see the newest.' in d
                           for d in digests), digests
    answer = command(bob, f"last {node} 50")
    assert answer.splitlines()[0] == (f"The 7 newest of 7 items on {node} "
                                      "(you asked for 50; at most 20 are shown):"), answer
