"""Raw-XML helpers for catch-up: create/publish/retract, RSM pages of items
and XEP-0313 queries of a node's history (XEP-0442). Shared by
test_catchup.py and bench/catchup.py."""

from __future__ import annotations

import itertools
from typing import Optional

from heraldtest.client import Client, IqError
from heraldtest.forms import form
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import (NS_CLIENT, NS_FORWARD, NS_MAM, NS_PUBSUB, NS_PUBSUB_EVENT,
                               NS_RSM, NS_SID, esc, local, tostring)

_qids = itertools.count(1)


def create(c: Client, node: str, config: Optional[dict] = None, to: str = SERVICE) -> None:
    # No FORM_TYPE field: XEP-0004 lets a submitted form leave it out.
    conf = f"<configure>{form(None, config or {})}</configure>"
    c.iq_ok(f"<iq type='set' to='{to}'><pubsub xmlns='{NS_PUBSUB}'>"
            f"<create node='{esc(node)}'/>{conf}</pubsub></iq>")


def publish_xml(node: str, item_id: str, to: str = SERVICE, body: str = "") -> str:
    return (f"<iq type='set' to='{to}'><pubsub xmlns='{NS_PUBSUB}'>"
            f"<publish node='{esc(node)}'><item id='{esc(item_id)}'>"
            f"<ev xmlns='urn:example:platform' n='{esc(item_id)}'>{body}</ev>"
            f"</item></publish></pubsub></iq>")


def publish(c: Client, node: str, item_id: str, to: str = SERVICE) -> None:
    c.iq_ok(publish_xml(node, item_id, to))


def retract(c: Client, node: str, item_id: str) -> None:
    c.iq_ok(f"<iq type='set' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
            f"<retract node='{esc(node)}' notify='1'><item id='{esc(item_id)}'/>"
            f"</retract></pubsub></iq>")


def subscribe(c: Client, node: str, jid: str) -> None:
    c.iq_ok(f"<iq type='set' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
            f"<subscribe node='{esc(node)}' jid='{esc(jid)}'/></pubsub></iq>")


def items_page(c: Client, node: str, max_: int, after: Optional[str] = None,
               to: str = SERVICE, timeout: float = 30.0):
    """One RSM page: (item IDs, <set/> element or None). Raises IqError."""
    cursor = f"<after>{esc(after)}</after>" if after else ""
    reply = c.iq(f"<iq type='get' to='{to}'><pubsub xmlns='{NS_PUBSUB}'>"
                 f"<items node='{esc(node)}'/><set xmlns='{NS_RSM}'><max>{max_}</max>"
                 f"{cursor}</set></pubsub></iq>", timeout=timeout)
    if reply.get("type") != "result":
        raise IqError(reply)
    ids = [i.get("id") for i in reply.iter(f"{{{NS_PUBSUB}}}item")]
    return ids, reply.find(f"{{{NS_PUBSUB}}}pubsub/{{{NS_RSM}}}set")


def rsm_text(set_el, name: str) -> Optional[str]:
    if set_el is None:
        return None
    el = set_el.find(f"{{{NS_RSM}}}{name}")
    return None if el is None else el.text


def catch_up_rsm(c: Client, node: str, after: str, page: int) -> list[str]:
    """Every item after `after`, page by page (cursor = last item ID)."""
    out: list[str] = []
    while True:
        ids, set_el = items_page(c, node, page, after)
        out.extend(ids)
        if len(ids) < page:
            return out
        after = rsm_text(set_el, "last")


def mam_forwarded(c: Client, node: str, fields: Optional[dict] = None, rsm: str = "",
                  flip: bool = False):
    """One MAM query: ([(archive id, forwarded <items/>)], <fin/>). Raises
    IqError."""
    qid = f"q{next(_qids)}"
    query_form = form(NS_MAM, fields) if fields else ""
    rsm_el = f"<set xmlns='{NS_RSM}'>{rsm}</set>" if rsm else ""
    flip_el = "<flip-page/>" if flip else ""
    reply = c.iq(f"<iq type='set' to='{SERVICE}'><query xmlns='{NS_MAM}' queryid='{esc(qid)}' "
                 f"node='{esc(node)}'>{query_form}{rsm_el}{flip_el}</query></iq>")
    if reply.get("type") != "result":
        raise IqError(reply)
    results = []
    for m in c.messages(timeout=0.05):
        r = m.find(f"{{{NS_MAM}}}result")
        if r is None or r.get("queryid") != qid:
            continue
        fwd = r.find(f"{{{NS_FORWARD}}}forwarded/{{{NS_CLIENT}}}message")
        results.append((r.get("id"),
                        fwd.find(f"{{{NS_PUBSUB_EVENT}}}event/{{{NS_PUBSUB_EVENT}}}items")))
    return results, reply.find(f"{{{NS_MAM}}}fin")


def event_kind(items) -> str:
    """'item:ID' or 'retract:ID' of a forwarded <items/>'s first child."""
    child = list(items)[0]
    return f"{local(child)}:{child.get('id')}"


def mam_query(c: Client, node: str, fields: Optional[dict] = None, rsm: str = "",
              flip: bool = False):
    """One MAM query: ([(archive id, 'item:ID' | 'retract:ID', payload)], <fin/>).
    Raises IqError."""
    results, fin = mam_forwarded(c, node, fields, rsm, flip)
    out = []
    for archive_id, items in results:
        child = list(items)[0]
        out.append((archive_id, event_kind(items),
                    tostring(list(child)[0]) if len(child) else None))
    return out, fin


def stanza_id(message) -> Optional[str]:
    sid = message.find(f"{{{NS_SID}}}stanza-id")
    return None if sid is None else sid.get("id")


def event_item_ids(message) -> list[str]:
    return [i.get("id") for i in message.iter(f"{{{NS_PUBSUB_EVENT}}}item")]
