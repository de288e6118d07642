"""Helpers for the XEP-0060 owner integration tests (test_pubsub_owner*.py).

Every helper takes a logged-in xmppclient.Client and builds the request
XML by hand, exactly as a client would send it to events.localhost through
ejabberd. Replies are returned as ElementTree elements; the *_ok variants
raise IqError unless the reply is a result.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Callable, Iterable, Optional, Union

from xmppclient import (NS, NS_DATA, NS_PUBSUB, NS_PUBSUB_ERRORS,
                        NS_PUBSUB_OWNER, Client, IqError, _attr_escape, _text_escape,
                        error_condition, local, tostring)

SERVICE = "events.localhost"
NODE_CONFIG = "http://jabber.org/protocol/pubsub#node_config"
META_DATA = "http://jabber.org/protocol/pubsub#meta-data"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
PAYLOAD_NS = "urn:example:herald:owner-tests"
# How long a test waits to be sure that something does NOT arrive. Where a
# later event can serve as a sentinel, tests wait for that instead.
QUIET = 1.0

FieldValue = Union[str, bool, int, Iterable[str]]


# --- XML building --------------------------------------------------------

def _values(value: FieldValue) -> list[str]:
    if isinstance(value, bool):
        return ["1" if value else "0"]
    if isinstance(value, (str, int)):
        return [str(value)]
    return [str(v) for v in value]


def form(fields: dict[str, FieldValue], form_type: Optional[str] = NODE_CONFIG,
         type_: str = "submit") -> str:
    """A jabber:x:data form as XML text."""
    out = [f"<x xmlns='{NS_DATA}' type='{type_}'>"]
    if form_type is not None:
        out.append(f"<field var='FORM_TYPE' type='hidden'><value>{form_type}</value></field>")
    for var, value in fields.items():
        vals = "".join(f"<value>{_text_escape(v)}</value>" for v in _values(value))
        out.append(f"<field var='{_attr_escape(var)}'>{vals}</field>")
    out.append("</x>")
    return "".join(out)


def iq(type_: str, ns: str, body: str) -> str:
    return f"<iq type='{type_}' to='{SERVICE}'><pubsub xmlns='{ns}'>{body}</pubsub></iq>"


def node_attr(node: Optional[str]) -> str:
    return "" if node is None else f" node='{_attr_escape(node)}'"


def payload(text: str = "x") -> str:
    return f"<entry xmlns='{PAYLOAD_NS}'>{_text_escape(text)}</entry>"


# --- assertions ------------------------------------------------------------

def assert_result(reply: ET.Element) -> ET.Element:
    assert reply.get("type") == "result", tostring(reply)
    return reply


def assert_error(reply: ET.Element, type_: str, condition: str,
                 app: Optional[str] = None) -> None:
    """The reply is an error with exactly this type, defined condition and
    pubsub#errors application condition (None = must have none)."""
    assert reply.get("type") == "error", tostring(reply)
    assert error_condition(reply) == (type_, condition, app), tostring(reply)
    if app is not None:
        err = reply.find("c:error", NS)
        assert err.find(f"{{{NS_PUBSUB_ERRORS}}}{app}") is not None, tostring(reply)


# --- §8.1-8.5 owner requests ------------------------------------------------

def create(c: Client, node: Optional[str], config: Optional[dict] = None,
           raw_config: Optional[str] = None) -> ET.Element:
    """§8.1 create (node=None: instant node), with an optional configure form."""
    body = f"<create{node_attr(node)}/>"
    if raw_config is not None:
        body += f"<configure>{raw_config}</configure>"
    elif config is not None:
        body += f"<configure>{form(config)}</configure>"
    return c.iq(iq("set", NS_PUBSUB, body))


def create_ok(c: Client, node: Optional[str], config: Optional[dict] = None) -> str:
    """Create and return the node's name (from the reply if it names one)."""
    reply = create(c, node, config)
    if reply.get("type") != "result":
        raise IqError(reply)
    el = reply.find("ps:pubsub/ps:create", NS)
    return el.get("node") if el is not None and el.get("node") else node


def configure_get(c: Client, node: str) -> ET.Element:
    return c.iq(iq("get", NS_PUBSUB_OWNER, f"<configure{node_attr(node)}/>"))


def configure_set(c: Client, node: str, fields: dict,
                  form_type: Optional[str] = NODE_CONFIG) -> ET.Element:
    return c.iq(iq("set", NS_PUBSUB_OWNER,
                   f"<configure{node_attr(node)}>{form(fields, form_type)}</configure>"))


def configure_cancel(c: Client, node: str) -> ET.Element:
    return c.iq(iq("set", NS_PUBSUB_OWNER, f"<configure{node_attr(node)}>"
                   f"<x xmlns='{NS_DATA}' type='cancel'/></configure>"))


def form_of(reply: ET.Element, path: str) -> ET.Element:
    x = reply.find(path, NS)
    assert x is not None, f"no form at {path}: {tostring(reply)}"
    return x


def fields_of(x: ET.Element) -> dict[str, list[str]]:
    """var -> values of a data form."""
    return {f.get("var"): [v.text or "" for v in f.findall("x:value", NS)]
            for f in x.findall("x:field", NS)}


def field(fields: dict[str, list[str]], var: str) -> Optional[str]:
    vals = fields.get(var)
    return vals[0] if vals else None


def config_of(c: Client, node: str) -> dict[str, list[str]]:
    """The node's configuration form fields (asserts the FORM_TYPE)."""
    reply = assert_result(configure_get(c, node))
    x = form_of(reply, "pso:pubsub/pso:configure/x:x")
    fields = fields_of(x)
    assert field(fields, "FORM_TYPE") == NODE_CONFIG, tostring(x)
    return fields


def configure_ok(c: Client, node: str, fields: dict) -> None:
    assert_result(configure_set(c, node, fields))


def default_config(c: Client) -> ET.Element:
    return c.iq(iq("get", NS_PUBSUB_OWNER, "<default/>"))


def delete(c: Client, node: str, redirect: Optional[str] = None) -> ET.Element:
    inner = f"<redirect uri='{_attr_escape(redirect)}'/>" if redirect else ""
    return c.iq(iq("set", NS_PUBSUB_OWNER, f"<delete{node_attr(node)}>{inner}</delete>"))


def purge(c: Client, node: str) -> ET.Element:
    return c.iq(iq("set", NS_PUBSUB_OWNER, f"<purge{node_attr(node)}/>"))


# --- §8.8 / §8.9 ---------------------------------------------------------------

def subscriptions_get(c: Client, node: str) -> ET.Element:
    return c.iq(iq("get", NS_PUBSUB_OWNER, f"<subscriptions{node_attr(node)}/>"))


def subscriptions_set(c: Client, node: str, changes: list[tuple[str, str]]) -> ET.Element:
    subs = "".join(f"<subscription jid='{_attr_escape(j)}' subscription='{s}'/>"
                   for j, s in changes)
    return c.iq(iq("set", NS_PUBSUB_OWNER, f"<subscriptions{node_attr(node)}>{subs}"
                   "</subscriptions>"))


def subscriptions_of(c: Client, node: str) -> dict[str, str]:
    """Owner view: bare-or-full JID -> subscription state."""
    reply = assert_result(subscriptions_get(c, node))
    subs = reply.find("pso:pubsub/pso:subscriptions", NS)
    assert subs is not None and subs.get("node") == node, tostring(reply)
    return {s.get("jid"): s.get("subscription") for s in subs.findall("pso:subscription", NS)}


def affiliations_get(c: Client, node: str) -> ET.Element:
    return c.iq(iq("get", NS_PUBSUB_OWNER, f"<affiliations{node_attr(node)}/>"))


def affiliations_set(c: Client, node: str, changes: list[tuple[str, str]]) -> ET.Element:
    affs = "".join(f"<affiliation jid='{_attr_escape(j)}' affiliation='{a}'/>"
                   for j, a in changes)
    return c.iq(iq("set", NS_PUBSUB_OWNER, f"<affiliations{node_attr(node)}>{affs}"
                   "</affiliations>"))


def affiliations_of(c: Client, node: str) -> dict[str, str]:
    reply = assert_result(affiliations_get(c, node))
    affs = reply.find("pso:pubsub/pso:affiliations", NS)
    assert affs is not None and affs.get("node") == node, tostring(reply)
    return {a.get("jid"): a.get("affiliation") for a in affs.findall("pso:affiliation", NS)}


def set_affiliation(c: Client, node: str, jid: str, affiliation: str) -> None:
    assert_result(affiliations_set(c, node, [(jid, affiliation)]))


# --- entity requests the owner scenarios need ------------------------------------

def publish(c: Client, node: str, item_id: Optional[str] = None,
            text: str = "x") -> ET.Element:
    id_attr = "" if item_id is None else f" id='{_attr_escape(item_id)}'"
    return c.iq(iq("set", NS_PUBSUB,
                   f"<publish{node_attr(node)}><item{id_attr}>{payload(text)}</item></publish>"))


def publish_ok(c: Client, node: str, item_id: Optional[str] = None, text: str = "x") -> str:
    reply = assert_result(publish(c, node, item_id, text))
    item = reply.find("ps:pubsub/ps:publish/ps:item", NS)
    return item.get("id") if item is not None else item_id


def retract(c: Client, node: str, item_id: str) -> ET.Element:
    return c.iq(iq("set", NS_PUBSUB, f"<retract{node_attr(node)}>"
                   f"<item id='{_attr_escape(item_id)}'/></retract>"))


def subscribe(c: Client, node: str, jid: Optional[str] = None) -> ET.Element:
    return c.iq(iq("set", NS_PUBSUB,
                   f"<subscribe{node_attr(node)} jid='{_attr_escape(jid or c.bare_jid)}'/>"))


def subscribe_ok(c: Client, node: str) -> str:
    reply = assert_result(subscribe(c, node))
    sub = reply.find("ps:pubsub/ps:subscription", NS)
    assert sub is not None and sub.get("subscription") == "subscribed", tostring(reply)
    return sub.get("subid")


def items(c: Client, node: str) -> ET.Element:
    return c.iq(iq("get", NS_PUBSUB, f"<items{node_attr(node)}/>"))


def item_ids(c: Client, node: str) -> list[str]:
    reply = assert_result(items(c, node))
    return [i.get("id") for i in reply.findall("ps:pubsub/ps:items/ps:item", NS)]


def own_subscriptions(c: Client, node: str) -> list[str]:
    """States of the client's own subscriptions to node (§5.6)."""
    reply = assert_result(c.iq(iq("get", NS_PUBSUB, f"<subscriptions{node_attr(node)}/>")))
    return [s.get("subscription")
            for s in reply.findall("ps:pubsub/ps:subscriptions/ps:subscription", NS)]


def disco_meta(c: Client, node: str) -> dict[str, list[str]]:
    reply = assert_result(c.disco_info(SERVICE, node))
    for x in reply.findall(f"{{{NS_DISCO_INFO}}}query/x:x", NS):
        fields = fields_of(x)
        if field(fields, "FORM_TYPE") == META_DATA:
            return fields
    raise AssertionError(f"no meta-data form: {tostring(reply)}")


# --- notifications ---------------------------------------------------------------

def event_child(msg: ET.Element, kind: str, node: str) -> Optional[ET.Element]:
    """The <event/> child of kind ('items', 'purge', ...) for node, if any."""
    if local(msg) != "message":
        return None
    ev = msg.find("pse:event", NS)
    if ev is None:
        return None
    child = ev.find(f"pse:{kind}", NS)
    if child is None or child.get("node") != node:
        return None
    return child


def is_event(kind: str, node: str, pred: Optional[Callable[[ET.Element], bool]] = None):
    def match(msg: ET.Element) -> bool:
        child = event_child(msg, kind, node)
        return child is not None and (pred is None or pred(child))
    return match


def wait_event(c: Client, kind: str, node: str,
               pred: Optional[Callable[[ET.Element], bool]] = None,
               timeout: float = 5.0) -> ET.Element:
    """The next notification message of this kind for node."""
    return c.wait_for(is_event(kind, node, pred), timeout)


def wait_item(c: Client, node: str, item_id: str, timeout: float = 5.0) -> ET.Element:
    """The next items notification carrying item_id; returns the message."""
    return wait_event(c, "items", node,
                      lambda ch: any(i.get("id") == item_id for i in ch.findall("pse:item", NS)),
                      timeout)


def events_for(c: Client, node: str, wait: float = QUIET) -> list[ET.Element]:
    """Every buffered or arriving message about node within `wait` seconds
    (removed from the buffer); other stanzas stay buffered."""
    deadline = time.monotonic() + wait
    found = []
    while True:
        try:
            found.append(c.wait_for(lambda m: _about(m, node),
                                    max(0.0, deadline - time.monotonic())))
        except TimeoutError:
            return found


def _about(msg: ET.Element, node: str) -> bool:
    if local(msg) != "message":
        return False
    ev = msg.find("pse:event", NS)
    if ev is not None:
        return any(ch.get("node") == node for ch in ev)
    ps = msg.find("ps:pubsub", NS)
    return ps is not None and any(ch.get("node") == node for ch in ps)


def message_type(msg: ET.Element) -> str:
    """A message's type; absent means normal (RFC 6121 §5.2.2)."""
    return msg.get("type", "normal")


def item_event_ids(msg: ET.Element, node: str) -> list[str]:
    child = event_child(msg, "items", node)
    return [] if child is None else [i.get("id") for i in child.findall("pse:item", NS)]
