"""Issue 16 (14b): after ejabberd flaps, the component link is back fast.

The reconnect delay starts over once a connection is confirmed working and
is capped at 1 s (jittered), so after two outages in a row the link is back
within about 2 s of the server listening again, not after a doubled
backoff. A TCP proxy in front of ejabberd stands in for the server going
away and coming back (the real restart, slower, is in test_component.py).
"""

from __future__ import annotations

import time

from heraldtest.sandbox import SERVICE
from heraldtest.tcpproxy import BlackholeProxy

PING = f"<iq type='get' to='{SERVICE}'><ping xmlns='urn:xmpp:ping'/></iq>"


def link_ups(herald) -> int:
    return herald.log_text().count("component link up")


def test_link_is_back_within_two_seconds_after_two_outages(herald_factory, connect, ejabberd):
    with BlackholeProxy(ejabberd.component_port) as proxy:
        herald = herald_factory(config={"component": {"port": proxy.port}})
        assert connect("alice").iq(PING).get("type") == "result"
        ups = link_ups(herald)
        for outage in range(2):
            proxy.go_down()
            time.sleep(3.5)   # refused attempts while it is away
            proxy.come_up()
            up_at = time.monotonic()
            while link_ups(herald) == ups and time.monotonic() - up_at < 20:
                time.sleep(0.05)
            back_after = time.monotonic() - up_at
            assert link_ups(herald) > ups, f"outage {outage}: the link never came back"
            ups = link_ups(herald)
            assert back_after < 2.0, f"outage {outage}: link back {back_after:.1f} s after the server"
            time.sleep(0.5)
        herald.wait_ready(timeout=10)
        assert connect("bob").iq(PING).get("type") == "result"
