"""Shared helpers for the XEP-0060 integration tests: build pubsub requests
as raw XML, send them with an xmppclient.Client, and check the replies and
notifications the way a client would see them through ejabberd.

    create_node(alice, node, {"pubsub#access_model": "whitelist"})
    publish(alice, node, [("i1", entry("hello"))])
    subscribe(bob, node)                  # -> the <subscription/> element
    msg = wait_event(bob, node, "items")  # a pubsub#event notification
    assert_error(reply, "cancel", "item-not-found")
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Iterable, Optional, Sequence, Union

from xmppclient import (NS, NS_DATA, NS_PUBSUB, NS_PUBSUB_OWNER,
                        Client, IqError, _attr_escape, _text_escape,
                        error_condition, local, tostring)

SERVICE = "events.localhost"
NS_PUBSUB_ERRORS = "http://jabber.org/protocol/pubsub#errors"
NODE_CONFIG = "http://jabber.org/protocol/pubsub#node_config"
SUBSCRIBE_OPTIONS = "http://jabber.org/protocol/pubsub#subscribe_options"
PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options"
SUBSCRIBE_AUTHORIZATION = "http://jabber.org/protocol/pubsub#subscribe_authorization"
PAYLOAD_NS = "urn:example:herald:test"

FieldValue = Union[str, bool, int, Sequence[str]]


# --- building requests -------------------------------------------------------

def a(value: str) -> str:
    """Escape for a single-quoted attribute."""
    return _attr_escape(value).replace("'", "&apos;")


def pubsub_iq(inner: str, type_: str = "set", ns: str = NS_PUBSUB,
              to: str = SERVICE) -> str:
    return f"<iq type='{type_}' to='{a(to)}'><pubsub xmlns='{ns}'>{inner}</pubsub></iq>"


def _values(value: FieldValue) -> list[str]:
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def form(form_type: Optional[str], fields: dict, type_: str = "submit") -> str:
    """A jabber:x:data form; a bool becomes true/false, a list several values."""
    out = [f"<x xmlns='{NS_DATA}' type='{type_}'>"]
    if form_type:
        out.append(f"<field var='FORM_TYPE' type='hidden'><value>{form_type}</value></field>")
    for var, value in fields.items():
        vals = "".join(f"<value>{_text_escape(v)}</value>" for v in _values(value))
        out.append(f"<field var='{a(var)}'>{vals}</field>")
    out.append("</x>")
    return "".join(out)


def entry(text: str, ns: str = PAYLOAD_NS) -> str:
    """A small payload element (like the XEP's Atom entries)."""
    return f"<entry xmlns='{ns}'><title>{_text_escape(text)}</title></entry>"


def attrs(**kw: Optional[str]) -> str:
    return "".join(f" {k}='{a(v)}'" for k, v in kw.items() if v is not None)


# --- checking replies -------------------------------------------------------

def assert_result(reply: ET.Element) -> ET.Element:
    assert reply.get("type") == "result", f"expected a result, got {tostring(reply)}"
    return reply


def assert_error(reply: ET.Element, type_: str, condition: str,
                 app: Optional[str] = None) -> None:
    """The reply is an error with exactly this type, defined condition and
    pubsub#errors application condition (None = there must be none)."""
    assert reply.get("type") == "error", f"expected an error, got {tostring(reply)}"
    got = error_condition(reply)
    assert got == (type_, condition, app), f"expected {(type_, condition, app)}, got {got}: " \
                                           f"{tostring(reply)}"
    if app is not None:
        err = next(c for c in reply if local(c) == "error")
        app_el = next(c for c in err if local(c) == app)
        assert app_el.tag == f"{{{NS_PUBSUB_ERRORS}}}{app}", tostring(reply)


def pubsub_child(reply: ET.Element, name: str, ns: str = NS_PUBSUB) -> ET.Element:
    el = reply.find(f"{{{ns}}}pubsub/{{{ns}}}{name}")
    assert el is not None, f"no <pubsub><{name}/> in {tostring(reply)}"
    return el


def form_values(x: ET.Element) -> dict[str, list[str]]:
    """var -> values of a data form element."""
    return {f.get("var"): [v.text or "" for v in f.findall("x:value", NS)]
            for f in x.findall("x:field", NS)}


# --- owner operations -------------------------------------------------------

def create_node(client: Client, node: str, config: Optional[dict] = None) -> ET.Element:
    configure = f"<configure>{form(NODE_CONFIG, config)}</configure>" if config else ""
    return client.iq_ok(pubsub_iq(f"<create node='{a(node)}'/>{configure}"))


def set_affiliations(owner: Client, node: str, affiliations: dict[str, str]) -> ET.Element:
    items = "".join(f"<affiliation jid='{a(j)}' affiliation='{a(aff)}'/>"
                    for j, aff in affiliations.items())
    return owner.iq_ok(pubsub_iq(f"<affiliations node='{a(node)}'>{items}</affiliations>",
                                 ns=NS_PUBSUB_OWNER))


# --- publishing --------------------------------------------------------------

Item = tuple[Optional[str], Optional[str]]   # (id or None, payload XML or None)


def publish_iq(node: str, items: Iterable[Item], options: Optional[dict] = None) -> str:
    body = "".join(f"<item{attrs(id=i)}>{p or ''}</item>" if (i or p) else "<item/>"
                   for i, p in items)
    opts = f"<publish-options>{form(PUBLISH_OPTIONS, options)}</publish-options>" \
        if options is not None else ""
    return pubsub_iq(f"<publish node='{a(node)}'>{body}</publish>{opts}")


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
                               f"<item id='{a(item_id)}'/></retract>"))


# --- subscribing -------------------------------------------------------------

def subscribe(client: Client, node: str, jid: Optional[str] = None,
              options: Optional[dict] = None) -> ET.Element:
    """Subscribe (jid defaults to the client's bare JID); returns the reply."""
    jid = jid or client.bare_jid
    opts = f"<options>{form(SUBSCRIBE_OPTIONS, options)}</options>" if options else ""
    return client.iq(pubsub_iq(f"<subscribe node='{a(node)}' jid='{a(jid)}'/>{opts}"))


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
    items = "".join(f"<item id='{a(i)}'/>" for i in ids)
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


# --- notifications ----------------------------------------------------------

def event_of(msg: ET.Element) -> Optional[ET.Element]:
    return msg.find("pse:event", NS)


def is_event(node: str, kind: str = "items"):
    """Predicate: a message from the service whose <event/> holds <kind node=node>."""
    def match(s: ET.Element) -> bool:
        if local(s) != "message" or s.get("from") != SERVICE:
            return False
        ev = event_of(s)
        if ev is None:
            return False
        return any(local(c) == kind and c.get("node") == node for c in ev)
    return match


def wait_event(client: Client, node: str, kind: str = "items",
               timeout: float = 5.0) -> ET.Element:
    """The next notification about `node` with an <event><kind/></event>."""
    return client.wait_for(is_event(node, kind), timeout)


def event_items(msg: ET.Element) -> ET.Element:
    el = msg.find("pse:event/pse:items", NS)
    assert el is not None, tostring(msg)
    return el


def assert_no_event(client: Client, node: str, wait: float = 1.0) -> None:
    """Nothing about `node` arrives within `wait` seconds."""
    deadline = time.monotonic() + wait
    msgs = client.messages(max(0.0, deadline - time.monotonic()))
    about = [m for m in msgs if event_of(m) is not None
             and any(c.get("node") == node for c in event_of(m))]
    assert not about, f"unexpected notifications: {[tostring(m) for m in about]}"


def shim_subids(msg: ET.Element) -> list[str]:
    return [h.text or "" for h in msg.findall("shim:headers/shim:header", NS)
            if h.get("name") == "SubID"]


def sync(client: Client) -> None:
    """Round-trip a ping to the service: everything the service sent this
    client before it answered is now buffered (one component link orders
    its output; ejabberd keeps per-sender order)."""
    client.iq_ok(f"<iq type='get' to='{SERVICE}'><ping xmlns='urn:xmpp:ping'/></iq>")
