"""Helpers for the MUC relay and chat command tests: joining rooms,
publishing, reading groupchat and chat bodies."""

from __future__ import annotations

import time
from typing import Optional

from heraldtest.client import Client
from heraldtest.forms import MUC_ROOMCONFIG, form
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS, NS_MUC, NS_MUC_OWNER, NS_PUBSUB, NS_ITEM, esc, local, tostring


def join_room(c: Client, room: str, nick: str, timeout: float = 10) -> None:
    """Enter (creating if needed) a room and wait for our own presence."""
    c.send_raw(f"<presence to='{esc(room)}/{esc(nick)}'><x xmlns='{NS_MUC}'>"
               f"<history maxstanzas='0'/></x></presence>")
    c.wait_for(lambda s: local(s) == "presence" and s.get("from") == f"{room}/{nick}"
               and s.get("type") is None, timeout)


def make_persistent(c: Client, room: str) -> None:
    """Owner configuration (XEP-0045 §10.2): the room survives restarts."""
    config = form(MUC_ROOMCONFIG, {"muc#roomconfig_persistentroom": "1"})
    c.iq_ok(f"<iq type='set' to='{esc(room)}'><query xmlns='{NS_MUC_OWNER}'>"
            f"{config}</query></iq>")


def destroy_room(c: Client, room: str) -> None:
    c.iq(f"<iq type='set' to='{esc(room)}'><query xmlns='{NS_MUC_OWNER}'>"
         "<destroy/></query></iq>")


def wait_occupant(c: Client, room: str, nick: str, timeout: float = 15) -> None:
    """Wait until `nick` is present in the room (as seen by c)."""
    c.wait_for(lambda s: local(s) == "presence" and s.get("from") == f"{room}/{nick}"
               and s.get("type") is None, timeout)


def publish(c: Client, node: str, payload: str, item_id: Optional[str] = None) -> None:
    idattr = f" id='{esc(item_id)}'" if item_id else ""
    c.iq_ok(f"<iq type='set' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
            f"<publish node='{esc(node)}'><item{idattr}>{payload}</item></publish>"
            "</pubsub></iq>")


def body(s) -> Optional[str]:
    return s.findtext("c:body", namespaces=NS)


def groupchat_from(c: Client, room: str, nick: str, timeout: float,
                   expect: Optional[int] = None) -> list:
    """Groupchat messages from room/nick arriving within timeout (stops
    early once `expect` have arrived)."""
    got, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline and (expect is None or len(got) < expect):
        for m in c.messages(timeout=0.2):
            if m.get("type") == "groupchat" and m.get("from") == f"{room}/{nick}" \
                    and body(m) is not None:
                got.append(m)
    return got


def chat_from_herald(c: Client, timeout: float, expect: Optional[int] = None) -> list:
    got, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline and (expect is None or len(got) < expect):
        for m in c.messages(timeout=0.2):
            if m.get("type") == "chat" and m.get("from", "").split("/")[0] == SERVICE:
                got.append(m)
    return got


def command(c: Client, text: str, timeout: float = 10) -> str:
    """Send a chat command to Herald and return the answer's body."""
    c.send_raw(f"<message type='chat' to='{SERVICE}'><body>{esc(text)}</body></message>")
    m = c.wait_for(lambda s: local(s) == "message" and s.get("type") == "chat"
                   and s.get("from", "").split("/")[0] == SERVICE
                   and s.find(f"{{{NS_ITEM}}}item") is None, timeout)
    return body(m) or tostring(m)
