"""Herald through slixmpp's xep_0060 plugin: a client nobody here wrote,
used the way its documentation shows. Plain c2s to the test ejabberd on
127.0.0.1 (no TLS, see heraldtest.slix.make_client).

Each test runs one asyncio scenario; Herald restarts happen in a thread
(asyncio.to_thread) so the slixmpp sessions keep running meanwhile.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import pytest

slixmpp = pytest.importorskip("slixmpp")
from slixmpp.plugins.xep_0004 import Form  # noqa: E402

from heraldtest.sandbox import SERVICE
from heraldtest.slix import slix_session

NS_TEST = "urn:herald:test:slix"
TIMEOUT = 10


def payload(text: str) -> ET.Element:
    el = ET.Element(f"{{{NS_TEST}}}entry")
    el.text = text
    return el


class Events:
    """Collects one event type of a session into a queue."""

    def __init__(self, xmpp, name: str):
        self.queue: asyncio.Queue = asyncio.Queue()
        xmpp.add_event_handler(name, self.queue.put_nowait)

    async def next_for(self, node: str, timeout: float = TIMEOUT):
        """The next event for node (events for other nodes are skipped)."""
        async def _wait():
            while True:
                msg = await self.queue.get()
                if msg["pubsub_event"]["items"]["node"] == node:
                    return msg
        return await asyncio.wait_for(_wait(), timeout)


def event_item(msg):
    """(item id, payload text) of a one-item publish notification."""
    item = msg["pubsub_event"]["items"]["item"]
    body = item["payload"]
    return item["id"], (body.text if body is not None else None)


def item_ids(iq) -> list[str]:
    return [i["id"] for i in iq["pubsub"]["items"]]


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_subscribe_publish_restart_still_delivers(herald, users, ejabberd, unique_name):
    node = unique_name("slix")
    port = ejabberd.c2s_port

    async def scenario():
        async with slix_session(users["alice"], "pass", port) as alice, \
                slix_session(users["bob"], "pass", port) as bob:
            ps_a, ps_b = alice.plugin["xep_0060"], bob.plugin["xep_0060"]
            published = Events(bob, "pubsub_publish")
            await ps_a.create_node(SERVICE, node, timeout=TIMEOUT)
            sub = await ps_b.subscribe(SERVICE, node, timeout=TIMEOUT)
            assert sub["pubsub"]["subscription"]["subscription"] == "subscribed"

            res = await ps_a.publish(SERVICE, node, id="first", payload=payload("one"),
                                     timeout=TIMEOUT)
            assert res["pubsub"]["publish"]["item"]["id"] == "first"
            assert event_item(await published.next_for(node)) == ("first", "one")

            await asyncio.to_thread(herald.restart)

            items = await ps_a.get_items(SERVICE, node, timeout=TIMEOUT)
            assert item_ids(items) == ["first"]
            assert items["pubsub"]["items"]["item"]["payload"].text == "one"
            nodes = await alice.plugin["xep_0030"].get_items(jid=SERVICE, timeout=TIMEOUT)
            assert node in [n for _, n, _ in nodes["disco_items"]["items"]]
            subs = await ps_b.get_subscriptions(SERVICE, node, timeout=TIMEOUT)
            assert [s["subscription"] for s in subs["pubsub"]["subscriptions"]] == ["subscribed"]

            # The subscription survived: a new publish reaches bob.
            await ps_a.publish(SERVICE, node, id="second", payload=payload("two"),
                               timeout=TIMEOUT)
            assert event_item(await published.next_for(node)) == ("second", "two")
            items = await ps_b.get_items(SERVICE, node, timeout=TIMEOUT)
            assert item_ids(items) == ["first", "second"]

    run(scenario())


def test_items_retract_and_config_form(herald, users, ejabberd, unique_name):
    node = unique_name("slix")
    port = ejabberd.c2s_port

    async def scenario():
        async with slix_session(users["alice"], "pass", port) as alice, \
                slix_session(users["bob"], "pass", port) as bob:
            ps_a, ps_b = alice.plugin["xep_0060"], bob.plugin["xep_0060"]
            retracted = Events(bob, "pubsub_retract")
            published = Events(bob, "pubsub_publish")

            config = Form()
            config["type"] = "submit"
            config.add_field(var="FORM_TYPE", ftype="hidden",
                             value="http://jabber.org/protocol/pubsub#node_config")
            config.add_field(var="pubsub#title", value="Slix node")
            config.add_field(var="pubsub#max_items", value="50")
            await ps_a.create_node(SERVICE, node, config=config, timeout=TIMEOUT)
            await ps_b.subscribe(SERVICE, node, timeout=TIMEOUT)
            for i in range(25):
                await ps_a.publish(SERVICE, node, id=f"i{i}", payload=payload(f"v{i}"),
                                   timeout=TIMEOUT)
            for i in range(25):
                assert event_item(await published.next_for(node)) == (f"i{i}", f"v{i}")

            # All items, newest N, and by ID.
            items = await ps_b.get_items(SERVICE, node, timeout=TIMEOUT)
            assert item_ids(items) == [f"i{i}" for i in range(25)]
            newest = await ps_b.get_items(SERVICE, node, max_items=2, timeout=TIMEOUT)
            assert item_ids(newest) == ["i23", "i24"]
            one = await ps_b.get_items(SERVICE, node, item_ids=["i7"], timeout=TIMEOUT)
            assert item_ids(one) == ["i7"]
            assert one["pubsub"]["items"]["item"]["payload"].text == "v7"

            # slixmpp's XEP-0059 iterator: pages of 10 from the first item.
            paged = []
            async for page in ps_b.get_items(SERVICE, node, iterator=True):
                paged.extend(item_ids(page))
            assert paged == [f"i{i}" for i in range(25)]

            # Retract: the subscriber is told, and the item is gone.
            await ps_a.retract(SERVICE, node, "i7", notify=True, timeout=TIMEOUT)
            msg = await retracted.next_for(node)
            assert msg["pubsub_event"]["items"]["retract"]["id"] == "i7"
            items = await ps_b.get_items(SERVICE, node, timeout=TIMEOUT)
            assert "i7" not in item_ids(items) and len(item_ids(items)) == 24

            # The node configuration form, with what was submitted at create.
            conf = await ps_a.get_node_config(SERVICE, node, timeout=TIMEOUT)
            form = conf["pubsub_owner"]["configure"]["form"]
            values = form.get_values()
            # slixmpp 1.17 returns a hidden field's value as a list.
            assert values["FORM_TYPE"] in ("http://jabber.org/protocol/pubsub#node_config",
                                           ["http://jabber.org/protocol/pubsub#node_config"])
            assert form.get_fields()["pubsub#access_model"]["type"] == "list-single"
            assert values["pubsub#title"] == "Slix node"
            assert str(values["pubsub#max_items"]) == "50"
            assert "pubsub#access_model" in values

            # A non-owner may not read it.
            with pytest.raises(slixmpp.exceptions.IqError) as err:
                await ps_b.get_node_config(SERVICE, node, timeout=TIMEOUT)
            assert err.value.condition == "forbidden"

    run(scenario())
