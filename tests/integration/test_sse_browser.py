"""Issue 13 in a browser: `GET /v1/nodes/{node}/events` read by the
browser's own `EventSource` in headless Chromium (tests/js/sse_eventsource.mjs,
driven by playwright-core), not by an SSE library. Live events arrive as
named `item` events with the stanza-id as `lastEventId`; after a kill -9 and
a restart of Herald the EventSource reconnects by itself with
`Last-Event-ID` and gets what was published while it was away: exactly the
items published, in order, with no duplicate.

EventSource cannot send headers: the browser context adds the bearer token
to every request (including EventSource's), and the page is a fake URL on
Herald's origin (page.route), so the stream is same-origin (no CORS).
"""

from __future__ import annotations

import json
import re

import pytest

from heraldtest.browser import BrowserScript
from heraldtest.harness import Herald
from heraldtest.ingest import request

PUBLISH = "sse-publish-token-0123456"
READ = "sse-read-token-0123456789"
TOKENS = {
    "pub": {"token": PUBLISH, "nodes": ["feed-*"], "create": True},
    "reader": {"token": READ, "nodes": ["feed-*"], "scopes": ["read"]},
}


def publish(h: Herald, node: str, item_id: str, payload: dict | None = None) -> None:
    status, _, reply = request(h, "PUT", f"/v1/nodes/{node}/items/{item_id}",
                               payload or {"n": item_id}, token=PUBLISH)
    assert status in (200, 201), reply


class Browser(BrowserScript):
    """sse_eventsource.mjs in the background; its JSON lines land in
    `lines` as they come."""

    def __init__(self, h: Herald, node: str, count: int, timeout_ms: int = 30000):
        super().__init__("sse_eventsource.mjs", h.http_url, node, READ, str(count),
                         str(timeout_ms))

    def of(self, kind: str) -> list[dict]:
        return [l for l in list(self.lines) if l["event"] == kind]

    def events(self) -> list[dict]:
        return [l for l in list(self.lines) if not l["event"].startswith("_")]

    def wait(self, what: str, cond, timeout: float = 15) -> None:
        self.wait_until(what, cond, timeout)

    def finish(self, timeout: float = 40) -> int:
        return super().finish(timeout)


def test_browser_eventsource_resumes_by_itself_across_kill_9(herald_factory):
    herald = herald_factory(config={"http": {"tokens": TOKENS}})
    node = "feed-browser"
    publish(herald, node, "before")          # creates the node; not in the stream
    browser = Browser(herald, node, count=5)
    try:
        browser.wait("the EventSource to open", lambda: browser.of("_open"))
        for i in (1, 2, 3):
            publish(herald, node, f"i{i}")
        browser.wait("3 live events", lambda: len(browser.events()) >= 3)

        herald.restart(hard=True)            # kill -9: the stream breaks under the browser
        for i in (4, 5):
            publish(herald, node, f"i{i}")
        code = browser.finish()
        out = browser.report()
        assert code == 0, f"sse_eventsource.mjs exited {code}\n{out}"

        events = browser.events()
        assert [e["event"] for e in events] == ["item"] * 5, out
        bodies = [json.loads(e["data"]) for e in events]
        assert [b["item_id"] for b in bodies] == ["i1", "i2", "i3", "i4", "i5"], out
        assert all(b["type"] == "item.published" and b["node"] == node for b in bodies)
        assert [b["payload"] for b in bodies] == [{"n": f"i{i}"} for i in range(1, 6)]
        # lastEventId is the stanza-id (32 hex), one per event, none repeated.
        ids = [e["id"] for e in events]
        assert ids == [b["stanza_id"] for b in bodies], out
        assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids), ids
        assert len(set(ids)) == 5, ids
        seqs = [b["sequence"] for b in bodies]
        assert seqs == sorted(seqs) and len(set(seqs)) == 5, seqs

        # The browser reconnected by itself (after Herald's `retry:` 2000 ms,
        # by which time i4 and i5 are normally published, so they come from
        # the catch-up) and said where it was: the headers as sent on the
        # wire, every reconnection with i3's stanza-id as Last-Event-ID.
        requests = browser.of("_request")
        assert requests[0]["last_event_id"] is None, out
        assert all(r["authorized"] for r in requests), out
        assert len(requests) >= 2 and all(r["last_event_id"] == ids[2]
                                          for r in requests[1:]), out
        assert len(browser.of("_open")) == 2, out
        ok = [r for r in browser.of("_response") if r["status"] == 200]
        assert len(ok) == 2 and all(r["content_type"].startswith("text/event-stream")
                                    for r in ok), out
        assert browser.of("_done")[-1]["ok"] is True, out
    finally:
        browser.close()
