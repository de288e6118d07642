"""XEP-0004 data forms: the one form builder of the test clients, and
reading a form back.

    form(NODE_CONFIG, {"pubsub#max_items": 10, "pubsub#persist_items": True})
    form(None, {...})            # no FORM_TYPE field
    form_values(x)               # {"FORM_TYPE": [...], "pubsub#max_items": ["10"]}

Arguments are always (form_type, fields): form_type first, as in the XML.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Iterable, Optional, Union

from heraldtest.stanza import NS, NS_DATA, esc

NODE_CONFIG = "http://jabber.org/protocol/pubsub#node_config"
SUBSCRIBE_OPTIONS = "http://jabber.org/protocol/pubsub#subscribe_options"
PUBLISH_OPTIONS = "http://jabber.org/protocol/pubsub#publish-options"
SUBSCRIBE_AUTHORIZATION = "http://jabber.org/protocol/pubsub#subscribe_authorization"
META_DATA = "http://jabber.org/protocol/pubsub#meta-data"
MUC_ROOMCONFIG = "http://jabber.org/protocol/muc#roomconfig"

FieldValue = Union[str, bool, int, Iterable[str]]


def field_values(value: FieldValue) -> list[str]:
    """A field's <value/> texts: a bool is XEP-0004's canonical true/false
    (tests that want the 1/0 spelling pass the string), a list or tuple
    several values, anything else str()."""
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [str(v) for v in value]
    return [str(value)]


def form(form_type: Optional[str], fields: dict[str, FieldValue],
         type_: str = "submit") -> str:
    """A jabber:x:data form as XML text; form_type None leaves out the
    hidden FORM_TYPE field."""
    out = [f"<x xmlns='{NS_DATA}' type='{esc(type_)}'>"]
    if form_type is not None:
        out.append(f"<field var='FORM_TYPE' type='hidden'><value>{esc(form_type)}</value></field>")
    for var, value in fields.items():
        vals = "".join(f"<value>{esc(v)}</value>" for v in field_values(value))
        out.append(f"<field var='{esc(var)}'>{vals}</field>")
    out.append("</x>")
    return "".join(out)


def form_values(x: Optional[ET.Element]) -> dict[str, list[str]]:
    """var -> values of a data form element (FORM_TYPE included); {} for None."""
    if x is None:
        return {}
    return {f.get("var"): [v.text or "" for v in f.findall("x:value", NS)]
            for f in x.findall("x:field", NS) if f.get("var") is not None}


def field(fields: dict[str, list[str]], var: str) -> Optional[str]:
    """The first value of var in form_values() output, or None."""
    vals = fields.get(var)
    return vals[0] if vals else None
