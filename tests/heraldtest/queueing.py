"""Consumer-group (XEP-0254 queueing) helpers over the raw-XML client:
node creation, joining a group, pipelined publishing, and a consumer
thread that processes items and acknowledges each one.

Used by test_queue.py and bench/queue.py.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Callable, Iterable, Optional

from heraldtest.client import Client, StreamError, XmppError
from heraldtest.forms import NODE_CONFIG, SUBSCRIBE_OPTIONS, form
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS, NS_PUBSUB, NS_QUEUE, esc, local


def create_node(c: Client, node: str, max_items: int = 100_000) -> None:
    config = form(NODE_CONFIG, {"pubsub#max_items": max_items})
    c.iq_ok(f"<iq type='set' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
            f"<create node='{esc(node)}'/><configure>{config}</configure></pubsub></iq>")


def join(c: Client, node: str, group: Optional[str], credit: int,
         presence: bool = True, **extra) -> str:
    """Directed presence to the service (so Herald sees us go away), then
    subscribe with the queue options. Returns the SubID."""
    if presence:
        c.send_raw(f"<presence to='{SERVICE}'/>")
    fields = {"pubsub#queue_requests": credit, **extra}
    if group is not None:
        fields["pubsub#queue_group"] = group
    options = form(SUBSCRIBE_OPTIONS, fields)
    reply = c.iq_ok(f"<iq type='set' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
                    f"<subscribe node='{esc(node)}' jid='{esc(c.jid)}'/><options>{options}</options>"
                    f"</pubsub></iq>")
    return reply.find("ps:pubsub/ps:subscription", NS).get("subid")


def poll(c: Client, wait: float = 0.05) -> list:
    """Waits up to `wait` for something to arrive, then returns everything
    buffered or readable right now (recv_stanzas waits the full timeout)."""
    if not c._buffer:
        c._read_some(time.monotonic() + wait)
    while c._read_some(time.monotonic() + 0.0005):
        pass
    out = list(c._buffer)
    c._buffer.clear()
    return out


def publish_pipelined(c: Client, node: str, ids: Iterable[str], window: int = 200,
                      timeout: float = 120.0) -> int:
    """Publishes one item per ID, keeping up to `window` requests in
    flight. Returns how many were acknowledged (IQ result)."""
    pending: set[str] = set()
    ok = 0
    deadline = time.monotonic() + timeout

    def drain(block: float) -> None:
        nonlocal ok
        for s in poll(c, block):
            if local(s) == "iq" and s.get("id") in pending:
                pending.discard(s.get("id"))
                ok += s.get("type") == "result"

    for item_id in ids:
        while len(pending) >= window:
            drain(0.05)
            if time.monotonic() > deadline:
                raise TimeoutError("publish replies did not come")
        iq_id = f"pub-{item_id}"
        c.send_raw(f"<iq type='set' to='{SERVICE}' id='{esc(iq_id)}'><pubsub xmlns='{NS_PUBSUB}'>"
                   f"<publish node='{esc(node)}'><item id='{esc(item_id)}'>"
                   f"<job xmlns='urn:example:jobs' n='{esc(item_id)}'/></item></publish></pubsub></iq>")
        pending.add(iq_id)
    while pending and time.monotonic() < deadline:
        drain(0.1)
    return ok


class Ledger:
    """What every consumer saw, shared between threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.delivered: collections.Counter = collections.Counter()
        self.acked: dict[str, list[str]] = collections.defaultdict(list)
        self.acked_at: dict[str, float] = {}   # first confirmation (monotonic)
        self.ack_sent: dict[str, float] = {}   # first ack sent (monotonic)
        self.ack_errors = 0
        self.unlocks: list[tuple[str, str]] = []

    def confirmed(self) -> set[str]:
        with self.lock:
            return set(self.acked)

    def acked_total(self) -> int:
        with self.lock:
            return len(self.acked)


def _items_el(msg, node: Optional[str]):
    """The event's <items/>, if it is of `node` (any node when None): a
    bare JID also gets what ejabberd kept offline from earlier tests."""
    items = msg.find("pse:event/pse:items", NS)
    if items is None or (node is not None and items.get("node") != node):
        return None
    return items


def items_of(msg, node: Optional[str] = None) -> list[str]:
    items = _items_el(msg, node)
    return [] if items is None else [i.get("id") for i in items.iterfind("pse:item", NS)]


def unlocked_of(msg, node: Optional[str] = None) -> list[str]:
    items = _items_el(msg, node)
    return [] if items is None else [u.get("id") for u in items.iterfind(f"{{{NS_QUEUE}}}unlock")]


class Consumer(threading.Thread):
    """Processes each delivered item (sleeping `work_s`), then acks it with
    the ack IQ (or a retract when `ack='retract'`), without waiting for the
    reply. `on_item(consumer, item_id)` may return False to skip the ack."""

    def __init__(self, client: Client, node: str, ledger: Ledger, name: str,
                 work_s: float = 0.0, ack: str = "iq",
                 on_item: Optional[Callable[["Consumer", str], bool]] = None):
        super().__init__(name=name, daemon=True)
        self.client, self.node, self.ledger = client, node, ledger
        self.work_s, self.ack, self.on_item = work_s, ack, on_item
        self.stop = threading.Event()
        self.drop = threading.Event()   # close the socket abruptly
        self.received: list[str] = []
        self.pending: dict[str, str] = {}  # ack IQ id -> item id
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                if self.drop.is_set():
                    self.client.sock.close()
                    return
                for s in poll(self.client):
                    self.handle(s)
        except (StreamError, XmppError, OSError) as e:
            if not self.drop.is_set() and not self.stop.is_set():
                self.error = e
        except Exception as e:  # a bug here must fail the test, not hang it
            self.error = e
            raise

    def handle(self, s) -> None:
        if local(s) == "iq":
            item_id = self.pending.pop(s.get("id"), None)
            if item_id is not None:
                with self.ledger.lock:
                    if s.get("type") == "result":
                        self.ledger.acked[item_id].append(self.name)
                        self.ledger.acked_at.setdefault(item_id, time.monotonic())
                    else:
                        self.ledger.ack_errors += 1
            return
        if local(s) != "message":
            return
        for item_id in unlocked_of(s, self.node):
            with self.ledger.lock:
                self.ledger.unlocks.append((self.name, item_id))
        for item_id in items_of(s, self.node):
            if self.drop.is_set():
                return
            self.received.append(item_id)
            with self.ledger.lock:
                self.ledger.delivered[item_id] += 1
            if self.work_s:
                time.sleep(self.work_s)
            if self.on_item is None or self.on_item(self, item_id):
                self.send_ack(item_id)

    def send_ack(self, item_id: str) -> None:
        with self.ledger.lock:
            self.ledger.ack_sent.setdefault(item_id, time.monotonic())
        iq_id = self.client.next_id()
        self.pending[iq_id] = item_id
        if self.ack == "retract":
            body = f"<retract node='{esc(self.node)}'><item id='{esc(item_id)}'/></retract>"
        else:
            body = (f"<ack xmlns='{NS_QUEUE}' node='{esc(self.node)}'>"
                    f"<item id='{esc(item_id)}'/></ack>")
        self.client.send_raw(f"<iq type='set' to='{SERVICE}' id='{esc(iq_id)}'>"
                             f"<pubsub xmlns='{NS_PUBSUB}'>{body}</pubsub></iq>")

    def unlock(self, item_id: str) -> None:
        iq_id = self.client.next_id()
        self.client.send_raw(f"<iq type='set' to='{SERVICE}' id='{esc(iq_id)}'>"
                             f"<pubsub xmlns='{NS_PUBSUB}'><unlock xmlns='{NS_QUEUE}' "
                             f"node='{esc(self.node)}'><item id='{esc(item_id)}'/></unlock></pubsub></iq>")


def wait_until(cond: Callable[[], bool], timeout: float, what: str,
               consumers: Iterable[Consumer] = ()) -> None:
    """Polls `cond`; fails at once when a consumer thread died."""
    deadline = time.monotonic() + timeout
    consumers = list(consumers)
    while not cond():
        dead = [c for c in consumers if c.error is not None]
        if dead:
            raise RuntimeError(f"consumer {dead[0].name} failed: {dead[0].error!r}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)
