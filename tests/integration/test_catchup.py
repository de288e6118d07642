"""Issue 4: catch-up by item ID (XEP-0059 RSM), node history (XEP-0313 MAM
on nodes, XEP-0442) and retention, with real clients through ejabberd.

The scenario of every recovery test: bob is subscribed and sees a1..a3 live,
disconnects; alice publishes b1, b2, b3, retracts b2 and re-publishes a2;
bob reconnects and recovers exactly what he missed, in order.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from heraldtest import catchup as cu
from heraldtest.client import IqError
from heraldtest.sandbox import C2S_PORT, SERVICE

MISSED_ITEMS = ["b1", "b3", "a2"]          # current items after a3, in order
MISSED_HISTORY = ["item:b1", "item:b2", "item:b3", "retract:b2", "item:a2"]


def live_then_offline(connect, node: str) -> tuple[str, str]:
    """Runs the scenario; returns (last item ID, last stanza-id bob saw)."""
    alice = connect("alice")
    cu.create(alice, node)
    bob = connect("bob")
    cu.subscribe(bob, node, "bob@localhost")
    for i in ["a1", "a2", "a3"]:
        cu.publish(alice, node, i)
    seen = []
    deadline = time.monotonic() + 10
    while len(seen) < 3 and time.monotonic() < deadline:
        seen.extend(m for m in bob.messages(timeout=0.5) if cu.event_item_ids(m))
    assert [cu.event_item_ids(m)[0] for m in seen] == ["a1", "a2", "a3"]
    sids = [cu.stanza_id(m) for m in seen]
    assert all(sids) and len(set(sids)) == 3, f"stanza-ids {sids}"
    bob.close()
    for i in ["b1", "b2", "b3"]:
        cu.publish(alice, node, i)
    cu.retract(alice, node, "b2")
    cu.publish(alice, node, "a2")
    return "a3", sids[-1]


def test_recover_missed_items_by_rsm_and_by_mam(connect, herald, unique_name):
    node = unique_name()
    last_item, last_sid = live_then_offline(connect, node)
    bob = connect("bob")
    # RSM: items after the last item ID seen, in pages of 2.
    assert cu.catch_up_rsm(bob, node, last_item, page=2) == MISSED_ITEMS
    ids, set_el = cu.items_page(bob, node, 10, last_item)
    assert cu.rsm_text(set_el, "first") == "b1" and cu.rsm_text(set_el, "last") == "a2"
    assert cu.rsm_text(set_el, "count") == "5"
    # MAM: every event after the last stanza-id seen, payloads included.
    results, fin = cu.mam_query(bob, node, {"after-id": last_sid})
    assert [w for _, w, _ in results] == MISSED_HISTORY
    assert fin.get("complete") == "true"
    assert "b2" in results[1][2], "the retracted item's payload is in the history"
    # MAM paged with RSM, resuming from <last/>.
    page1, fin1 = cu.mam_query(bob, node, rsm=f"<max>3</max><after>{last_sid}</after>")
    last = cu.rsm_text(fin1.find("{http://jabber.org/protocol/rsm}set"), "last")
    page2, fin2 = cu.mam_query(bob, node, rsm=f"<max>3</max><after>{last}</after>")
    assert [w for _, w, _ in page1 + page2] == MISSED_HISTORY
    assert fin1.get("complete") is None and fin2.get("complete") == "true"


def test_trimmed_cursor_is_item_not_found(connect, herald_factory, unique_name):
    herald_factory(config={"retention": {"history_max_entries": 3}})
    alice = connect("alice")
    node = unique_name()
    cu.create(alice, node, {"pubsub#max_items": "2"})
    for i in ["x1", "x2", "x3", "x4"]:
        cu.publish(alice, node, i)
    with pytest.raises(IqError) as e:
        cu.items_page(alice, node, 10, after="x1")
    assert e.value.condition[1] == "item-not-found"
    history, _ = cu.mam_query(alice, node)
    assert [w for _, w, _ in history] == ["item:x2", "item:x3", "item:x4"]
    oldest = history[0][0]
    cu.publish(alice, node, "x5")           # pushes x2's entry out
    with pytest.raises(IqError) as e:
        cu.mam_query(alice, node, {"after-id": oldest})
    assert e.value.condition[1] == "item-not-found"
    # The recovery recipe: resync from the newest N.
    ids, _ = cu.items_page(alice, node, 2)
    assert ids == ["x4", "x5"]


def test_expired_items_disappear_without_admin_action(connect, herald, unique_name):
    alice = connect("alice")
    node = unique_name()
    cu.create(alice, node, {"pubsub#item_expire": "1"})
    cu.publish(alice, node, "short-lived")
    ids, _ = cu.items_page(alice, node, 10)
    assert ids == ["short-lived"]
    deadline = time.monotonic() + 10
    while ids and time.monotonic() < deadline:
        time.sleep(0.5)
        ids, _ = cu.items_page(alice, node, 10)
    assert ids == [], "expired by the retention tick"
    with pytest.raises(IqError) as e:
        cu.items_page(alice, node, 10, after="short-lived")
    assert e.value.condition[1] == "item-not-found"


def test_mam_and_rsm_features_advertised(connect, herald, unique_name):
    alice = connect("alice")
    node = unique_name()
    cu.create(alice, node)
    for n in [None, node]:
        q = alice.disco_info(SERVICE, n)
        vars_ = {f.get("var") for f in q.iter("{http://jabber.org/protocol/disco#info}feature")}
        assert {"urn:xmpp:mam:2", "urn:xmpp:mam:2#extended"} <= vars_, n
    q = alice.disco_info(SERVICE)
    vars_ = {f.get("var") for f in q.iter("{http://jabber.org/protocol/disco#info}feature")}
    assert "http://jabber.org/protocol/pubsub#rsm" in vars_


# --- the same recovery with slixmpp ------------------------------------------

async def slix_recover(node: str, after_item: str, after_sid: str):
    from slixmpp import JID
    from slixmpp.plugins.xep_0059.rsm import ResultIterator
    from slixmpp.plugins.xep_0059.stanza import Set
    from slixmpp.plugins.xep_0060.stanza import Pubsub
    from slixmpp.xmlstream import register_stanza_plugin
    from slixmpp.xmlstream.handler import Callback
    from slixmpp.xmlstream.matcher import MatchXPath
    from heraldtest.slix import slix_session

    plugins = ("xep_0030", "xep_0059", "xep_0060", "xep_0313")
    async with slix_session("bob@localhost", "pass", C2S_PORT, plugins=plugins) as xmpp:
        # XEP-0059 through xep_0060's items query, resumed after an item ID.
        # slixmpp 1.17 does not attach RSM to <pubsub/> itself (its
        # get_items(iterator=True) fails with "Unknown stanza interface").
        register_stanza_plugin(Pubsub, Set)
        iq = xmpp.make_iq_get(ito=SERVICE)
        iq["pubsub"]["items"]["node"] = node
        rsm_ids = []
        pages = ResultIterator(iq, "pubsub", amount=2, start=after_item)
        async for page in pages:
            rsm_ids.extend(i["id"] for i in page["pubsub"]["items"])
        # XEP-0313 with xep_0313's stanzas, `node` on the query (XEP-0442).
        got = []
        xmpp.register_handler(Callback(
            "mam results", MatchXPath("{jabber:client}message/{urn:xmpp:mam:2}result"),
            lambda m: got.append(m)))
        q = xmpp.make_iq_set(ito=JID(SERVICE))
        q["mam"]["queryid"] = "slix1"
        q["mam"]["after_id"] = after_sid
        q["mam"].xml.set("node", node)
        fin = await q.send(timeout=10)
        await asyncio.sleep(0.2)
        history = []
        for m in got:
            ev = m["mam_result"]["forwarded"]["stanza"]["pubsub_event"]["items"]
            for child in ev.xml:
                history.append(f"{child.tag.split('}')[1]}:{child.get('id')}")
        return rsm_ids, history, fin["mam_fin"]["complete"]


def test_slixmpp_recovers_by_rsm_and_mam(connect, herald, unique_name):
    node = unique_name()
    last_item, last_sid = live_then_offline(connect, node)
    rsm_ids, history, complete = asyncio.run(slix_recover(node, last_item, last_sid))
    assert rsm_ids == MISSED_ITEMS
    assert history == MISSED_HISTORY
    assert complete
