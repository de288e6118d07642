"""XEP-0248 collection nodes through the real ejabberd (issue 17):
creating collections and leaves inside them, disco#items of a collection,
items subscriptions at depth 1 and all (the SHIM Collection header names
the collection, the event names the leaf), a nodes subscription hearing
of a new leaf, a leaf the subscriber may not read filtered out, and a
leaf moved out of the collection falling silent, and catch-up across a
collection with one cursor (MAM and RSM on the collection).

Two or more real c2s clients per scenario: client -> ejabberd -> Herald
(XEP-0114) -> ejabberd -> client.
"""

from __future__ import annotations

import pytest

from heraldtest import catchup as cu
from heraldtest.events import assert_no_event, sync, wait_event, wait_item
from heraldtest.entity import subscribe_ok
from heraldtest.forms import field, form_values
from heraldtest.owner import (config_of, configure_ok, configure_set, create_ok, form_of,
                              items, publish, publish_ok, set_affiliation)
from heraldtest.replies import assert_error, assert_result
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PUBSUB, NS_RSM, esc, tostring

ITEMS = {"pubsub#subscription_type": "items"}
ITEMS_ALL = {"pubsub#subscription_type": "items", "pubsub#subscription_depth": "all"}


@pytest.fixture
def alice(herald, connect):
    return connect("alice")


@pytest.fixture
def bob(herald, connect):
    return connect("bob")


def collection_header(msg) -> list[str]:
    return [h.text or "" for h in msg.findall("shim:headers/shim:header", NS)
            if h.get("name") == "Collection"]


def tree(alice, unique_name):
    """root ⊃ news ⊃ sports, and weather directly in root."""
    root = create_ok(alice, unique_name("root"), {"pubsub#node_type": "collection"})
    news = create_ok(alice, unique_name("news"), {"pubsub#node_type": "collection",
                                                  "pubsub#collection": root})
    sports = create_ok(alice, unique_name("sports"), {"pubsub#collection": news})
    weather = create_ok(alice, unique_name("weather"), {"pubsub#collection": root})
    return root, news, sports, weather


def disco_children(c, node: str) -> list[str]:
    reply = assert_result(c.iq(f"<iq type='get' to='{SERVICE}'>"
                               f"<query xmlns='{NS_DISCO_ITEMS}' node='{node}'/></iq>"))
    return sorted(i.get("node") for i in reply.findall("items:query/items:item", NS))


def test_collections_are_discoverable_and_refuse_items(alice, bob, unique_name):
    root, news, sports, weather = tree(alice, unique_name)
    features = assert_result(bob.disco_info(SERVICE))
    vars_ = {f.get("var") for f in features.findall(f"{{{NS_DISCO_INFO}}}query/"
                                                    f"{{{NS_DISCO_INFO}}}feature")}
    assert "http://jabber.org/protocol/pubsub#collections" in vars_
    info = assert_result(bob.disco_info(SERVICE, root))
    ident = info.find(f"{{{NS_DISCO_INFO}}}query/{{{NS_DISCO_INFO}}}identity")
    assert ident.get("type") == "collection", tostring(info)
    assert disco_children(bob, root) == sorted([news, weather])
    assert disco_children(bob, news) == [sports]
    config = config_of(alice, news)
    assert field(config, "pubsub#node_type") == "collection"
    assert config["pubsub#children"] == [sports]
    assert config_of(alice, sports)["pubsub#collection"] == [news]
    # §2.1: a collection holds no items.
    reply = publish(alice, root, "nope")
    assert_error(reply, "cancel", "feature-not-implemented", "unsupported")
    assert reply.find("c:error/pserr:unsupported", NS).get("feature") == "publish"
    # §4.2: items of a collection are its leaves' items (none yet).
    reply = assert_result(items(bob, root))
    assert reply.findall("ps:pubsub/ps:items/ps:item", NS) == [], tostring(reply)


def test_subscribe_options_form_has_collection_rows(alice, bob, unique_name):
    root, *_ = tree(alice, unique_name)
    subscribe_ok(bob, root, options=ITEMS)
    reply = assert_result(bob.iq(
        f"<iq type='get' to='{SERVICE}'><pubsub xmlns='http://jabber.org/protocol/pubsub'>"
        f"<options node='{root}' jid='{bob.bare_jid}'/></pubsub></iq>"))
    opts = form_values(form_of(reply, "ps:pubsub/ps:options/x:x"))
    assert field(opts, "pubsub#subscription_type") == "items"
    assert field(opts, "pubsub#subscription_depth") == "1"


def test_items_subscription_depth_one_and_all(alice, bob, connect, unique_name):
    root, news, sports, weather = tree(alice, unique_name)
    carol = connect("carol")
    subscribe_ok(bob, root, options=ITEMS)
    subscribe_ok(carol, root, options=ITEMS_ALL)
    w1 = publish_ok(alice, weather, "w1")
    for who in (bob, carol):
        msg = wait_item(who, weather, w1)
        assert collection_header(msg) == [root], tostring(msg)
    s1 = publish_ok(alice, sports, "s1")
    msg = wait_item(carol, sports, s1)
    assert collection_header(msg) == [root], tostring(msg)
    sync(bob)
    assert_no_event(bob, sports)


def test_nodes_subscription_sees_a_new_leaf(alice, bob, unique_name):
    root, news, sports, weather = tree(alice, unique_name)
    subscribe_ok(bob, news)   # XEP-0248 §4.1: nodes, depth 1 by default
    tennis = create_ok(alice, unique_name("tennis"), {"pubsub#collection": news})

    def associated(msg):
        c = msg.find("pse:event/pse:collection", NS)
        return (c is not None and c.get("node") == news
                and c.find("pse:associate", NS) is not None
                and c.find("pse:associate", NS).get("node") == tennis)
    wait_event(bob, associated)
    # A nodes subscription is not told of items.
    publish_ok(alice, tennis, "t1")
    sync(bob)
    assert_no_event(bob, tennis)


def test_leaf_the_subscriber_may_not_read_is_filtered(alice, bob, connect, unique_name):
    root, news, sports, weather = tree(alice, unique_name)
    carol = connect("carol")
    configure_ok(alice, weather, {"pubsub#access_model": "whitelist"})
    set_affiliation(alice, weather, carol.bare_jid, "member")
    subscribe_ok(bob, root, options=ITEMS)
    subscribe_ok(carol, root, options=ITEMS)
    w1 = publish_ok(alice, weather, "secret")
    wait_item(carol, weather, w1)
    sync(bob)
    assert_no_event(bob, weather)


def test_leaf_moved_out_stops_notifying(alice, bob, unique_name):
    root, news, sports, weather = tree(alice, unique_name)
    subscribe_ok(bob, root, options=ITEMS)
    w1 = publish_ok(alice, weather, "before")
    wait_item(bob, weather, w1)
    configure_ok(alice, weather, {"pubsub#collection": ""})
    assert disco_children(bob, root) == [news]
    publish_ok(alice, weather, "after")
    sync(bob)
    assert_no_event(bob, weather)


def test_cycles_and_leaf_parents_are_not_allowed(alice, unique_name):
    root, news, sports, weather = tree(alice, unique_name)
    assert_error(configure_set(alice, root, {"pubsub#collection": news}),
                 "cancel", "not-allowed", "invalid-options")
    assert_error(configure_set(alice, weather, {"pubsub#collection": sports}),
                 "cancel", "not-allowed", "invalid-options")


def test_children_set_on_the_collection(alice, bob, unique_name):
    root, news, sports, weather = tree(alice, unique_name)
    loose = create_ok(alice, unique_name("loose"))
    subscribe_ok(bob, news)
    # §5.2: pubsub#children on the collection re-parents the children.
    configure_ok(alice, news, {"pubsub#children": [sports, loose]})
    assert disco_children(bob, news) == sorted([sports, loose])
    assert config_of(alice, loose)["pubsub#collection"] == [news]

    def associated(msg):
        c = msg.find("pse:event/pse:collection", NS)
        a = None if c is None else c.find("pse:associate", NS)
        return a is not None and c.get("node") == news and a.get("node") == loose
    wait_event(bob, associated)
    # A leaf cannot have children.
    assert_error(configure_set(alice, sports, {"pubsub#children": [loose]}),
                 "cancel", "not-allowed", "invalid-options")


# Catch-up across a collection (issue 17): one cursor over all its leaves.

def collection_mam(c, node: str, rsm: str):
    """One MAM query on a collection: ([(archive id, leaf, 'item:ID' |
    'retract:ID')], <fin/>)."""
    results, fin = cu.mam_forwarded(c, node, rsm=rsm)
    return [(archive_id, items.get("node"), cu.event_kind(items))
            for archive_id, items in results], fin


def collection_items(c, node: str, max_: int, after: str):
    """One RSM page of a collection's items: ([(leaf, item ID)], <set/>)."""
    reply = assert_result(c.iq(
        f"<iq type='get' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
        f"<items node='{esc(node)}'/><set xmlns='{NS_RSM}'><max>{max_}</max>"
        f"<after>{esc(after)}</after></set></pubsub></iq>"))
    got = [(i.get("node"), i.get("id")) for i in reply.iter(f"{{{NS_PUBSUB}}}item")]
    return got, reply.find(f"{{{NS_PUBSUB}}}pubsub/{{{NS_RSM}}}set")


def test_catch_up_across_a_collection_with_one_cursor(alice, bob, connect, unique_name):
    root, news, sports, weather = tree(alice, unique_name)
    secret = create_ok(alice, unique_name("secret"), {"pubsub#collection": root,
                                                     "pubsub#access_model": "whitelist"})
    subscribe_ok(bob, root, options=ITEMS_ALL)
    # Live: bob sees w1 (depth 1) and s1 (depth 2, nested), each with the
    # collection entry's stanza-id.
    live = [wait_item(bob, weather, publish_ok(alice, weather, "w1")),
            wait_item(bob, sports, publish_ok(alice, sports, "s1"))]
    sids = [cu.stanza_id(m) for m in live]
    assert all(sids) and len(set(sids)) == 2, sids
    assert [collection_header(m) for m in live] == [[root], [root]]
    bob.close()
    # Missed: events on three leaves (one bob may not read, one nested),
    # a retraction.
    for leaf, item_id in [(weather, "w2"), (secret, "x1"), (sports, "s2"),
                          (weather, "w3"), (secret, "x2")]:
        publish_ok(alice, leaf, item_id)
    assert_result(cu_retract(alice, weather, "w2"))
    missed = [(weather, "item:w2"), (sports, "item:s2"), (weather, "item:w3"),
              (weather, "retract:w2")]
    bob = connect("bob")
    # MAM on the collection after the last stanza-id seen: exactly the
    # missed events, in publication order, the unreadable leaf's absent.
    got, fin = collection_mam(bob, root, f"<after>{sids[-1]}</after>")
    assert [(leaf, what) for _, leaf, what in got] == missed
    assert fin.get("complete") == "true"
    # Paged by 2, resuming from <last/>: the same, no duplicates.
    pages, after = [], sids[-1]
    while True:
        page, fin = collection_mam(bob, root, f"<max>2</max><after>{after}</after>")
        pages.extend(page)
        if fin.get("complete") == "true":
            break
        after = fin.find(f"{{{NS_RSM}}}set/{{{NS_RSM}}}last").text
    assert [(leaf, what) for _, leaf, what in pages] == missed
    assert len({aid for aid, _, _ in pages}) == len(missed)
    # RSM items of the collection after the same cursor: the current items
    # (w2 was retracted), in order, each naming its leaf; paged by 1.
    want = [(sports, "s2"), (weather, "w3")]
    items_got, after = [], sids[-1]
    while True:
        page, set_el = collection_items(bob, root, 1, after)
        items_got.extend(page)
        if not page:
            break
        after = cu.rsm_text(set_el, "last")
    assert items_got == want
    # The owner may read the secret leaf: its items are in the history.
    owner_view, _ = collection_mam(alice, root, f"<after>{sids[-1]}</after>")
    assert (secret, "item:x1") in [(leaf, what) for _, leaf, what in owner_view]


def cu_retract(c, node: str, item_id: str):
    return c.iq(f"<iq type='set' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
                f"<retract node='{esc(node)}'><item id='{esc(item_id)}'/></retract>"
                f"</pubsub></iq>")
