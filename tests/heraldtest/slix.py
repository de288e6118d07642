"""slixmpp, set up for the sandbox ejabberd: plain TCP to 127.0.0.1 (no
DNS/SRV, no TLS) and SASL PLAIN allowed without TLS. Use it for tests that
want a real third-party client rather than heraldtest.client's raw XML.

    async def scenario():
        async with slix_session("alice@localhost", "pass", port) as xmpp:
            info = await xmpp.plugin["xep_0030"].get_info(jid="pubsub.localhost")
    asyncio.run(scenario())
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator, Iterable

import slixmpp

DEFAULT_PLUGINS = ("xep_0030", "xep_0059", "xep_0060", "xep_0199")


def make_client(jid: str, password: str,
                plugins: Iterable[str] = DEFAULT_PLUGINS) -> slixmpp.ClientXMPP:
    """A ClientXMPP configured for plain c2s on loopback (call inside a
    running event loop)."""
    xmpp = slixmpp.ClientXMPP(jid, password, plugin_config={
        # ejabberd on loopback offers no STARTTLS; allow PLAIN anyway.
        "feature_mechanisms": {"unencrypted_plain": True},
    })
    xmpp.enable_direct_tls = False
    xmpp.enable_starttls = False
    xmpp.enable_plaintext = True
    for plugin in plugins:
        xmpp.register_plugin(plugin)
    if {"xep_0059", "xep_0060"} <= set(plugins):
        enable_pubsub_rsm()
    return xmpp


def enable_pubsub_rsm() -> None:
    """slixmpp 1.17's xep_0059 registers its <set/> only on disco#items, so
    `xep_0060.get_items(..., iterator=True)` fails with "Unknown stanza
    interface: rsm". Register it on <pubsub/> too (XEP-0060 §6.5.4 puts
    the <set/> there). Idempotent; affects every client in the process."""
    from slixmpp.plugins.xep_0059.stanza import Set
    from slixmpp.plugins.xep_0060.stanza.pubsub import Pubsub
    from slixmpp.xmlstream import register_stanza_plugin
    register_stanza_plugin(Pubsub, Set)


@contextlib.asynccontextmanager
async def slix_session(jid: str, password: str, port: int, host: str = "127.0.0.1",
                       plugins: Iterable[str] = DEFAULT_PLUGINS, presence: bool = True,
                       timeout: float = 10.0) -> AsyncIterator[slixmpp.ClientXMPP]:
    """Connected, authenticated slixmpp client; disconnects on exit."""
    xmpp = make_client(jid, password, plugins)
    started: asyncio.Future = asyncio.get_running_loop().create_future()

    def _on_start(_event):
        if not started.done():
            started.set_result(True)

    def _on_fail(event):
        if not started.done():
            started.set_exception(RuntimeError(f"slixmpp login failed: {event}"))

    xmpp.add_event_handler("session_start", _on_start)
    xmpp.add_event_handler("failed_all_auth", _on_fail)
    xmpp.connect(host, port)
    try:
        await asyncio.wait_for(started, timeout)
        if presence:
            xmpp.send_presence()
        yield xmpp
    finally:
        try:
            await asyncio.wait_for(xmpp.disconnect(wait=1.0), timeout=3)
        except (asyncio.TimeoutError, Exception) as e:  # teardown must not mask failures
            logging.getLogger(__name__).debug("slixmpp disconnect: %r", e)
