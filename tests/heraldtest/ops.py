"""Small XEP-0060 helpers over heraldtest.client's raw XML, shared by the
durability tests: create with configuration, publish, paged retrieval.

Every function takes a logged-in heraldtest.client.Client and returns plain
Python values; a request that does not succeed raises IqError.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Optional

from heraldtest.client import Client
from heraldtest.forms import NODE_CONFIG, form
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS, NS_PUBSUB, NS_PUBSUB_OWNER, NS_RSM, esc


def create_node(c: Client, node: str, config: Optional[dict] = None) -> ET.Element:
    """§8.1 create, or §8.1.3 create-and-configure when config is given."""
    configure = f"<configure>{form(NODE_CONFIG, config)}</configure>" if config else ""
    return c.iq_ok(f"<iq type='set' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
                   f"<create node='{esc(node)}'/>{configure}</pubsub></iq>")


def publish_xml(node: str, item_id: str, iq_id: str, payload: str = "") -> str:
    """The raw publish IQ (§7.1) with an explicit IQ id, for pipelining."""
    body = payload or f"<entry xmlns='urn:herald:test'>{esc(item_id)}</entry>"
    return (f"<iq type='set' to='{SERVICE}' id='{esc(iq_id)}'>"
            f"<pubsub xmlns='{NS_PUBSUB}'><publish node='{esc(node)}'>"
            f"<item id='{esc(item_id)}'>{body}</item></publish></pubsub></iq>")


def publish(c: Client, node: str, item_id: str, payload: str = "") -> ET.Element:
    return c.iq_ok(publish_xml(node, item_id, c.next_id(), payload))


def items_page(c: Client, node: str, max_: int = 1000,
               after: Optional[str] = None) -> tuple[list[ET.Element], Optional[str], int]:
    """One §6.5.4 RSM page: (items, last cursor or None, count)."""
    rsm_after = f"<after>{esc(after)}</after>" if after is not None else ""
    reply = c.iq_ok(f"<iq type='get' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
                    f"<items node='{esc(node)}'/><set xmlns='{NS_RSM}'><max>{max_}</max>"
                    f"{rsm_after}</set></pubsub></iq>", timeout=30)
    items = reply.findall("ps:pubsub/ps:items/ps:item", NS)
    last = reply.findtext("ps:pubsub/rsm:set/rsm:last", namespaces=NS)
    count = reply.findtext("ps:pubsub/rsm:set/rsm:count", namespaces=NS)
    return items, last, int(count) if count is not None else -1


def all_item_ids(c: Client, node: str, page: int = 1000) -> list[str]:
    """Every item ID of the node, oldest first, by paging with RSM <after/>
    until a short page. Duplicates are kept so callers can check for them."""
    out: list[str] = []
    after: Optional[str] = None
    while True:
        items, last, _count = items_page(c, node, page, after)
        out.extend(i.get("id") for i in items)
        if len(items) < page or last is None:
            return out
        after = last


def owner_iq(c: Client, type_: str, body: str) -> ET.Element:
    return c.iq_ok(f"<iq type='{type_}' to='{SERVICE}'>"
                   f"<pubsub xmlns='{NS_PUBSUB_OWNER}'>{body}</pubsub></iq>")
