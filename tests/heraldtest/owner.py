"""Helpers for the XEP-0060 owner integration tests (test_pubsub_owner*.py).

Every helper takes a logged-in heraldtest.client.Client and builds the request
XML by hand, exactly as a client would send it to events.localhost through
ejabberd. Replies are returned as ElementTree elements; the *_ok variants
raise IqError unless the reply is a result.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Optional

from heraldtest.client import Client, IqError
from heraldtest.forms import META_DATA, NODE_CONFIG, field, form, form_values
from heraldtest.replies import assert_result
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS, NS_DATA, NS_DISCO_INFO, NS_PUBSUB, NS_PUBSUB_OWNER, esc, tostring

PAYLOAD_NS = "urn:example:herald:owner-tests"


# --- XML building --------------------------------------------------------

def iq(type_: str, ns: str, body: str) -> str:
    return f"<iq type='{type_}' to='{SERVICE}'><pubsub xmlns='{ns}'>{body}</pubsub></iq>"


def node_attr(node: Optional[str]) -> str:
    return "" if node is None else f" node='{esc(node)}'"


def payload(text: str = "x") -> str:
    return f"<entry xmlns='{PAYLOAD_NS}'>{esc(text)}</entry>"


# --- §8.1-8.5 owner requests ------------------------------------------------

def create(c: Client, node: Optional[str], config: Optional[dict] = None,
           raw_config: Optional[str] = None) -> ET.Element:
    """§8.1 create (node=None: instant node), with an optional configure form."""
    body = f"<create{node_attr(node)}/>"
    if raw_config is not None:
        body += f"<configure>{raw_config}</configure>"
    elif config is not None:
        body += f"<configure>{form(NODE_CONFIG, config)}</configure>"
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
                   f"<configure{node_attr(node)}>{form(form_type, fields)}</configure>"))


def configure_cancel(c: Client, node: str) -> ET.Element:
    return c.iq(iq("set", NS_PUBSUB_OWNER, f"<configure{node_attr(node)}>"
                   f"<x xmlns='{NS_DATA}' type='cancel'/></configure>"))


def form_of(reply: ET.Element, path: str) -> ET.Element:
    x = reply.find(path, NS)
    assert x is not None, f"no form at {path}: {tostring(reply)}"
    return x


def config_of(c: Client, node: str) -> dict[str, list[str]]:
    """The node's configuration form fields (asserts the FORM_TYPE)."""
    reply = assert_result(configure_get(c, node))
    x = form_of(reply, "pso:pubsub/pso:configure/x:x")
    fields = form_values(x)
    assert field(fields, "FORM_TYPE") == NODE_CONFIG, tostring(x)
    return fields


def configure_ok(c: Client, node: str, fields: dict) -> None:
    assert_result(configure_set(c, node, fields))


def default_config(c: Client) -> ET.Element:
    return c.iq(iq("get", NS_PUBSUB_OWNER, "<default/>"))


def delete(c: Client, node: str, redirect: Optional[str] = None) -> ET.Element:
    inner = f"<redirect uri='{esc(redirect)}'/>" if redirect else ""
    return c.iq(iq("set", NS_PUBSUB_OWNER, f"<delete{node_attr(node)}>{inner}</delete>"))


def purge(c: Client, node: str) -> ET.Element:
    return c.iq(iq("set", NS_PUBSUB_OWNER, f"<purge{node_attr(node)}/>"))


# --- §8.8 / §8.9 ---------------------------------------------------------------

def subscriptions_get(c: Client, node: str) -> ET.Element:
    return c.iq(iq("get", NS_PUBSUB_OWNER, f"<subscriptions{node_attr(node)}/>"))


def subscriptions_set(c: Client, node: str, changes: list[tuple[str, str]]) -> ET.Element:
    subs = "".join(f"<subscription jid='{esc(j)}' subscription='{esc(s)}'/>"
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
    affs = "".join(f"<affiliation jid='{esc(j)}' affiliation='{esc(a)}'/>"
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
    id_attr = "" if item_id is None else f" id='{esc(item_id)}'"
    return c.iq(iq("set", NS_PUBSUB,
                   f"<publish{node_attr(node)}><item{id_attr}>{payload(text)}</item></publish>"))


def publish_ok(c: Client, node: str, item_id: Optional[str] = None, text: str = "x") -> str:
    reply = assert_result(publish(c, node, item_id, text))
    item = reply.find("ps:pubsub/ps:publish/ps:item", NS)
    return item.get("id") if item is not None else item_id


def retract(c: Client, node: str, item_id: str) -> ET.Element:
    return c.iq(iq("set", NS_PUBSUB, f"<retract{node_attr(node)}>"
                   f"<item id='{esc(item_id)}'/></retract>"))


def subscribe(c: Client, node: str, jid: Optional[str] = None) -> ET.Element:
    return c.iq(iq("set", NS_PUBSUB,
                   f"<subscribe{node_attr(node)} jid='{esc(jid or c.bare_jid)}'/>"))


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
        fields = form_values(x)
        if field(fields, "FORM_TYPE") == META_DATA:
            return fields
    raise AssertionError(f"no meta-data form: {tostring(reply)}")
