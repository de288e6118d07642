"""Chat commands (issue 8): a plain chat client talks to Herald with
help/list/subscribe/unsubscribe/last, receives items as readable chat
messages, and is refused with a readable reason where access is denied."""

from heraldtest.forms import NODE_CONFIG, form
from heraldtest.muc import body, chat_from_herald, command, publish
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS, NS_ITEM, NS_PUBSUB, esc


def create(c, node, access=None):
    configure = ""
    if access:
        configure = f"<configure>{form(NODE_CONFIG, {'pubsub#access_model': access})}</configure>"
    c.iq_ok(f"<iq type='set' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
            f"<create node='{esc(node)}'/>{configure}</pubsub></iq>")


def test_help_and_unknown_commands(herald, connect):
    bob = connect("bob")
    assert "subscribe NODE" in command(bob, "help")
    assert 'Unknown command "dance"' in command(bob, "dance")


def test_chat_subscriber_receives_readable_messages_and_can_unsubscribe(herald, connect,
                                                                        unique_name):
    alice, bob = connect("alice"), connect("bob")
    node = unique_name("apps")
    create(alice, node)
    assert f"* {node}" not in command(bob, "list")
    assert f"Subscribed to {node}" in command(bob, f"subscribe {node}")
    assert f"* {node}" in command(bob, "list")
    publish(alice, node, "<app xmlns='urn:x' name='shiny' action='created'/>", "c1")
    got = chat_from_herald(bob, timeout=10, expect=1)
    assert [body(m) for m in got] == [f"[{node}] app action=created name=shiny"]
    assert got[0].find(f"{{{NS_ITEM}}}item").get("id") == "c1"
    assert got[0].find("{http://jabber.org/protocol/pubsub#event}event") is None

    assert f"Unsubscribed from {node}" in command(bob, f"unsubscribe {node}")
    publish(alice, node, "<app xmlns='urn:x' name='quiet'/>", "c2")
    assert chat_from_herald(bob, timeout=2) == []
    assert "nothing to stop" in command(bob, f"unsubscribe {node}")


def test_pubsub_subscribers_keep_getting_events_only(herald, connect, unique_name):
    alice, bob, carol = connect("alice"), connect("bob"), connect("carol")
    node = unique_name("apps")
    create(alice, node)
    command(bob, f"subscribe {node}")
    carol.iq_ok(f"<iq type='set' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
                f"<subscribe node='{node}' jid='carol@localhost'/></pubsub></iq>")
    publish(alice, node, "<app xmlns='urn:x' name='both'/>")
    event = carol.wait_for(lambda s: s.find("{http://jabber.org/protocol/pubsub#event}event")
                           is not None, timeout=10)
    assert event.findtext("c:body", namespaces=NS) is None
    assert chat_from_herald(carol, timeout=1) == []
    assert len(chat_from_herald(bob, timeout=10, expect=1)) == 1


def test_last_shows_the_newest_items(herald, connect, unique_name):
    alice, bob = connect("alice"), connect("bob")
    node = unique_name("apps")
    create(alice, node)
    for i in range(4):
        publish(alice, node, f"<app xmlns='urn:x' n='{i}'/>", f"l{i}")
    answer = command(bob, f"last {node} 2")
    assert answer.splitlines() == [f"The 2 newest of 4 items on {node}:",
                                   f"l2: [{node}] app n=2", f"l3: [{node}] app n=3"]


def test_user_without_access_is_refused_with_a_reason(herald, connect, unique_name):
    alice, bob = connect("alice"), connect("bob")
    node = unique_name("secret")
    create(alice, node, access="whitelist")
    answer = command(bob, f"subscribe {node}")
    assert answer.startswith(f"Refused: you may not subscribe to {node}")
    assert "whitelist" in answer
    assert "Refused" in command(bob, f"last {node}")
    assert f'no node "{unique_name("nope")}' not in command(bob, "subscribe nope-x")
    assert 'There is no node "nope-x"' in command(bob, "subscribe nope-x")
    publish(alice, node, "<app xmlns='urn:x'/>")
    assert chat_from_herald(bob, timeout=1) == []


def test_burst_to_a_chat_subscriber_is_rate_limited_with_a_digest(herald_factory, connect,
                                                                 unique_name):
    """A storm of events must not bury a person's chat: at most
    chat.max_per_minute messages per window, the rest summed up in one
    digest when the window ends."""
    herald_factory(config={"chat": {"max_per_minute": 5, "window_secs": 3}})
    alice, bob = connect("alice"), connect("bob")
    node = unique_name("storm")
    create(alice, node)
    assert f"Subscribed to {node}" in command(bob, f"subscribe {node}")
    for i in range(40):
        publish(alice, node, f"<app xmlns='urn:x' n='{i}'/>", f"s{i}")
    got = chat_from_herald(bob, timeout=8)
    items = [m for m in got if m.find(f"{{{NS_ITEM}}}item") is not None]
    digests = [body(m) for m in got if m.find(f"{{{NS_ITEM}}}item") is None]
    assert len(items) <= 5 * 3, f"{len(items)} item messages in under 3 windows"
    assert len(items) >= 5
    held = sum(int(d.split(" more ")[0]) for d in digests)
    assert len(items) + held == 40, (len(items), digests)
    assert all(f"on {node}" in d and "held back" in d for d in digests)


def test_chat_subscription_to_a_collection(herald, connect, unique_name):
    """XEP-0248 (issue 17): `subscribe COLLECTION` brings the items of its
    leaves, nested ones too, each named by its leaf; not those of a leaf
    the user may not read; `list` shows it; `unsubscribe` stops it."""
    from heraldtest.owner import create_ok
    alice, bob = connect("alice"), connect("bob")
    coll = {"pubsub#node_type": "collection"}
    root = create_ok(alice, unique_name("fam"), coll)
    news = create_ok(alice, unique_name("news"), {**coll, "pubsub#collection": root})
    sports = create_ok(alice, unique_name("sports"), {"pubsub#collection": news})
    weather = create_ok(alice, unique_name("weather"), {"pubsub#collection": root})
    closed = create_ok(alice, unique_name("closed"), {"pubsub#collection": root,
                                                      "pubsub#access_model": "whitelist"})
    assert "a collection: the items of every node in it" in command(bob, "help")
    answer = command(bob, f"subscribe {root}")
    assert answer.startswith(f"Subscribed to {root}: new items of every node in it"), answer
    listing = command(bob, "list").splitlines()
    assert f"* {root} [collection]" in listing, listing
    assert f"+ {weather} via {root}" in listing and f"+ {sports} via {root}" in listing
    assert not any(closed in line for line in listing), listing

    for leaf in (closed, weather, sports):
        publish(alice, leaf, f"<app xmlns='urn:x' name='{leaf}'/>", f"{leaf}-1")
    got = chat_from_herald(bob, timeout=10, expect=2)
    assert [body(m) for m in got] == [f"[{weather}] app name={weather}",
                                      f"[{sports}] app name={sports}"]
    wrappers = [m.find(f"{{{NS_ITEM}}}item") for m in got]
    assert [(w.get("node"), w.get("collection")) for w in wrappers] == [(weather, root),
                                                                        (sports, root)]
    assert got[0].find("{http://jabber.org/protocol/pubsub#event}event") is None
    assert chat_from_herald(bob, timeout=1) == [], "nothing of the closed leaf"

    assert command(bob, f"unsubscribe {root}") == f"Unsubscribed from {root}."
    assert f"* {root}" not in command(bob, "list")
    publish(alice, weather, "<app xmlns='urn:x' name='quiet'/>")
    assert chat_from_herald(bob, timeout=2) == []
