"""Helpers for the MUC relay and chat command tests: joining rooms,
publishing, reading groupchat and chat bodies."""

from __future__ import annotations

import time
from typing import Optional

from xmppclient import NS, NS_PUBSUB, Client, local, tostring

NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"
NS_MUC_OWNER = "http://jabber.org/protocol/muc#owner"
NS_ITEM = "urn:herald:item:0"
COMPONENT = "events.localhost"


def join_room(c: Client, room: str, nick: str, timeout: float = 10) -> None:
    """Enter (creating if needed) a room and wait for our own presence."""
    c.send_raw(f"<presence to='{room}/{nick}'><x xmlns='{NS_MUC}'>"
               f"<history maxstanzas='0'/></x></presence>")
    c.wait_for(lambda s: local(s) == "presence" and s.get("from") == f"{room}/{nick}"
               and s.get("type") is None, timeout)


def make_persistent(c: Client, room: str) -> None:
    """Owner configuration (XEP-0045 §10.2): the room survives restarts."""
    c.iq_ok(f"<iq type='set' to='{room}'><query xmlns='{NS_MUC_OWNER}'>"
            "<x xmlns='jabber:x:data' type='submit'>"
            "<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>"
            "<field var='muc#roomconfig_persistentroom'><value>1</value></field>"
            "</x></query></iq>")


def destroy_room(c: Client, room: str) -> None:
    c.iq(f"<iq type='set' to='{room}'><query xmlns='{NS_MUC_OWNER}'>"
         "<destroy/></query></iq>")


def wait_occupant(c: Client, room: str, nick: str, timeout: float = 15) -> None:
    """Wait until `nick` is present in the room (as seen by c)."""
    c.wait_for(lambda s: local(s) == "presence" and s.get("from") == f"{room}/{nick}"
               and s.get("type") is None, timeout)


def publish(c: Client, node: str, payload: str, item_id: Optional[str] = None) -> None:
    idattr = f" id='{item_id}'" if item_id else ""
    c.iq_ok(f"<iq type='set' to='{COMPONENT}'><pubsub xmlns='{NS_PUBSUB}'>"
            f"<publish node='{node}'><item{idattr}>{payload}</item></publish>"
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
            if m.get("type") == "chat" and m.get("from", "").split("/")[0] == COMPONENT:
                got.append(m)
    return got


def command(c: Client, text: str, timeout: float = 10) -> str:
    """Send a chat command to Herald and return the answer's body."""
    c.send_raw(f"<message type='chat' to='{COMPONENT}'><body>{text}</body></message>")
    m = c.wait_for(lambda s: local(s) == "message" and s.get("type") == "chat"
                   and s.get("from", "").split("/")[0] == COMPONENT
                   and s.find(f"{{{NS_ITEM}}}item") is None, timeout)
    return body(m) or tostring(m)
