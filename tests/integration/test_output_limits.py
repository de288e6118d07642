"""Issue 16 defect 3: nothing Herald sends is larger than
`limits.max_stanza_bytes`.

A reply or notification over ejabberd's component `max_stanza_size` makes
ejabberd close the component stream (policy-violation) for everyone. The
sandbox ejabberd allows 4 MiB; Herald's limit here is lower (1 MiB), so the
tests also show that the limit is Herald's own: every stanza a client gets
is checked against it. Each test ends with the component link never having
dropped (`herald_link_reconnects_total` stays 0) and the client holding
every item, got by paging.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Optional

from heraldtest.client import Client
from heraldtest.harness import REPO, Herald
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import NS_DISCO_ITEMS, NS_PUBSUB, NS_RSM, tostring

NS_EVENT = "http://jabber.org/protocol/pubsub#event"
TOKEN = "limits-token-0123456789"
LIMIT = 1024 * 1024          # Herald's max_stanza_bytes in these tests
ITEM_BYTES = 60_000
CONFIG = {
    "http": {"tokens": {"fill": {"token": TOKEN, "nodes": ["*"], "create": True}}},
    "limits": {"max_stanza_bytes": LIMIT},
    "pubsub": {"default_max_items": 1000},
}


def http_request(h: Herald, method: str, path: str, body: bytes = b"") -> tuple[int, str]:
    url = urllib.parse.urlparse(h.http_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers={
            "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def reconnects(h: Herald) -> int:
    status, text = http_request(h, "GET", "/metrics")
    assert status == 200
    for line in text.splitlines():
        if line.startswith("herald_link_reconnects_total "):
            return int(line.split()[1])
    raise AssertionError("no herald_link_reconnects_total in /metrics")


def publish_batch(h: Herald, node: str, n: int, size: int = ITEM_BYTES) -> list[str]:
    """n items of about `size` bytes each in one HTTP batch."""
    ids = [f"big-{i:03}" for i in range(n)]
    body = {"items": [{"id": i, "json": i + ":" + "x" * (size - 20)} for i in ids]}
    status, text = http_request(h, "POST", f"/v1/nodes/{node}/items:batch",
                                json.dumps(body).encode())
    assert status == 200, text
    return ids


def within_limit(stanza) -> None:
    size = len(tostring(stanza).encode())
    assert size <= LIMIT, f"a {size}-byte stanza reached the client (limit {LIMIT})"


def items_iq(node: str, rsm: str = "", max_items: Optional[int] = None) -> str:
    mi = f" max_items='{max_items}'" if max_items else ""
    return (f"<iq type='get' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
            f"<items node='{node}'{mi}/>{rsm}</pubsub></iq>")


def page_of(reply) -> tuple[list[str], dict]:
    within_limit(reply)
    items = reply.findall(f"{{{NS_PUBSUB}}}pubsub/{{{NS_PUBSUB}}}items/{{{NS_PUBSUB}}}item")
    for item in items:
        assert len(item) == 1, f"item {item.get('id')} came without its payload"
    s = reply.find(f"{{{NS_PUBSUB}}}pubsub/{{{NS_RSM}}}set")
    rsm = {} if s is None else {c.tag.split("}")[1]: c.text for c in s}
    return [i.get("id") for i in items], rsm


def test_items_of_100_large_items_are_paged_within_the_limit(herald_factory, connect,
                                                             unique_name):
    h = herald_factory(config=CONFIG)
    node = unique_name("big-items")
    ids = publish_batch(h, node, 100)
    alice = connect("alice")

    # Without RSM (§6.5.4): the newest items that fit, and a <set/> to page on.
    got, rsm = page_of(alice.iq_ok(items_iq(node), timeout=30))
    assert 0 < len(got) < 100 and rsm.get("count") == "100", rsm
    assert got == ids[-len(got):], "the newest items, oldest first"
    while rsm.get("first") and len(got) < 100:
        older, rsm = page_of(alice.iq_ok(items_iq(
            node, f"<set xmlns='{NS_RSM}'><before>{rsm['first']}</before></set>"), timeout=30))
        assert older, "paging backwards stalled"
        got = older + got
    assert got == ids

    # max_items (§6.5.7) is truncated the same way.
    got, rsm = page_of(alice.iq_ok(items_iq(node, max_items=100), timeout=30))
    assert 0 < len(got) < 100 and rsm.get("count") == "100"

    # With RSM: a page stops before the limit; <last/> says where to go on.
    forward: list[str] = []
    after = ""
    while len(forward) < 100:
        page, rsm = page_of(alice.iq_ok(items_iq(
            node, f"<set xmlns='{NS_RSM}'><max>100</max>{after}</set>"), timeout=30))
        assert page, "paging forwards stalled"
        forward += page
        after = f"<after>{rsm['last']}</after>"
    assert forward == ids
    assert reconnects(h) == 0


def test_a_batch_of_100_large_items_reaches_every_subscriber_live(herald_factory, connect,
                                                                  unique_name, users):
    h = herald_factory(config=CONFIG)
    node = unique_name("big-batch")
    assert http_request(h, "PUT", f"/v1/nodes/{node}/items/seed",
                        json.dumps({"n": 0}).encode())[0] == 201
    subscribers = [connect(u) for u in ("bob", "carol")]
    for c, user in zip(subscribers, ("bob", "carol")):
        c.iq_ok(f"<iq type='set' to='{SERVICE}'><pubsub xmlns='{NS_PUBSUB}'>"
                f"<subscribe node='{node}' jid='{users[user]}'/></pubsub></iq>")
    ids = publish_batch(h, node, 100)
    for c in subscribers:
        got: list[str] = []
        deadline = time.monotonic() + 30
        while len(got) < 100 and time.monotonic() < deadline:
            for m in c.messages(timeout=0.5):
                within_limit(m)
                for item in m.findall(f"{{{NS_EVENT}}}event/{{{NS_EVENT}}}items/"
                                      f"{{{NS_EVENT}}}item"):
                    assert len(item) == 1, "a 60 KB item fits alone: payload expected"
                    got.append(item.get("id"))
        assert got == ids, f"got {len(got)} of 100 live, in order"
    assert reconnects(h) == 0


def fill_nodes(h: Herald, prefix: str, count: int) -> list[str]:
    """Creates `count` nodes in the stopped Herald's store in one commit
    (tests/tools/fill_nodes.rs): one create IQ each would take minutes."""
    subprocess.run(["cargo", "build", "-q", "--example", "fill_nodes"], cwd=REPO, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    out = subprocess.run([str(target / "debug" / "examples" / "fill_nodes"), str(h.data_dir),
                          prefix, str(count)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(count), out.stderr
    return [f"{prefix}{i:0{len(str(count))}}" for i in range(count)]


def disco_page(c: Client, rsm: str = "") -> tuple[list[str], dict]:
    reply = c.iq_ok(f"<iq type='get' to='{SERVICE}'><query xmlns='{NS_DISCO_ITEMS}'>"
                    f"{rsm}</query></iq>", timeout=30)
    within_limit(reply)
    q = reply.find(f"{{{NS_DISCO_ITEMS}}}query")
    s = q.find(f"{{{NS_RSM}}}set")
    rsm_out = {} if s is None else {e.tag.split("}")[1]: e.text for e in s}
    return [i.get("node") for i in q.findall(f"{{{NS_DISCO_ITEMS}}}item")], rsm_out


def test_disco_items_of_100000_nodes_pages_with_rsm(herald_factory, connect):
    # A page size limit above the node count, so only the size limit can
    # keep the unpaged answer small.
    h = herald_factory(config={**CONFIG, "limits": {"max_stanza_bytes": LIMIT,
                                                   "max_items_per_page": 200_000}},
                       start=False)
    names = fill_nodes(h, "n", 100_000)
    h.start().wait_ready()
    admin = connect("admin")

    # Without RSM: what fits, and a <set/> saying the list goes on.
    first, rsm = disco_page(admin)
    assert 0 < len(first) < 100_000 and rsm.get("count") == "100000", rsm
    assert first == names[:len(first)]

    seen: list[str] = []
    after = ""
    while True:
        page, rsm = disco_page(admin, f"<set xmlns='{NS_RSM}'><max>100000</max>{after}</set>")
        if not page:
            break
        seen += page
        after = f"<after>{rsm['last']}</after>"
    assert seen == names
    # Backwards from the end: the last page (XEP-0059 §2.5).
    last, rsm = disco_page(admin, f"<set xmlns='{NS_RSM}'><max>10</max><before/></set>")
    assert last == names[-10:] and rsm["count"] == "100000"
    # The chat `list` command names what fits one message, then says so.
    admin.send_raw(f"<message to='{SERVICE}' type='chat'><body>list</body></message>")
    reply = admin.wait_for(lambda s: s.tag.endswith("message") and s.get("from") == SERVICE,
                           timeout=30)
    within_limit(reply)
    body = next(e.text for e in reply if e.tag.endswith("body"))
    assert "n000000" in body and "more" in body
    assert reconnects(h) == 0
