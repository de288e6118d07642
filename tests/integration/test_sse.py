"""Issue 13, the log as Server-Sent Events: `GET /v1/nodes/{node}/events`
read with a real SSE client library (httpx-sse), against a real Herald
and ejabberd: live events (XMPP and HTTP publishes, an XMPP retraction),
resume by Last-Event-ID across a kill -9 with no gap and no duplicate,
a reset on a trimmed cursor, a slow reader closed without affecting a
fast one, and access refused without a read token.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest
from httpx_sse import connect_sse

from heraldtest import entity
from heraldtest.harness import Herald
from heraldtest.ingest import request

PUBLISH = "sse-publish-token-0123456"
READ = "sse-read-token-0123456789"
OTHER_READ = "sse-other-read-token-0123"
TOKENS = {
    "pub": {"token": PUBLISH, "nodes": ["feed-*"], "create": True},
    "reader": {"token": READ, "nodes": ["feed-*"], "scopes": ["read"]},
    "elsewhere": {"token": OTHER_READ, "nodes": ["billing"], "scopes": ["read"]},
}


@pytest.fixture
def herald(herald_factory) -> Herald:
    return herald_factory(config={"http": {"tokens": TOKENS}})


def publish(h: Herald, node: str, item_id: str, payload: dict | None = None) -> None:
    status, _, reply = request(h, "PUT", f"/v1/nodes/{node}/items/{item_id}",
                               payload or {"n": item_id}, token=PUBLISH)
    assert status in (200, 201), reply


class Stream:
    """An SSE stream read on a thread: events land in `events` as they come."""

    def __init__(self, h: Herald, node: str, last_id: str | None = None,
                 token: str = READ):
        self.events: list = []
        self.headers: dict = {}
        self.status: int | None = None
        self.opened = threading.Event()
        self.ended = threading.Event()
        self.error: Exception | None = None
        headers = {"Authorization": f"Bearer {token}"}
        if last_id is not None:
            headers["Last-Event-ID"] = last_id
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=60))
        self._thread = threading.Thread(
            target=self._run, args=(f"{h.http_url}/v1/nodes/{node}/events", headers),
            daemon=True)
        self._thread.start()
        assert self.opened.wait(10), "stream did not open"

    def _run(self, url: str, headers: dict) -> None:
        try:
            with connect_sse(self._client, "GET", url, headers=headers) as source:
                self.status = source.response.status_code
                self.headers = dict(source.response.headers)
                self.opened.set()
                if self.status != 200:
                    return
                for sse in source.iter_sse():
                    # A block with no data (the `retry:` hint) is no event
                    # (HTML, "dispatch the event": empty data is dropped).
                    if sse.data:
                        self.events.append(sse)
        except Exception as e:  # the stream closed under us: reported to the test
            self.error = e
        finally:
            self.opened.set()
            self.ended.set()

    def wait_for(self, count: int, timeout: float = 10) -> list:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.events

    def close(self) -> None:
        self._client.close()
        self._thread.join(5)


def data(sse) -> dict:
    return json.loads(sse.data)


def test_live_events_carry_the_json_body_and_stanza_ids(herald, connect):
    node = "feed-live"
    publish(herald, node, "before")          # creates the node; not in the stream
    stream = Stream(herald, node)
    try:
        assert stream.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        publish(herald, node, "one", {"type": "app.created", "app": "shiny"})
        alice = connect("admin")
        entity.publish_ok(alice, node, [("two", "<entry xmlns='urn:t'>x</entry>")])
        reply = entity.retract(alice, node, "one")
        assert reply.get("type") == "result"
        events = stream.wait_for(3)
        assert [e.event for e in events] == ["item", "item", "retract"], [e.data for e in events]
        one, two, gone = (data(e) for e in events)
        assert one["type"] == "item.published" and one["item_id"] == "one"
        assert one["payload"] == {"type": "app.created", "app": "shiny"}
        assert "urn:t" in two["payload"] and ">x</entry>" in two["payload"], two
        assert two["publisher"] == "admin@localhost"
        assert gone["type"] == "item.retracted" and gone["item_id"] == "one"
        assert gone["payload"] is None
        ids = [e.id for e in events]
        assert len(set(ids)) == 3 and [data(e)["stanza_id"] for e in events] == ids
        seqs = [d["sequence"] for d in (one, two, gone)]
        assert seqs == sorted(seqs) and len(set(seqs)) == 3
        assert all(d["node"] == node and d["time"].endswith("Z") for d in (one, two, gone))
    finally:
        stream.close()


def test_resume_by_last_event_id_across_kill_9_has_no_gap_or_duplicate(herald):
    node = "feed-resume"
    publish(herald, node, "i0")
    stream = Stream(herald, node)
    for i in range(1, 6):
        publish(herald, node, f"i{i}")
    first = stream.wait_for(5)
    assert [data(e)["item_id"] for e in first] == [f"i{i}" for i in range(1, 6)]
    last_id = first[2].id                    # the client saw i1..i3 and went away
    stream.close()
    herald.restart(hard=True)
    for i in range(6, 9):
        publish(herald, node, f"i{i}")
    resumed = Stream(herald, node, last_id=last_id)
    try:
        assert resumed.status == 200
        assert "herald-events-reset" not in resumed.headers
        # Catch-up from the log, then live at the seam.
        resumed.wait_for(5)
        for i in range(9, 12):
            publish(herald, node, f"i{i}")
        got = resumed.wait_for(8)
        time.sleep(0.3)
        assert [data(e)["item_id"] for e in got] == [f"i{i}" for i in range(4, 12)]
        assert len({e.id for e in got}) == len(got)
        # ?last_event_id= works as the header does.
        url = f"/v1/nodes/{node}/events?last_event_id={got[-2].id}"
        with httpx.Client(timeout=httpx.Timeout(10, read=3)) as c:
            with connect_sse(c, "GET", herald.http_url + url,
                             headers={"Authorization": f"Bearer {READ}"}) as source:
                for sse in source.iter_sse():
                    if sse.data:
                        assert data(sse)["item_id"] == "i11"
                        break
    finally:
        resumed.close()


def test_a_trimmed_cursor_is_reported_with_the_oldest_id_kept(herald_factory):
    h = herald_factory(config={"http": {"tokens": TOKENS},
                               "retention": {"history_max_entries": 3}})
    node = "feed-trim"
    publish(h, node, "i0")
    stream = Stream(h, node)
    for i in range(1, 11):
        publish(h, node, f"i{i}")
    events = stream.wait_for(10)
    stream.close()
    assert len(events) == 10
    old = events[0].id                       # i1: long trimmed from the history
    time.sleep(2.5)                          # the retention sweep runs every second
    resumed = Stream(h, node, last_id=old)
    try:
        assert resumed.headers.get("herald-events-reset") == "true"
        got = resumed.wait_for(4)
        assert got[0].event == "reset", got
        reset = data(got[0])
        assert reset["lost_after"] == old
        kept = [data(e)["item_id"] for e in got[1:]]
        assert kept == ["i8", "i9", "i10"]
        assert reset["oldest_id"] == got[1].id
    finally:
        resumed.close()
    # An ID that is no event of this node is refused, not read as "from now".
    status, _, reply = request(h, "GET", f"/v1/nodes/{node}/events", token=READ,
                               headers={"Last-Event-ID": "not-an-id"})
    assert status == 400 and reply["error"] == "unknown_event_id", reply


def test_a_slow_reader_is_closed_and_a_fast_one_gets_everything(herald):
    node = "feed-slow"
    publish(herald, node, "i0")
    # The slow client: asks for the stream, then never reads.
    host, port = herald.http_url.removeprefix("http://").split(":")
    slow = socket.create_connection((host, int(port)))
    slow.sendall((f"GET /v1/nodes/{node}/events HTTP/1.1\r\nHost: x\r\n"
                  f"Authorization: Bearer {READ}\r\n\r\n").encode())
    fast = Stream(herald, node)
    try:
        big = "x" * 8000
        total = 1500
        for i in range(1, total + 1):
            publish(herald, node, f"i{i}", {"pad": big})
        got = fast.wait_for(total, timeout=60)
        assert len(got) == total, f"fast reader got {len(got)} of {total}"
        assert [data(e)["item_id"] for e in got] == [f"i{i}" for i in range(1, total + 1)]
        # The slow one was cut (its queue full for 5 s): its socket ends
        # after what was buffered.
        time.sleep(6)
        slow.settimeout(20)
        received = 0
        while True:
            chunk = slow.recv(1 << 20)
            if not chunk:
                break
            received += len(chunk)
        assert received < total * 8000, "the slow reader got everything: it was not cut"
        assert "did not keep up" in herald.log_text()
    finally:
        slow.close()
        fast.close()


def test_access_needs_a_read_token_for_the_node(herald):
    publish(herald, "feed-acl", "i1")
    path = "/v1/nodes/feed-acl/events"
    status, headers, _ = request(herald, "GET", path, token=None)
    assert status == 401 and "bearer" in headers.get("www-authenticate", "").lower()
    status, _, reply = request(herald, "GET", path, token=PUBLISH)
    assert status == 403 and "read" in reply["message"], reply
    status, _, reply = request(herald, "GET", path, token=OTHER_READ)
    assert status == 403, reply
    status, _, reply = request(herald, "GET", "/v1/nodes/feed-none/events", token=READ)
    assert status == 404, reply


def test_a_quiet_stream_gets_the_retry_hint_and_a_keep_alive_comment(herald):
    publish(herald, "feed-quiet", "i0")
    host, port = herald.http_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=25) as s:
        s.sendall((f"GET /v1/nodes/feed-quiet/events HTTP/1.1\r\nHost: x\r\n"
                   f"Authorization: Bearer {READ}\r\n\r\n").encode())
        started, got = time.monotonic(), b""
        while b"\n:" not in got and time.monotonic() - started < 20:
            got += s.recv(4096)
        took = time.monotonic() - started
    assert b"retry: 2000" in got, got
    assert b"\n:" in got, f"no keep-alive comment in {took:.0f} s: {got!r}"
    assert took <= 17, f"first keep-alive after {took:.1f} s"


def test_a_collection_stream_follows_its_leaves_with_one_cursor(herald, connect):
    """Issue 17: an SSE stream naming a collection (XEP-0248) carries the
    events of every leaf below it (any depth) in one order, each naming its
    leaf and the collection; Last-Event-ID resumes across all leaves; a
    leaf the token may not read stays out."""
    from heraldtest.owner import create_ok, publish_ok
    admin = connect("admin")
    coll = {"pubsub#node_type": "collection"}
    create_ok(admin, "feed-all", coll)
    create_ok(admin, "feed-sub", {**coll, "pubsub#collection": "feed-all"})
    create_ok(admin, "feed-a", {"pubsub#collection": "feed-all"})
    create_ok(admin, "feed-b", {"pubsub#collection": "feed-sub"})
    create_ok(admin, "secret-x", {"pubsub#collection": "feed-all"})   # not feed-*
    stream = Stream(herald, "feed-all")
    try:
        assert stream.status == 200
        publish(herald, "feed-a", "a1")
        publish_ok(admin, "secret-x", "x1")
        publish(herald, "feed-b", "b1")
        live = stream.wait_for(2)
        assert [(data(e)["node"], data(e)["item_id"]) for e in live] == [
            ("feed-a", "a1"), ("feed-b", "b1")], [e.data for e in live]
        assert all(data(e)["collection"] == "feed-all" for e in live)
        seen = live[-1].id
    finally:
        stream.close()
    publish(herald, "feed-a", "a2")
    publish_ok(admin, "secret-x", "x2")
    publish(herald, "feed-b", "b2")
    assert entity.retract(admin, "feed-a", "a1").get("type") == "result"
    resumed = Stream(herald, "feed-all", last_id=seen)
    try:
        got = resumed.wait_for(3)
        time.sleep(0.5)                      # nothing more may follow
        assert [(e.event, data(e)["node"], data(e)["item_id"]) for e in resumed.events] == [
            ("item", "feed-a", "a2"), ("item", "feed-b", "b2"), ("retract", "feed-a", "a1")]
        ids = [e.id for e in got]
        assert len(set(ids)) == 3 and seen not in ids
        # The ids are the collection's: MAM on it knows them as cursors.
        seqs = [data(e)["sequence"] for e in got]
        assert seqs == sorted(seqs)
    finally:
        resumed.close()
