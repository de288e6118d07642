"""XML for the Herald test clients: namespaces, building and serialising
ElementTree elements, reading errors, and the one escaping function, esc().

Tags are ElementTree qualified names ("{ns}local"). Elements built by hand
may leave the namespace off a child tag to inherit the parent's (see E()).
`tostring()` writes prefix-free XML with xmlns declarations only where the
namespace changes, as XMPP servers expect.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from typing import Optional, Union

NS_CLIENT = "jabber:client"
NS_STREAM = "http://etherx.jabber.org/streams"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_STREAMS_ERR = "urn:ietf:params:xml:ns:xmpp-streams"
NS_REGISTER = "jabber:iq:register"
NS_FEATURE_REGISTER = "http://jabber.org/features/iq-register"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_PUBSUB_EVENT = "http://jabber.org/protocol/pubsub#event"
NS_PUBSUB_OWNER = "http://jabber.org/protocol/pubsub#owner"
NS_PUBSUB_ERRORS = "http://jabber.org/protocol/pubsub#errors"
NS_DATA = "jabber:x:data"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_MAM = "urn:xmpp:mam:2"
NS_FORWARD = "urn:xmpp:forward:0"
NS_DELAY = "urn:xmpp:delay"
NS_SHIM = "http://jabber.org/protocol/shim"
NS_PING = "urn:xmpp:ping"
NS_XML = "http://www.w3.org/XML/1998/namespace"
NS_QUEUE = "urn:xmpp:pubsub:queueing:0"
NS_SID = "urn:xmpp:sid:0"
NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"
NS_MUC_OWNER = "http://jabber.org/protocol/muc#owner"
NS_ITEM = "urn:herald:item:0"

# Prefixes for ElementTree paths: el.find("ps:pubsub/ps:items", NS)
NS = {
    "c": NS_CLIENT, "stream": NS_STREAM, "sasl": NS_SASL, "bind": NS_BIND,
    "err": NS_STANZAS, "reg": NS_REGISTER, "disco": NS_DISCO_INFO,
    "items": NS_DISCO_ITEMS, "ps": NS_PUBSUB, "pse": NS_PUBSUB_EVENT,
    "pso": NS_PUBSUB_OWNER, "pserr": NS_PUBSUB_ERRORS, "x": NS_DATA,
    "rsm": NS_RSM, "mam": NS_MAM, "fwd": NS_FORWARD, "delay": NS_DELAY,
    "shim": NS_SHIM, "ping": NS_PING,
}


# --- element helpers -------------------------------------------------------

def qname(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def split_tag(tag: str) -> tuple[str, str]:
    """'{ns}local' -> ('ns', 'local'); 'local' -> ('', 'local')."""
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def local(tag_or_el: Union[str, ET.Element]) -> str:
    tag = tag_or_el if isinstance(tag_or_el, str) else tag_or_el.tag
    return split_tag(tag)[1]


def namespace(tag_or_el: Union[str, ET.Element]) -> str:
    tag = tag_or_el if isinstance(tag_or_el, str) else tag_or_el.tag
    return split_tag(tag)[0]


def E(tag: str, attrs: Optional[dict] = None, *children: ET.Element,
      text: Optional[str] = None) -> ET.Element:
    """Build an element. An unqualified tag inherits its parent's namespace
    when serialised; a top-level unqualified tag is jabber:client."""
    el = ET.Element(tag, {k: str(v) for k, v in (attrs or {}).items() if v is not None})
    el.extend(children)
    el.text = text
    return el


def parse(xml: str, default_ns: str = NS_CLIENT) -> ET.Element:
    """Parse one element; unprefixed tags without xmlns get default_ns."""
    wrapper = ET.fromstring(f'<wrapper xmlns="{esc(default_ns)}">{xml}</wrapper>')
    if len(wrapper) != 1:
        raise ValueError(f"expected exactly one element, got {len(wrapper)}")
    return wrapper[0]


_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                          "'": "&apos;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def esc(value: object) -> str:
    """The one escaping function: safe in text and in attributes quoted
    with either ' or ", and keeps newline, CR and tab exactly (in an
    attribute a parser would otherwise normalise them to spaces)."""
    return str(value).translate(_ESCAPES)


def tostring(el: ET.Element, parent_ns: str = NS_CLIENT) -> str:
    """Serialise prefix-free: xmlns='...' wherever the namespace changes."""
    out: list[str] = []
    _write(el, parent_ns, out)
    return "".join(out)


def _write(el: ET.Element, parent_ns: str, out: list[str]) -> None:
    ns, name = split_tag(el.tag)
    if not el.tag.startswith("{"):
        ns = parent_ns  # unqualified: inherit
    out.append("<" + name)
    if ns != parent_ns:
        out.append(f' xmlns="{esc(ns)}"')
    prefixes = itertools.count()
    for key, value in el.attrib.items():
        kns, kname = split_tag(key)
        if kns == NS_XML:
            key = "xml:" + kname
        elif kns:
            prefix = f"a{next(prefixes)}"
            out.append(f' xmlns:{prefix}="{esc(kns)}"')
            key = f"{prefix}:{kname}"
        out.append(f' {key}="{esc(str(value))}"')
    if el.text is None and len(el) == 0:
        out.append("/>")
    else:
        out.append(">")
        if el.text:
            out.append(esc(el.text))
        for child in el:
            _write(child, ns, out)
            if child.tail:
                out.append(esc(child.tail))
        out.append(f"</{name}>")


def error_condition(stanza: ET.Element) -> Optional[tuple[str, str, Optional[str]]]:
    """(type, defined-condition, app-specific condition or None) of a
    type='error' stanza, e.g. ('cancel', 'item-not-found', None) or
    ('modify', 'bad-request', 'invalid-subid'); None if no <error/>."""
    err = stanza.find("c:error", NS)
    if err is None:
        err = next((c for c in stanza if local(c) == "error"), None)
    if err is None:
        return None
    cond = app = None
    for child in err:
        cns, cname = split_tag(child.tag)
        if cns == NS_STANZAS and cname != "text":
            cond = cname
        elif cns != NS_STANZAS:
            app = cname
    return err.get("type", ""), cond or "", app


def is_iq_reply(stanza: ET.Element, iq_id: str) -> bool:
    return (local(stanza) == "iq" and stanza.get("id") == iq_id
            and stanza.get("type") in ("result", "error"))
