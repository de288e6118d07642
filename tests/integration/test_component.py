"""Issue 2: Herald as a XEP-0114 component behind a real ejabberd.

Every test talks to Herald the way users do: a c2s client logged in to the
private ejabberd sends stanzas to events.localhost and reads the answers.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from heraldtest.harness import EJ_DIR, Herald
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import (NS_DISCO_INFO, NS_PING, NS_STANZAS, error_condition,
                               tostring)

NS_VERSION = "jabber:iq:version"
PING = f"<iq type='get' to='{SERVICE}'><ping xmlns='urn:xmpp:ping'/></iq>"


def link_ups(herald: Herald) -> int:
    return herald.log_text().count("component link up")


def test_disco_info_through_ejabberd(herald, connect):
    alice = connect("alice")
    reply = alice.disco_info(SERVICE)
    assert reply.get("type") == "result", tostring(reply)
    query = reply.find(f"{{{NS_DISCO_INFO}}}query")
    identity = query.find(f"{{{NS_DISCO_INFO}}}identity")
    assert (identity.get("category"), identity.get("type")) == ("pubsub", "service")
    features = {f.get("var") for f in query.findall(f"{{{NS_DISCO_INFO}}}feature")}
    assert {NS_DISCO_INFO, NS_PING, NS_VERSION} <= features


def test_ping_and_version(herald, connect):
    alice = connect("alice")
    pong = alice.iq(PING)
    assert pong.get("type") == "result" and pong.get("from") == SERVICE
    version = alice.iq(f"<iq type='get' to='{SERVICE}'>"
                       "<query xmlns='jabber:iq:version'/></iq>")
    assert version.findtext(f"{{{NS_VERSION}}}query/{{{NS_VERSION}}}name") == "Herald"


def test_unknown_iq_gets_service_unavailable(herald, connect):
    alice = connect("alice")
    reply = alice.iq(f"<iq type='set' to='{SERVICE}'>"
                     "<query xmlns='urn:example:unknown'/></iq>")
    assert reply.get("type") == "error"
    assert error_condition(reply)[1] == "service-unavailable"


MALFORMED = {
    "no child": f"<iq type='get' to='{SERVICE}'/>",
    "unknown namespace": f"<iq type='get' to='{SERVICE}'><x xmlns='urn:nope'/></iq>",
    "invalid jid attribute": f"<iq type='set' to='{SERVICE}'>"
                             "<pubsub xmlns='http://jabber.org/protocol/pubsub'>"
                             "<subscribe node='n' jid='@@not a jid@@/'/></pubsub></iq>",
    "huge attribute": f"<iq type='get' to='{SERVICE}'>"
                      "<query xmlns='urn:nope' a='" + "x" * 300_000 + "'/></iq>",
    "huge attribute on known query": f"<iq type='get' to='{SERVICE}'>"
                      "<query xmlns='http://jabber.org/protocol/disco#info' node='"
                      + "n" * 20_000 + "'/></iq>",
}


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_malformed_iq_gets_error_and_link_survives(herald, connect, kind):
    alice = connect("alice")
    ups = link_ups(herald)
    for _ in range(3):
        reply = alice.iq(MALFORMED[kind], timeout=10)
        assert reply.get("type") == "error", tostring(reply)[:500]
        assert reply.get("from") == SERVICE
        assert error_condition(reply) is not None
        assert alice.iq(PING).get("type") == "result"
    assert link_ups(herald) == ups, "the component link was dropped"
    assert herald.proc.poll() is None


def test_iq_result_to_herald_is_not_answered(herald, connect):
    alice = connect("alice")
    alice.send_raw(f"<iq type='result' id='stray-1' to='{SERVICE}'/>")
    alice.send_raw(f"<iq type='error' id='stray-2' to='{SERVICE}'>"
                   "<error type='cancel'><item-not-found xmlns='%s'/></error></iq>" % NS_STANZAS)
    assert alice.iq(PING).get("type") == "result"
    stray = [s for s in alice.recv_stanzas(timeout=0.5)
             if s.get("id") in ("stray-1", "stray-2")]
    assert stray == []


def test_idle_longer_than_soft_timeout_stays_connected(herald_factory, connect):
    herald = herald_factory(config={"component": {"keepalive_secs": 1}})
    ups = link_ups(herald)
    time.sleep(6)  # several soft timeouts (1 s) and the hard one (10 s) is never reached
    alice = connect("alice")
    assert alice.iq(PING).get("type") == "result"
    assert link_ups(herald) == ups
    assert "component link down" not in herald.log_text()


@pytest.mark.parametrize("connections", [1, 2])
def test_reconnects_after_ejabberd_restart(herald_factory, connect, ejabberd, connections):
    herald = herald_factory(config={"component": {"connections": connections}})
    assert connect("alice").iq(PING).get("type") == "result"
    subprocess.run(["bash", str(EJ_DIR / "ejabberd-down.sh"), "test"], check=True,
                   capture_output=True)
    time.sleep(1)
    assert herald.proc.poll() is None, "herald exited while ejabberd was down"
    subprocess.run(["bash", str(EJ_DIR / "ejabberd-up.sh"), "test"], check=True,
                   capture_output=True)
    started = time.monotonic()
    herald.wait_ready(timeout=30)
    # Reconnect attempts are at most ~1 s apart (issue 16): no doubled
    # backoff left over from the refused attempts while ejabberd was down.
    assert time.monotonic() - started < 3, "link back later than 3 s after ejabberd"
    assert herald.proc.poll() is None
    deadline = time.monotonic() + 15
    while link_ups(herald) < 2 * connections and time.monotonic() < deadline:
        time.sleep(0.2)
    assert link_ups(herald) == 2 * connections, "every link must come back"
    assert "panicked" not in herald.log_text()


def test_wrong_secret_exits_nonzero_with_clear_message(herald_factory):
    herald = herald_factory(config={"component": {"secret": "not-the-secret"}}, start=False)
    herald.start()
    try:
        code = herald.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("herald kept running with a wrong secret")
    assert code != 0
    log = herald.log_text()
    assert "rejected the component handshake" in log
    assert "not-authorized" in log


def test_sigterm_stops_gracefully(herald):
    assert herald.stop(timeout=10) == 0
    assert "stopped" in herald.log_text()


def test_check_config_reports_problems(herald_bin, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[component]\njid = 'events.localhost'\nport = 'x'\n"
                   "[storage]\ndata_dir = '/tmp/x'\n")
    out = subprocess.run([str(herald_bin), "check-config", "--config", str(bad)],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "port" in out.stderr

    nosecret = tmp_path / "nosecret.toml"
    nosecret.write_text(f"[component]\njid = 'events.localhost'\n"
                        f"[storage]\ndata_dir = '{tmp_path / 'd'}'\n")
    env = {"PATH": "/usr/bin:/bin"}
    out = subprocess.run([str(herald_bin), "check-config", "--config", str(nosecret)],
                         capture_output=True, text=True, env=env)
    assert out.returncode != 0 and "HERALD_COMPONENT_SECRET" in out.stderr
    out = subprocess.run([str(herald_bin), "check-config", "--config", str(nosecret)],
                         capture_output=True, text=True,
                         env={**env, "HERALD_COMPONENT_SECRET": "s"})
    assert out.returncode == 0, out.stderr


def test_two_component_connections_serve_requests(herald_factory, connect):
    herald = herald_factory(config={"component": {"connections": 2}})
    deadline = time.monotonic() + 10
    while link_ups(herald) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert link_ups(herald) == 2
    alice = connect("alice")
    for _ in range(20):  # ejabberd spreads these over both connections
        assert alice.iq(PING).get("type") == "result"
    assert "component link down" not in herald.log_text()
