"""The test-client package itself (no server): the one escaping function is
right for both quote styles and in text, the one form builder writes what
XEP-0004 says, and the named event matchers tell kinds and nodes apart."""

import xml.etree.ElementTree as ET

from heraldtest.events import delete_event, item_event, items_event, purge_event
from heraldtest.forms import NODE_CONFIG, form, form_values
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS_PUBSUB_EVENT, esc, parse

NASTY = "a&b<c>d\"e'f\ng\rh\ti"


def test_esc_round_trips_in_both_quote_styles_and_in_text():
    for quote in ("'", '"'):
        el = ET.fromstring(f"<x a={quote}{esc(NASTY)}{quote}>{esc(NASTY)}</x>")
        assert el.get("a") == NASTY
        assert el.text == NASTY


def test_form_writes_form_type_first_and_one_value_per_list_entry():
    x = parse(form(NODE_CONFIG, {"pubsub#title": NASTY, "pubsub#deliver_payloads": False,
                                 "pubsub#children": ["a", "b"], "pubsub#max_items": 5}))
    assert x.get("type") == "submit"
    assert [f.get("var") for f in x][0] == "FORM_TYPE"
    assert x[0].get("type") == "hidden"
    assert form_values(x) == {"FORM_TYPE": [NODE_CONFIG], "pubsub#title": [NASTY],
                              "pubsub#deliver_payloads": ["false"],
                              "pubsub#children": ["a", "b"], "pubsub#max_items": ["5"]}
    assert "FORM_TYPE" not in form_values(parse(form(None, {"a": "1"})))


def _event(kind: str, node: str, sender: str = SERVICE, item: str = "") -> ET.Element:
    inner = f"<item id='{item}'/>" if item else ""
    return parse(f"<message from='{sender}'><event xmlns='{NS_PUBSUB_EVENT}'>"
                 f"<{kind} node='{node}'>{inner}</{kind}></event></message>")


def test_named_matchers_check_kind_node_and_sender():
    msg = _event("items", "n1", item="i1")
    assert items_event("n1")(msg)
    assert item_event("n1", "i1")(msg) and not item_event("n1", "i2")(msg)
    assert not items_event("n2")(msg)
    assert not purge_event("n1")(msg)
    assert purge_event("n1")(_event("purge", "n1"))
    assert not delete_event("n1")(_event("delete", "n1", sender="pubsub.localhost"))
