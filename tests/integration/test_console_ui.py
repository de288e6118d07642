"""Issue 14 (second part), the operator's web console at `/ui`, in headless
Chromium (tests/js/console_ui.mjs, driven by playwright-core) against a
real Herald and ejabberd: the page is static and served without a token,
with a strict CSP; a wrong token shows an error and no data; with the
admin token the browser sees the status, finds the node made over XMPP in
Nodes, opens it and sees items published over HTTP arrive in its live
tail (SSE read with fetch), then on Groups finds a real dead letter (a
consumer group's nack past `max_deliveries`) and resends it with its
button: it disappears, and the API agrees.

With HERALD_SCREENSHOT_DIR set, the browser saves screenshots there
(docs/console/*.png come from this test).
"""

from __future__ import annotations

import threading
import time

import pytest

from heraldtest import entity, owner
from heraldtest.browser import BrowserScript
from heraldtest.harness import Herald
from heraldtest.ingest import request

ADMIN = "console-ui-admin-token-0123"
PUBLISH = "console-ui-publish-token-01"
TOKENS = {
    "ops": {"token": ADMIN, "nodes": ["*"], "scopes": ["admin", "read", "webhooks"]},
    "pub": {"token": PUBLISH, "nodes": ["*"], "create": True},
}
CSP = ("default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline' 'self'; "
       "connect-src 'self'; img-src 'self' data:")
NODE = "ui-xmpp"
JOBS = "ui-jobs"
LIVE = ["live-1", "live-2"]


def publish(h: Herald, node: str, item_id: str, payload: dict) -> None:
    status, _, reply = request(h, "PUT", f"/v1/nodes/{node}/items/{item_id}", payload,
                               token=PUBLISH)
    assert status in (200, 201), reply


class Browser(BrowserScript):
    """console_ui.mjs in the background; its JSON lines (steps) land in
    `lines`."""

    def __init__(self, h: Herald, timeout_ms: int = 20000):
        super().__init__("console_ui.mjs", h.http_url, ADMIN, NODE, JOBS, "j1", ",".join(LIVE),
                         str(timeout_ms))

    def step(self, name: str) -> dict:
        found = [s for s in list(self.lines) if s["step"] == name]
        assert found, f"no step {name!r}:\n{self.report()}"
        return found[-1]

    def wait(self, name: str, timeout: float = 60) -> dict:
        def reached():
            found = [s for s in list(self.lines) if s["step"] in (name, "done")]
            if found and found[0]["step"] == "done" and name != "done":
                pytest.fail(f"the browser script ended before {name}:\n{self.report()}")
            return found[0] if found else None
        return self.wait_until(name, reached, timeout)

    def finish(self, timeout: float = 60) -> int:
        return super().finish(timeout)


def make_dead_letter(h: Herald, alice, connect) -> None:
    """A consumer group on JOBS whose only member nacks j1 past
    max_deliveries (1): j1 becomes a dead letter."""
    from heraldtest.queueing import create_node, items_of, join, poll, publish_pipelined
    from heraldtest.sandbox import SERVICE
    from heraldtest.stanza import NS_PUBSUB, NS_QUEUE, esc
    bob = connect("bob", resource="worker")
    create_node(alice, JOBS)
    join(bob, JOBS, "workers", 1)
    assert publish_pipelined(alice, JOBS, ["j1"]) == 1
    seen, deadline = [], time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        seen = [i for m in poll(bob, 0.2) for i in items_of(m)]
    assert seen == ["j1"], seen
    bob.iq_ok(f"<iq type='set' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
              f"<unlock xmlns='{NS_QUEUE}' node='{esc(JOBS)}'><item id='j1'/></unlock>"
              f"</pubsub></iq>")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status, _, page = request(h, "GET", f"/v1/nodes/{JOBS}/dead-letters", token=ADMIN)
        if status == 200 and page["dead_letters"]:
            break
        time.sleep(0.1)
    assert [d["item_id"] for d in page["dead_letters"]] == ["j1"], page


@pytest.mark.timeout(180)
def test_the_console_shows_nodes_a_live_tail_and_resends_a_dead_letter(herald_factory, connect):
    herald = herald_factory(config={"http": {"tokens": TOKENS},
                                    "queue": {"max_deliveries": 1, "tick_ms": 50}})
    # The page itself: static, no token needed, a strict policy.
    for path in ("/ui", "/ui/"):
        status, headers, body = request(herald, "GET", path, token=None, content_type=None)
        assert status == 200, (path, body)
        assert headers["content-type"] == "text/html; charset=utf-8", headers
        assert headers["cache-control"] == "no-cache", headers
        assert headers["content-security-policy"] == CSP, headers
        assert "<title>Herald console</title>" in body["raw"]
    alice = connect("alice")
    owner.create_ok(alice, NODE)
    publish(herald, "ui-http", "a", {"made": "over http"})
    entity.subscribe_ok(alice, "ui-http")
    make_dead_letter(herald, alice, connect)

    browser = Browser(herald)
    # Some traffic while the browser is on Overview, so its chart has rates.
    stop = threading.Event()

    def ticks() -> None:
        for n in range(200):
            if stop.wait(0.25):
                return
            publish(herald, "ui-http", f"tick-{n}", {"tick": n})

    ticker = threading.Thread(target=ticks, daemon=True)
    ticker.start()
    try:
        browser.wait("tail_open", timeout=90)
        stop.set()
        ticker.join(5)
        for i, item in enumerate(LIVE):
            publish(herald, NODE, item, {"n": i + 1, "from": "test_console_ui"})
        done = browser.wait("done", timeout=60)
        code = browser.finish()
        out = browser.report()
        assert code == 0 and done["ok"], f"console_ui.mjs exited {code}\n{out}"

        page = browser.step("page")
        assert page["status"] == 200 and page["csp"] == CSP, out
        wrong = browser.step("wrong_token")
        assert "401" in wrong["error"] and not wrong["app_visible"], out
        assert wrong["stored"] == 0, "a refused token is not kept"
        ov = browser.step("overview")
        assert ov["link"] == "up" and ov["http"] >= 1 and ov["xmpp"] >= 1, out
        assert ov["session"] == ADMIN and ov["local"] == 0, "the token lives in sessionStorage only"
        assert ov["webhooks_nav"] is True, "the token has the webhooks scope"
        assert ov["operations"] == ["No long operations yet."], out
        nodes = browser.step("nodes")
        assert {NODE, JOBS, "ui-http"} <= set(nodes["all"]), out
        assert nodes["filtered"] == [NODE], out
        assert browser.step("tail_open")["hash"] == f"#/node/{NODE}"
        tail = browser.step("tail")
        # Newest first, each one an `item` event from the stream.
        assert [t["id"] for t in tail["items"]] == list(reversed(LIVE)), out
        assert all(t["event"] == "item" for t in tail["items"]), out
        assert '"from":"test_console_ui"' in tail["items"][0]["text"], out
        assert "pubsub#max_items" in tail["config"], out
        groups = browser.step("groups")
        assert {"node": JOBS, "group": "workers", "members": 1} in groups["groups"], out
        assert browser.step("resent")["error_visible"] is False, out
        checks = browser.step("checks")
        assert checks["foreign_requests"] == [] and checks["page_errors"] == [], out
        assert browser.step("webhooks")["rows"] == ["No webhook endpoints."], out
    finally:
        stop.set()
        browser.close()
    # The API agrees: the dead letter is gone.
    status, _, page = request(herald, "GET", f"/v1/nodes/{JOBS}/dead-letters", token=ADMIN)
    assert status == 200 and page["dead_letters"] == [], page
