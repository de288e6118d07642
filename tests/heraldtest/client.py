"""A small raw-XML XMPP client for integration tests.

Plain TCP c2s on loopback (no TLS), SASL PLAIN, resource binding, XEP-0077
in-band registration. Stanzas are parsed incrementally with
xml.etree.ElementTree.XMLPullParser and every stanza that is not the one a
call waits for is kept in a buffer, so no notification is lost while a test
waits for an IQ reply.

Why raw XML: Herald is built with tokio-xmpp's `component` feature, which
puts every typed stanza in the component namespace, so a Rust client in the
same build misbehaves (see xep-notes/decisions.md, "Integration tests in Python"). Raw XML also lets tests send exactly
the malformed requests real clients send.

    c = Client.connect("alice@localhost", "pass", port=15222)
    reply = c.iq("<iq type='get' to='events.localhost'>"
                 "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
    msg = c.wait_for(lambda s: local(s.tag) == "message", timeout=5)
    c.close()

Elements and XML text: see heraldtest.stanza.

As a module it registers users (used by ejabberd-config/register-users.sh):
    python3 -m heraldtest.client register --port 15222 alice:pass bob:pass
"""

from __future__ import annotations

import argparse
import base64
import collections
import hashlib
import itertools
import select
import socket
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from typing import Callable, Iterable, Optional, Union

from heraldtest.sandbox import C2S_PORT
from heraldtest.stanza import (NS, NS_BIND, NS_CLIENT, NS_REGISTER, NS_SASL, NS_SESSION,
                               NS_DISCO_INFO, NS_STREAM, E, error_condition, esc,
                               is_iq_reply, local, namespace, parse, qname, tostring)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = C2S_PORT
DEFAULT_TIMEOUT = 10.0
# A test that never reads its notifications should fail loudly, not eat RAM.
MAX_BUFFERED = 1_000_000


class XmppError(Exception):
    """Protocol failure (auth, bind, unexpected reply)."""


class StreamError(XmppError):
    """The server closed the stream or sent <stream:error/>."""


class IqError(XmppError):
    """An IQ came back with type='error' where a result was required."""

    def __init__(self, response: ET.Element):
        self.response = response
        self.condition = error_condition(response)
        super().__init__(f"IQ error {self.condition}: {tostring(response)}")


# --- the client ------------------------------------------------------------

class Client:
    """One c2s stream. Not thread-safe: use one Client per thread."""

    def __init__(self, sock: socket.socket, domain: str):
        self.sock = sock
        self.domain = domain
        self.jid: Optional[str] = None          # full JID once bound
        self.bare_jid: Optional[str] = None
        self.features: Optional[ET.Element] = None
        self.stream_attrs: dict = {}
        self.stream_error: Optional[ET.Element] = None
        self.closed = False
        self.auto_pong = True                    # answer server pings
        self._buffer: collections.deque[ET.Element] = collections.deque()
        self._ids = itertools.count(1)
        self._id_prefix = uuid.uuid4().hex[:8]
        self._parser: Optional[ET.XMLPullParser] = None
        self._root: Optional[ET.Element] = None
        self._depth = 0

    # ---- construction ----

    @classmethod
    def open(cls, domain: str = "localhost", port: Optional[int] = None,
             host: str = DEFAULT_HOST, timeout: float = DEFAULT_TIMEOUT) -> "Client":
        """Open an unauthenticated stream (for register() or login())."""
        # DEFAULT_PORT is read at call time so a harness can change it.
        sock = socket.create_connection((host, port or DEFAULT_PORT), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = cls(sock, domain)
        c._start_stream(timeout)
        return c

    @classmethod
    def connect(cls, jid: str, password: str, port: Optional[int] = None,
                host: str = DEFAULT_HOST, resource: Optional[str] = None,
                presence: bool = True, timeout: float = DEFAULT_TIMEOUT) -> "Client":
        """Connect, authenticate, bind. With presence=True (default) it sends
        initial presence, so messages to the bare JID (pubsub notifications)
        are delivered to this session instead of going offline."""
        user, _, rest = jid.partition("@")
        domain, _, jid_resource = rest.partition("/")
        c = cls.open(domain, port, host, timeout)
        try:
            c.login(user, password, resource or jid_resource or None, timeout)
            if presence:
                c.send_raw("<presence/>")
        except BaseException:
            c.close(wait=False)
            raise
        return c

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- stream plumbing ----

    def _start_stream(self, timeout: float) -> None:
        self._parser = ET.XMLPullParser(events=("start", "end"))
        self._depth = 0
        self.features = None
        self.send_raw(
            "<?xml version='1.0'?>"
            f"<stream:stream to='{self.domain}' version='1.0' xml:lang='en' "
            f"xmlns='{NS_CLIENT}' xmlns:stream='{NS_STREAM}'>")
        self.features = self._wait_raw(
            lambda s: s.tag == qname(NS_STREAM, "features"), timeout)

    def send_raw(self, data: Union[str, bytes]) -> None:
        """Send bytes exactly as given (may be malformed on purpose)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def send(self, stanza: Union[str, ET.Element]) -> None:
        self.send_raw(stanza if isinstance(stanza, str) else tostring(stanza))

    def _feed(self, data: bytes) -> None:
        assert self._parser is not None
        self._parser.feed(data)
        for event, el in self._parser.read_events():
            if event == "start":
                if self._depth == 0:
                    self.stream_attrs = dict(el.attrib)
                    self._root = el
                self._depth += 1
                continue
            self._depth -= 1
            if self._depth == 0:       # </stream:stream>
                self.closed = True
            elif self._depth == 1:     # a complete top-level element
                self._root.remove(el)
                self._on_stanza(el)

    def _on_stanza(self, el: ET.Element) -> None:
        if el.tag == qname(NS_STREAM, "error"):
            self.stream_error = el
            self.closed = True
            return
        if (self.auto_pong and local(el) == "iq" and el.get("type") == "get"
                and el.find("ping:ping", NS) is not None):
            self.send_raw(f"<iq type='result' id='{esc(el.get('id', ''))}'"
                          f" to='{esc(el.get('from', ''))}'/>")
            return
        if len(self._buffer) >= MAX_BUFFERED:
            raise XmppError(f"more than {MAX_BUFFERED} unread stanzas buffered")
        self._buffer.append(el)

    def _read_some(self, deadline: float) -> bool:
        """Read what is available until deadline; False on timeout."""
        if self.closed:
            raise self._closed_error()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        ready, _, _ = select.select([self.sock], [], [], remaining)
        if not ready:
            return False
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, socket.timeout) as e:
            self.closed = True
            raise StreamError(f"connection lost: {e}") from e
        if not data:
            self.closed = True
            raise self._closed_error()
        self._feed(data)
        return True

    def _closed_error(self) -> StreamError:
        if self.stream_error is not None:
            return StreamError(f"stream error: {tostring(self.stream_error, NS_STREAM)}")
        return StreamError("stream closed by server")

    def _take(self, predicate: Callable[[ET.Element], bool]) -> Optional[ET.Element]:
        for i, stanza in enumerate(self._buffer):
            if predicate(stanza):
                del self._buffer[i]
                return stanza
        return None

    def _wait_raw(self, predicate, timeout: float) -> ET.Element:
        deadline = time.monotonic() + timeout
        while True:
            found = self._take(predicate)
            if found is not None:
                return found
            if self.closed:
                raise self._closed_error()
            if not self._read_some(deadline) and time.monotonic() >= deadline:
                raise TimeoutError(f"no matching stanza within {timeout}s "
                                   f"({len(self._buffer)} other stanzas buffered)")

    # ---- public API ----

    def next_id(self) -> str:
        return f"{self._id_prefix}-{next(self._ids)}"

    def wait_for(self, predicate: Callable[[ET.Element], bool],
                 timeout: float = DEFAULT_TIMEOUT) -> ET.Element:
        """Return (and remove from the buffer) the first stanza, buffered or
        new, for which predicate is true. Others stay buffered."""
        return self._wait_raw(predicate, timeout)

    def recv_stanzas(self, timeout: float = 0.0) -> list[ET.Element]:
        """Everything buffered plus whatever arrives within timeout."""
        deadline = time.monotonic() + timeout
        try:
            while self._read_some(deadline):
                pass
        except StreamError:
            if not self._buffer:
                raise
        out = list(self._buffer)
        self._buffer.clear()
        return out

    def iq(self, request: Union[str, ET.Element],
           timeout: float = DEFAULT_TIMEOUT) -> ET.Element:
        """Send an IQ and return its result or error reply (matched by id).
        A string with an id is sent verbatim; without one it is parsed and
        given an id."""
        if isinstance(request, str):
            el = parse(request)
            if el.get("id"):
                iq_id, raw = el.get("id"), request
            else:
                iq_id = self.next_id()
                el.set("id", iq_id)
                raw = tostring(el)
        else:
            if not request.get("id"):
                request.set("id", self.next_id())
            iq_id, raw = request.get("id"), tostring(request)
        self.send_raw(raw)
        return self._wait_raw(lambda s: is_iq_reply(s, iq_id), timeout)

    def iq_ok(self, request: Union[str, ET.Element],
              timeout: float = DEFAULT_TIMEOUT) -> ET.Element:
        """iq() that raises IqError unless the reply is type='result'."""
        reply = self.iq(request, timeout)
        if reply.get("type") != "result":
            raise IqError(reply)
        return reply

    def messages(self, timeout: float = 0.0) -> list[ET.Element]:
        """Drain buffered/arriving <message/> stanzas; others stay buffered."""
        deadline = time.monotonic() + timeout
        try:
            while self._read_some(deadline):
                pass
        except StreamError:
            pass
        out = [s for s in self._buffer if local(s) == "message"]
        self._buffer = collections.deque(s for s in self._buffer if local(s) != "message")
        return out

    def disco_info(self, to: str, node: Optional[str] = None,
                   timeout: float = DEFAULT_TIMEOUT) -> ET.Element:
        q = E(qname(NS_DISCO_INFO, "query"), {"node": node})
        return self.iq(E(qname(NS_CLIENT, "iq"), {"type": "get", "to": to}, q), timeout)

    # ---- authentication and registration ----

    def register(self, user: str, password: str,
                 timeout: float = DEFAULT_TIMEOUT) -> ET.Element:
        """XEP-0077 in-band registration on an unauthenticated stream.
        Returns the reply (result, or error e.g. conflict)."""
        if self.jid is not None:
            raise XmppError("register() must run before authentication")
        query = E(qname(NS_REGISTER, "query"), None,
                  E(qname(NS_REGISTER, "username"), text=user),
                  E(qname(NS_REGISTER, "password"), text=password))
        return self.iq(E(qname(NS_CLIENT, "iq"), {"type": "set", "to": self.domain}, query),
                       timeout)

    def login(self, user: str, password: str, resource: Optional[str] = None,
              timeout: float = DEFAULT_TIMEOUT) -> str:
        """SASL PLAIN, stream restart, resource bind (+ session if the
        server requires it). Returns the bound full JID."""
        mechs = [m.text for m in self.features.iterfind("sasl:mechanisms/sasl:mechanism", NS)]
        if "PLAIN" not in mechs:
            raise XmppError(f"server offers no SASL PLAIN (offers {mechs})")
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        self.send_raw(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{token}</auth>")
        reply = self._wait_raw(lambda s: namespace(s) == NS_SASL
                               and local(s) in ("success", "failure"), timeout)
        if local(reply) == "failure":
            cond = [local(c) for c in reply if local(c) != "text"]
            raise XmppError(f"SASL PLAIN failed for {user}@{self.domain}: {cond}")
        self._start_stream(timeout)  # RFC 6120: restart the stream after SASL
        bind = E(qname(NS_BIND, "bind"))
        if resource:
            bind.append(E(qname(NS_BIND, "resource"), text=resource))
        res = self.iq_ok(E(qname(NS_CLIENT, "iq"), {"type": "set"}, bind), timeout)
        self.jid = res.findtext("bind:bind/bind:jid", namespaces=NS)
        self.bare_jid = self.jid.split("/", 1)[0]
        session = self.features.find(qname(NS_SESSION, "session"))
        if session is not None and session.find(qname(NS_SESSION, "optional")) is None:
            self.iq_ok(E(qname(NS_CLIENT, "iq"), {"type": "set"},
                         E(qname(NS_SESSION, "session"))), timeout)
        return self.jid

    def close(self, wait: bool = False, timeout: float = 2.0) -> None:
        """Send </stream:stream> and close the socket. wait=True first waits
        for the server's </stream:stream> (ejabberd takes ~100 ms)."""
        if self.sock is None:
            return
        try:
            if not self.closed:
                self.send_raw("</stream:stream>")
                if wait:
                    deadline = time.monotonic() + timeout
                    while not self.closed and self._read_some(deadline):
                        pass
        except (OSError, XmppError):
            pass
        finally:
            self.closed = True
            try:
                self.sock.close()
            finally:
                self.sock = None


class Component(Client):
    """A raw XEP-0114 component connection (jabber:component:accept), for
    testing the ejabberd side without Herald, or impersonating a second
    component connection. Stanzas sent with send_raw() must carry from/to."""

    @classmethod
    def connect_component(cls, jid: str, secret: str, port: int,
                          host: str = DEFAULT_HOST,
                          timeout: float = DEFAULT_TIMEOUT) -> "Component":
        sock = socket.create_connection((host, port), timeout=timeout)
        c = cls(sock, jid)
        c._parser = ET.XMLPullParser(events=("start", "end"))
        c.send_raw(f"<stream:stream xmlns='jabber:component:accept' "
                   f"xmlns:stream='{NS_STREAM}' to='{jid}'>")
        deadline = time.monotonic() + timeout
        while c._depth == 0:
            if not c._read_some(deadline):
                raise TimeoutError("no stream header from the server")
        digest = hashlib.sha1((c.stream_attrs.get("id", "") + secret).encode()).hexdigest()
        c.send_raw(f"<handshake>{digest}</handshake>")
        c._wait_raw(lambda s: local(s) == "handshake", timeout)
        c.jid = c.bare_jid = jid
        return c


# --- user provisioning -----------------------------------------------------

def ensure_user(user: str, password: str, domain: str = "localhost",
                port: Optional[int] = None, host: str = DEFAULT_HOST,
                timeout: float = DEFAULT_TIMEOUT) -> str:
    """Register user by XEP-0077 unless it exists. Returns 'created' or
    'exists'; raises XmppError if it exists with another password or
    registration fails for any other reason."""
    with Client.open(domain, port, host, timeout) as c:
        reply = c.register(user, password, timeout)
    if reply.get("type") == "result":
        return "created"
    cond = error_condition(reply)
    if cond and cond[1] == "conflict":
        try:
            Client.connect(f"{user}@{domain}", password, port, host,
                           presence=False, timeout=timeout).close()
        except XmppError as e:
            raise XmppError(f"{user}@{domain} exists with a different password ({e})") from e
        return "exists"
    raise XmppError(f"registering {user}@{domain} failed: {tostring(reply)}")


def ensure_users(users: Iterable[tuple[str, str]], **kw) -> dict[str, str]:
    return {user: ensure_user(user, password, **kw) for user, password in users}


def _main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description="XMPP test helper")
    sub = ap.add_subparsers(dest="cmd", required=True)
    reg = sub.add_parser("register", help="register users by XEP-0077 (idempotent)")
    reg.add_argument("--port", type=int, default=DEFAULT_PORT)
    reg.add_argument("--host", default=DEFAULT_HOST)
    reg.add_argument("--domain", default="localhost")
    reg.add_argument("users", nargs="+", metavar="USER[:PASSWORD]",
                     help="password defaults to 'pass'")
    args = ap.parse_args(argv)
    failed = 0
    for spec in args.users:
        user, _, password = spec.partition(":")
        try:
            status = ensure_user(user, password or "pass", args.domain, args.port, args.host)
            print(f"{user}@{args.domain}: {status}")
        except (XmppError, OSError, TimeoutError) as e:
            print(f"{user}@{args.domain}: FAILED: {e}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
