"""Checking IQ replies the way a client sees them through ejabberd."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Optional

from heraldtest.stanza import NS_PUBSUB, NS_PUBSUB_ERRORS, error_condition, local, tostring


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
    """<pubsub><name/></pubsub> of a reply (asserts it is there)."""
    el = reply.find(f"{{{ns}}}pubsub/{{{ns}}}{name}")
    assert el is not None, f"no <pubsub><{name}/> in {tostring(reply)}"
    return el
