"""Issue 16 (input side) and issue 11 (one name rule): no single input takes
Herald down. Hostile stanzas go through the real ejabberd c2s to Herald's
component link; hostile HTTP bodies go to Herald's ingest. Each test checks
that the sender is refused, that Herald is still alive, and that the
component link never dropped (herald_link_reconnects_total unchanged, a
subscriber keeps receiving).
"""

from __future__ import annotations

import re
import subprocess

import pytest

from heraldtest.entity import subscribe_ok
from heraldtest.events import items_in
from heraldtest.harness import Herald
from heraldtest.ingest import put, request, scrape
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS_PUBSUB, error_condition, is_iq_reply, local
from heraldtest.muc import command

TOKEN = "hostile-token-0123456789"
TOKENS = {"platform": {"token": TOKEN, "nodes": ["*"], "create": True}}
RECONNECTS = ("herald_link_reconnects_total", ())

# ejabberd 23.01 itself segfaults (the whole VM) on deep stanzas: at about
# 3,100 levels, and once at 2,500 under the fuzzer. 1,000 reaches Herald
# safely, is far past its link's 256-level cap, and overflowed the stack of
# the reader before that cap (a debug build from about 700 levels).
C2S_DEEP = 1_000


@pytest.fixture
def herald(herald_factory) -> Herald:
    return herald_factory(config={"http": {"tokens": TOKENS}})


def nested(depth: int, ns: str = "urn:deep") -> str:
    return f"<a xmlns='{ns}'>" + "<a>" * (depth - 1) + "</a>" * depth


def raw_iq(client, iq_id: str, raw: str, timeout: float = 20.0):
    """Sends `raw` as is (Python's own parser must not build it) and waits
    for the reply with `iq_id`."""
    client.send_raw(raw)
    return client._wait_raw(lambda s: is_iq_reply(s, iq_id), timeout)


def error_text(stanza) -> str:
    return " ".join(t.text or "" for t in stanza.iter() if local(t) == "text")


def items_of(client, node: str) -> list:
    reply = client.iq_ok(f"<iq type='get' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
                         f"<items node='{node}'/></pubsub></iq>")
    return [i.get("id") for i in reply.iter() if local(i) == "item"]


def link_still_carries(herald, subscriber, node: str, item_id: str) -> None:
    """An HTTP publish reaches the XMPP subscriber: the link is up."""
    assert put(herald, node, item_id, {"probe": item_id}, token=TOKEN)[0] == 201
    got = items_in(subscriber.messages(timeout=5))
    assert item_id in [i.get("id") for i in got], got


def test_deep_http_xml_is_refused_and_the_node_stays_readable(herald, connect, unique_name):
    node = unique_name("hostile")
    assert put(herald, node, "good", {"ok": True}, token=TOKEN)[0] == 201
    bob = connect("bob")
    subscribe_ok(bob, node, "bob@localhost")
    # 5,000 deep is about 35 KB, under the 64 KiB payload limit.
    body = nested(5_000)
    assert len(body) < 65536
    status, _, data = request(herald, "POST", f"/v1/nodes/{node}/items", body,
                              token=TOKEN, content_type="application/xml")
    assert status == 400, data
    assert data["error"] == "invalid_xml"
    assert "limits.max_payload_depth" in data["message"], data
    batch = {"items": [{"xml": nested(5_000)}]}
    status, _, data = request(herald, "POST", f"/v1/nodes/{node}/items:batch", batch,
                              token=TOKEN)
    assert (status, data["error"]) == (400, "invalid_xml"), data
    assert items_of(bob, node) == ["good"]
    herald.restart()
    assert items_of(bob, node) == ["good"]


def test_http_xml_with_more_than_one_element_is_refused(herald, unique_name):
    node = unique_name("hostile")
    for body in ["<a xmlns='urn:x'/><b xmlns='urn:x'/>", "<a xmlns='urn:x'/>tail",
                 "<a xmlns='urn:x'/><!-- x --><a xmlns='urn:x'/>"]:
        status, _, data = request(herald, "PUT", f"/v1/nodes/{node}/items/i1", body,
                                  token=TOKEN, content_type="application/xml")
        assert status == 400, (body, data)
        assert data["error"] == "invalid_xml"
        assert "exactly one element" in data["message"], data
    # Nothing was published (the node was not even created).
    status, _, _ = request(herald, "PUT", f"/v1/nodes/{node}/items/i1",
                           "<a xmlns='urn:x'/>", token=TOKEN, content_type="application/xml")
    assert status == 201


def test_deep_stanza_over_c2s_is_answered_and_the_link_stays(herald, connect, unique_name):
    node = unique_name("hostile")
    assert put(herald, node, "first", {"n": 1}, token=TOKEN)[0] == 201
    bob = connect("bob")
    subscribe_ok(bob, node, "bob@localhost")
    before = scrape(herald)[RECONNECTS]
    alice = connect("alice")
    deep = (f"<iq type='get' id='deep1' to='{SERVICE}'>"
            f"<pubsub xmlns='{NS_PUBSUB}'><items node='{node}'>{nested(C2S_DEEP)}"
            f"</items></pubsub></iq>")
    reply = raw_iq(alice, "deep1", deep)
    assert reply.get("type") == "error"
    assert error_condition(reply)[1] == "bad-request"
    # A publish payload deeper than limits.max_payload_depth (32) but within
    # the link's cap: refused by Herald's own check, naming the limit.
    publish = (f"<iq type='set' id='deep2' to='{SERVICE}'>"
               f"<pubsub xmlns='{NS_PUBSUB}'><publish node='{node}'><item id='p'>"
               f"{nested(100)}</item></publish></pubsub></iq>")
    admin = connect("admin")
    reply = raw_iq(admin, "deep2", publish)
    assert error_condition(reply)[1:] == ("bad-request", "invalid-payload"), reply
    assert "limits.max_payload_depth" in error_text(reply)
    link_still_carries(herald, bob, node, "after-deep")
    assert scrape(herald)[RECONNECTS] == before
    assert herald.proc.poll() is None


def test_a_1_5_mib_attribute_over_c2s_does_not_drop_the_link(herald, connect, unique_name):
    node = unique_name("hostile")
    assert put(herald, node, "first", {"n": 1}, token=TOKEN)[0] == 201
    bob = connect("bob")
    subscribe_ok(bob, node, "bob@localhost")
    before = scrape(herald)[RECONNECTS]
    alice = connect("alice")
    long_value = "v" * (3 * 1024 * 1024 // 2)
    # As a node name: Herald's own validation refuses it.
    reply = raw_iq(alice, "long1",
                   f"<iq type='get' id='long1' to='{SERVICE}'>"
                   f"<pubsub xmlns='{NS_PUBSUB}'><items node='{long_value}'/></pubsub></iq>")
    assert error_condition(reply)[1] == "bad-request"
    assert "256" in error_text(reply)
    # As some other attribute value, and as an attribute name.
    reply = raw_iq(alice, "long2",
                   f"<iq type='get' id='long2' to='{SERVICE}'>"
                   f"<query xmlns='urn:x:unknown' junk='{long_value}'/></iq>")
    assert reply.get("type") == "error"
    reply = raw_iq(alice, "long3",
                   f"<iq type='get' id='long3' to='{SERVICE}'>"
                   f"<query xmlns='urn:x:unknown' {long_value}='x'/></iq>")
    assert reply.get("type") == "error"
    link_still_carries(herald, bob, node, "after-long")
    assert scrape(herald)[RECONNECTS] == before
    assert herald.proc.poll() is None


def test_a_node_name_over_the_limit_is_refused_alike_over_xmpp_and_http(herald, connect):
    long_node = "n" * 257
    admin = connect("admin")
    reply = admin.iq(f"<iq type='set' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
                     f"<publish node='{long_node}'><item id='i'><e xmlns='urn:x'/></item>"
                     f"</publish></pubsub></iq>")
    assert error_condition(reply)[1] == "bad-request"
    xmpp_text = error_text(reply)
    status, _, data = put(herald, long_node, "i", {"n": 1}, token=TOKEN)
    assert (status, data["error"]) == (400, "bad_node"), data
    for text in (xmpp_text, data["message"]):
        assert "node name" in text and "1 to 256 bytes" in text, text
    # Exactly at the limit is fine on both paths.
    ok_node = "m" * 256
    assert put(herald, ok_node, "i", {"n": 1}, token=TOKEN)[0] == 201
    assert items_of(admin, ok_node) == ["i"]
    long_id = "i" * 257
    reply = admin.iq(f"<iq type='set' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
                     f"<publish node='{ok_node}'><item id='{long_id}'><e xmlns='urn:x'/>"
                     f"</item></publish></pubsub></iq>")
    assert error_condition(reply)[1] == "bad-request"
    assert put(herald, ok_node, long_id, {"n": 1}, token=TOKEN)[2]["error"] == "bad_item_id"


def test_every_xmpp_entry_point_refuses_an_over_long_node_name_as_http_does(herald, connect):
    """Disco, MAM, queue acks and chat commands took node names unchecked;
    now every entry point builds the core's NodeName, so all refuse a name
    over 256 bytes as HTTP does: bad-request (a chat refusal) naming the
    limit, never item-not-found."""
    long_node = "n" * 257
    status, _, data = put(herald, long_node, "i", {"n": 1}, token=TOKEN)
    assert (status, data["error"]) == (400, "bad_node"), data
    http_text = data["message"]
    assert "1 to 256 bytes" in http_text, http_text
    bob = connect("bob")
    requests = {
        "disco#info": f"<query xmlns='http://jabber.org/protocol/disco#info' node='{long_node}'/>",
        "disco#items": f"<query xmlns='http://jabber.org/protocol/disco#items' node='{long_node}'/>",
        "mam": f"<query xmlns='urn:xmpp:mam:2' node='{long_node}'/>",
        "queue ack": f"<pubsub xmlns='{NS_PUBSUB}'><ack xmlns='urn:xmpp:pubsub:queueing:0' "
                     f"node='{long_node}'><item id='i'/></ack></pubsub>",
    }
    for name, query in requests.items():
        kind = "get" if name.startswith("disco") else "set"
        reply = bob.iq(f"<iq type='{kind}' to='{SERVICE}'>{query}</iq>")
        assert error_condition(reply)[1] == "bad-request", (name, error_condition(reply))
        assert error_text(reply) == http_text, (name, error_text(reply))
    for cmd in (f"subscribe {long_node}", f"last {long_node}"):
        answer = command(bob, cmd)
        assert http_text in answer and answer.startswith("Refused"), answer


def test_config_errors_name_the_key_not_the_secret(herald_bin, tmp_path):
    secret_line = "secret = \"leaky-s3cret-value\" trailing-junk\n"
    bad = tmp_path / "bad.toml"
    bad.write_text("[component]\njid = \"events.localhost\"\n" + secret_line +
                   "[storage]\ndata_dir = \"" + str(tmp_path / "never") + "\"\n")
    for cmd in (["check-config", "--config", str(bad)], ["run", "--config", str(bad)]):
        out = subprocess.run([str(herald_bin), *cmd], capture_output=True, text=True,
                             timeout=30)
        assert out.returncode == 2, out
        assert "leaky-s3cret" not in out.stderr + out.stdout, out.stderr
        assert "line 3" in out.stderr and "component.secret" in out.stderr, out.stderr
    assert not (tmp_path / "never").exists()


def test_trace_logs_show_no_handshake_digest(herald_factory, monkeypatch, connect):
    monkeypatch.setenv("HERALD_LOG", "trace")
    h = herald_factory(name="traced")
    connect("alice").disco_info(SERVICE)
    h.stop()
    log = h.log_text()
    assert "SEND" in log, "trace logging of the stream is not on"
    assert "handshake" in log
    for line in log.splitlines():
        if "<handshake" in line:
            assert not re.search(r"[0-9a-f]{40}", line), line
    assert h.config["component"]["secret"] not in log
