"""Shared helpers for the XEP-0060 integration tests: build pubsub requests
as raw XML, send them with a heraldtest.client.Client, and check the replies and
notifications the way a client would see them through ejabberd.

    create_node(alice, node, {"pubsub#access_model": "whitelist"})
    publish(alice, node, [("i1", entry("hello"))])
    subscribe(bob, node)                  # -> the <subscription/> element
    msg = wait_event(bob, items_event(node))   # see heraldtest.events
    assert_error(reply, "cancel", "item-not-found")
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Iterable, Optional, Sequence

from heraldtest.client import Client, IqError
from heraldtest.forms import NODE_CONFIG, PUBLISH_OPTIONS, SUBSCRIBE_OPTIONS, form
from heraldtest.replies import assert_result, pubsub_child
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS, NS_PUBSUB, NS_PUBSUB_OWNER, esc, tostring

PAYLOAD_NS = "urn:example:herald:test"


# --- building requests -------------------------------------------------------

def pubsub_iq(inner: str, type_: str = "set", ns: str = NS_PUBSUB,
              to: str = SERVICE) -> str:
    return f"<iq type='{type_}' to='{esc(to)}'><pubsub xmlns='{ns}'>{inner}</pubsub></iq>"


def entry(text: str, ns: str = PAYLOAD_NS) -> str:
    """A small payload element (like the XEP's Atom entries)."""
    return f"<entry xmlns='{ns}'><title>{esc(text)}</title></entry>"


def attrs(**kw: Optional[str]) -> str:
    return "".join(f" {k}='{esc(v)}'" for k, v in kw.items() if v is not None)


# --- owner operations -------------------------------------------------------

def create_node(client: Client, node: str, config: Optional[dict] = None) -> ET.Element:
    configure = f"<configure>{form(NODE_CONFIG, config)}</configure>" if config else ""
    return client.iq_ok(pubsub_iq(f"<create node='{esc(node)}'/>{configure}"))


def set_affiliations(owner: Client, node: str, affiliations: dict[str, str]) -> ET.Element:
    items = "".join(f"<affiliation jid='{esc(j)}' affiliation='{esc(aff)}'/>"
                    for j, aff in affiliations.items())
    return owner.iq_ok(pubsub_iq(f"<affiliations node='{esc(node)}'>{items}</affiliations>",
                                 ns=NS_PUBSUB_OWNER))


# --- publishing --------------------------------------------------------------

Item = tuple[Optional[str], Optional[str]]   # (id or None, payload XML or None)


def publish_iq(node: str, items: Iterable[Item], options: Optional[dict] = None) -> str:
    body = "".join(f"<item{attrs(id=i)}>{p or ''}</item>" if (i or p) else "<item/>"
                   for i, p in items)
    opts = f"<publish-options>{form(PUBLISH_OPTIONS, options)}</publish-options>" \
        if options is not None else ""
    return pubsub_iq(f"<publish node='{esc(node)}'>{body}</publish>{opts}")


def publish(client: Client, node: str, items: Iterable[Item],
            options: Optional[dict] = None) -> ET.Element:
    """Publish and return the reply (result or error)."""
    return client.iq(publish_iq(node, items, options))


def publish_ok(client: Client, node: str, items: Iterable[Item],
               options: Optional[dict] = None) -> list[str]:
    """Publish, require a result, return the item IDs it reports."""
    reply = publish(client, node, items, options)
    if reply.get("type") != "result":
        raise IqError(reply)
    pub = pubsub_child(reply, "publish")
    assert pub.get("node") == node, tostring(reply)
    return [i.get("id") for i in pub.findall("ps:item", NS)]


def retract(client: Client, node: str, item_id: str,
            notify: Optional[str] = None) -> ET.Element:
    return client.iq(pubsub_iq(f"<retract{attrs(node=node, notify=notify)}>"
                               f"<item id='{esc(item_id)}'/></retract>"))


# --- subscribing -------------------------------------------------------------

def subscribe(client: Client, node: str, jid: Optional[str] = None,
              options: Optional[dict] = None) -> ET.Element:
    """Subscribe (jid defaults to the client's bare JID); returns the reply."""
    jid = jid or client.bare_jid
    opts = f"<options>{form(SUBSCRIBE_OPTIONS, options)}</options>" if options else ""
    return client.iq(pubsub_iq(f"<subscribe node='{esc(node)}' jid='{esc(jid)}'/>{opts}"))


def subscribe_ok(client: Client, node: str, jid: Optional[str] = None,
                 options: Optional[dict] = None,
                 state: str = "subscribed") -> ET.Element:
    """Subscribe, require a result in `state`; returns <subscription/>."""
    reply = subscribe(client, node, jid, options)
    if reply.get("type") != "result":
        raise IqError(reply)
    sub = pubsub_child(reply, "subscription")
    assert sub.get("node") == node and sub.get("jid") == (jid or client.bare_jid), \
        tostring(reply)
    assert sub.get("subscription") == state, tostring(reply)
    return sub


def unsubscribe(client: Client, node: str, jid: Optional[str] = None,
                subid: Optional[str] = None) -> ET.Element:
    return client.iq(pubsub_iq(
        f"<unsubscribe{attrs(node=node, jid=jid or client.bare_jid, subid=subid)}/>"))


def options_get(client: Client, node: str, subid: Optional[str] = None,
                jid: Optional[str] = None) -> ET.Element:
    return client.iq(pubsub_iq(
        f"<options{attrs(node=node, jid=jid or client.bare_jid, subid=subid)}/>", "get"))


def options_set(client: Client, node: str, fields: dict, subid: Optional[str] = None,
                jid: Optional[str] = None) -> ET.Element:
    return client.iq(pubsub_iq(
        f"<options{attrs(node=node, jid=jid or client.bare_jid, subid=subid)}>"
        f"{form(SUBSCRIBE_OPTIONS, fields)}</options>"))


# --- retrieving -------------------------------------------------------------

def get_items(client: Client, node: str, ids: Sequence[str] = (),
              max_items: Optional[int] = None) -> ET.Element:
    items = "".join(f"<item id='{esc(i)}'/>" for i in ids)
    mx = None if max_items is None else str(max_items)
    return client.iq(pubsub_iq(f"<items{attrs(node=node, max_items=mx)}>{items}</items>",
                               "get"))


def item_ids(reply: ET.Element) -> list[str]:
    """IDs of the <item/>s in an items result, in document order."""
    return [i.get("id") for i in pubsub_child(assert_result(reply), "items")
            .findall("ps:item", NS)]


def items_ok(client: Client, node: str, ids: Sequence[str] = (),
             max_items: Optional[int] = None) -> list[ET.Element]:
    reply = assert_result(get_items(client, node, ids, max_items))
    items = pubsub_child(reply, "items")
    assert items.get("node") == node, tostring(reply)
    return items.findall("ps:item", NS)


def payload_title(item: ET.Element) -> Optional[str]:
    return item.findtext(f"{{{PAYLOAD_NS}}}entry/{{{PAYLOAD_NS}}}title")
