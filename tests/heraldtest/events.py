"""XEP-0060 notifications: named matchers for Client.wait_for, and helpers
to read or rule out events.

    wait_event(bob, items_event(node))
    wait_event(bob, items_event(node, lambda items: ...))   # where= on <items/>
    wait_event(bob, purge_event(node), timeout=10)
    assert_no_event(carol, node)

A matcher accepts a <message/> from SERVICE whose <event/> holds a child of
its kind (items, subscription, configuration, delete, purge) for the node,
optionally also satisfying where(child).
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Callable, Optional

from heraldtest.client import Client
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS, local, tostring

Matcher = Callable[[ET.Element], bool]
Where = Optional[Callable[[ET.Element], bool]]

# How long a test waits to be sure that something does NOT arrive. Where a
# later event can serve as a sentinel, tests wait for that instead.
QUIET = 1.0


def event_of(msg: ET.Element) -> Optional[ET.Element]:
    """The <event/> of a notification message, or None."""
    return msg.find("pse:event", NS)


def _event_matcher(kind: str, node: str, where: Where, service: str = SERVICE) -> Matcher:
    def match(msg: ET.Element) -> bool:
        if local(msg) != "message" or msg.get("from") != service:
            return False
        ev = event_of(msg)
        if ev is None:
            return False
        return any(local(c) == kind and c.get("node") == node
                   and (where is None or where(c)) for c in ev)
    return match


def items_event(node: str, where: Where = None, service: str = SERVICE) -> Matcher:
    """An <items/> notification (published or retracted items), from
    `service` (Herald's JID in the sandbox unless a test runs another)."""
    return _event_matcher("items", node, where, service)


def subscription_event(node: str, where: Where = None) -> Matcher:
    return _event_matcher("subscription", node, where)


def configuration_event(node: str, where: Where = None) -> Matcher:
    return _event_matcher("configuration", node, where)


def delete_event(node: str, where: Where = None) -> Matcher:
    return _event_matcher("delete", node, where)


def purge_event(node: str, where: Where = None) -> Matcher:
    return _event_matcher("purge", node, where)


def item_event(node: str, item_id: str) -> Matcher:
    """An <items/> notification carrying item_id."""
    return items_event(node, lambda ch: any(i.get("id") == item_id
                                            for i in ch.findall("pse:item", NS)))


def wait_event(client: Client, matcher: Matcher, timeout: float = 5.0) -> ET.Element:
    """The next notification (buffered or arriving) that matcher accepts."""
    return client.wait_for(matcher, timeout)


def wait_item(client: Client, node: str, item_id: str, timeout: float = 5.0) -> ET.Element:
    """The next items notification carrying item_id; returns the message."""
    return wait_event(client, item_event(node, item_id), timeout)


def event_child(msg: ET.Element, kind: str, node: str) -> Optional[ET.Element]:
    """The first <event/> child of kind ('items', 'purge', ...), if it is for node."""
    if local(msg) != "message":
        return None
    ev = event_of(msg)
    if ev is None:
        return None
    child = ev.find(f"pse:{kind}", NS)
    if child is None or child.get("node") != node:
        return None
    return child


def event_items(msg: ET.Element) -> ET.Element:
    """<event><items/></event> of a notification (asserts it is there)."""
    el = msg.find("pse:event/pse:items", NS)
    assert el is not None, tostring(msg)
    return el


def item_event_ids(msg: ET.Element, node: str) -> list[str]:
    """IDs of the published items in an items notification for node."""
    child = event_child(msg, "items", node)
    return [] if child is None else [i.get("id") for i in child.findall("pse:item", NS)]


def assert_no_event(client: Client, node: str, wait: float = QUIET) -> None:
    """Nothing about `node` arrives within `wait` seconds."""
    deadline = time.monotonic() + wait
    msgs = client.messages(max(0.0, deadline - time.monotonic()))
    about = [m for m in msgs if event_of(m) is not None
             and any(c.get("node") == node for c in event_of(m))]
    assert not about, f"unexpected notifications: {[tostring(m) for m in about]}"


def _about(msg: ET.Element, node: str) -> bool:
    if local(msg) != "message":
        return False
    ev = event_of(msg)
    if ev is not None:
        return any(ch.get("node") == node for ch in ev)
    ps = msg.find("ps:pubsub", NS)
    return ps is not None and any(ch.get("node") == node for ch in ps)


def events_for(client: Client, node: str, wait: float = QUIET) -> list[ET.Element]:
    """Every buffered or arriving message about node within `wait` seconds
    (removed from the buffer); other stanzas stay buffered."""
    deadline = time.monotonic() + wait
    found = []
    while True:
        try:
            found.append(client.wait_for(lambda m: _about(m, node),
                                         max(0.0, deadline - time.monotonic())))
        except TimeoutError:
            return found


def shim_subids(msg: ET.Element) -> list[str]:
    """The SubID headers (XEP-0060 §12.8) of a notification."""
    return [h.text or "" for h in msg.findall("shim:headers/shim:header", NS)
            if h.get("name") == "SubID"]


def message_type(msg: ET.Element) -> str:
    """A message's type; absent means normal (RFC 6121 §5.2.2)."""
    return msg.get("type", "normal")


def sync(client: Client) -> None:
    """Round-trip a ping to the service: everything the service sent this
    client before it answered is now buffered (one component link orders
    its output; ejabberd keeps per-sender order)."""
    client.iq_ok(f"<iq type='get' to='{SERVICE}'><ping xmlns='urn:xmpp:ping'/></iq>")


def items_in(messages) -> list[ET.Element]:
    """Every published <item/> of the items notifications among messages."""
    out: list[ET.Element] = []
    for m in messages:
        out += m.findall("pse:event/pse:items/pse:item", NS)
    return out
