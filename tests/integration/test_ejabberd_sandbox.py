"""The harness itself works against the sandbox ejabberd (no Herald)."""

import uuid

from heraldtest.client import Client, ensure_user, XmppError
from heraldtest.sandbox import DOMAIN, PASSWORD
from heraldtest.stanza import E, NS, NS_CLIENT, NS_DISCO_INFO, error_condition, local, qname
import pytest



def test_register_is_idempotent(ejabberd):
    user = f"reg-{uuid.uuid4().hex[:8]}"
    assert ensure_user(user, "secret1", DOMAIN, ejabberd.c2s_port) == "created"
    assert ensure_user(user, "secret1", DOMAIN, ejabberd.c2s_port) == "exists"
    with pytest.raises(XmppError, match="different password"):
        ensure_user(user, "other", DOMAIN, ejabberd.c2s_port)


def test_wrong_password_is_refused(users, ejabberd):
    with pytest.raises(XmppError, match="not-authorized"):
        Client.connect(users["alice"], "wrong", ejabberd.c2s_port)


def test_message_between_two_users(connect, users):
    alice = connect("alice")
    bob = connect("bob")
    body = f"hello {uuid.uuid4().hex}"
    alice.send(E(qname(NS_CLIENT, "message"), {"to": bob.jid, "type": "chat"},
                 E("body", text=body)))
    msg = bob.wait_for(lambda s: local(s) == "message"
                       and s.findtext("c:body", namespaces=NS) == body, timeout=5)
    assert msg.get("from") == alice.jid
    assert msg.get("type") == "chat"


def test_other_stanzas_stay_buffered_while_waiting_for_iq(connect, users):
    alice = connect("alice")
    bob = connect("bob")
    alice.send_raw(f"<message to='{bob.jid}' type='chat'><body>first</body></message>")
    # Bob's ping reply is awaited while the message may already be in flight.
    reply = bob.iq(f"<iq type='get' to='{DOMAIN}'><ping xmlns='urn:xmpp:ping'/></iq>")
    assert reply.get("type") == "result"
    msg = bob.wait_for(lambda s: local(s) == "message", timeout=5)
    assert msg.findtext("c:body", namespaces=NS) == "first"


def test_ejabberd_pubsub_disco_identity(connect):
    alice = connect("alice")
    reply = alice.disco_info("pubsub.localhost")
    assert reply.get("type") == "result", reply
    identities = [(i.get("category"), i.get("type"))
                  for i in reply.iterfind("disco:query/disco:identity", NS)]
    assert ("pubsub", "service") in identities
    features = {f.get("var") for f in reply.iterfind("disco:query/disco:feature", NS)}
    assert "http://jabber.org/protocol/pubsub" in features


def test_component_domain_without_herald_is_an_error(connect, ejabberd):
    """With no component connected, ejabberd answers for events.localhost
    at once (s2s is denied) instead of trying the network."""
    alice = connect("alice")
    reply = alice.disco_info(ejabberd.component_jid, timeout=5)
    assert reply.get("type") == "error"
    assert error_condition(reply)[1] in ("forbidden", "remote-server-not-found",
                                         "service-unavailable")


def test_large_stanza_is_accepted(connect, users):
    """c2s max_stanza_size is lifted: a 512 KiB message goes through."""
    alice = connect("alice")
    bob = connect("bob")
    body = "x" * (512 * 1024)
    alice.send_raw(f"<message to='{bob.jid}' type='chat'><body>{body}</body></message>")
    msg = bob.wait_for(lambda s: local(s) == "message", timeout=10)
    assert len(msg.findtext("c:body", namespaces=NS)) == len(body)


def test_slixmpp_connects_to_the_sandbox(users, ejabberd):
    """slixmpp (the third-party client for later tests) logs in over plain
    c2s and queries ejabberd's pubsub service."""
    import asyncio
    from heraldtest.slix import slix_session

    async def scenario():
        async with slix_session(users["carol"], PASSWORD, ejabberd.c2s_port) as xmpp:
            info = await xmpp.plugin["xep_0030"].get_info(jid="pubsub.localhost", timeout=5)
            return [(i[0], i[1]) for i in info["disco_info"]["identities"]]

    identities = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert ("pubsub", "service") in identities


def test_component_listener_routes_to_a_raw_component(connect, ejabberd):
    """The XEP-0114 listener accepts events.localhost with the configured
    secret and routes a client's IQ to it (what Herald relies on)."""
    from heraldtest.client import Component

    comp = Component.connect_component(ejabberd.component_jid, ejabberd.component_secret,
                                       ejabberd.component_port)
    try:
        alice = connect("alice")
        alice.send_raw(f"<iq type='get' id='q1' to='{ejabberd.component_jid}'>"
                       f"<query xmlns='{NS_DISCO_INFO}'/></iq>")
        req = comp.wait_for(lambda s: local(s) == "iq", timeout=5)
        assert req.get("from") == alice.jid
        comp.send_raw(f"<iq type='result' id='{req.get('id')}' from='{ejabberd.component_jid}'"
                      f" to='{req.get('from')}'><query xmlns='{NS_DISCO_INFO}'>"
                      "<identity category='pubsub' type='service'/></query></iq>")
        reply = alice.wait_for(lambda s: local(s) == "iq" and s.get("id") == "q1", timeout=5)
        assert reply.get("type") == "result"
    finally:
        comp.close()


def test_component_with_wrong_secret_is_refused(ejabberd):
    from heraldtest.client import Component, StreamError

    with pytest.raises(StreamError):
        Component.connect_component(ejabberd.component_jid, "wrong-secret",
                                    ejabberd.component_port, timeout=5)
