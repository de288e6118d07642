"""Issue 16: a seeded, bounded stanza fuzzer over real ejabberd.

Three c2s clients send random and mutated stanzas to Herald's domain:
XEP-0060 (owner and entity use cases, forms, RSM), XEP-0059 sets,
XEP-0313 queries, XEP-0254 ack/unlock, disco, ping, presence, messages
(chat commands). Mutations change namespaces and attributes, drop,
duplicate or add children, put empty, huge, unicode or control-character
values (only what XML and ejabberd carry), and nest moderately.

Asserted over the run:
- every IQ get/set gets exactly one result or error (within IQ_TIMEOUT),
  and no IQ result/error sent to Herald is answered;
- the component link never drops (`herald_link_reconnects_total` stays 0,
  `herald_link_up` stays 1);
- Herald is alive and never panicked (its log);
- the items published before fuzzing are all there with their payloads.

CI runs HERALD_FUZZ_STANZAS (default 5000) stanzas; a nightly-style run
sets e.g. HERALD_FUZZ_STANZAS=100000. HERALD_FUZZ_SEED replays a run: the
seed is printed at the start and in every failure.

Two input classes that broke Herald before issue 16's fixes (deep
nesting, over-long attributes) are on by default; the HERALD_FUZZ_AWAITING_*
flags below can leave them out ("1") when bisecting an old build.
"""

from __future__ import annotations

import collections
import http.client
import os
import random
import re
import select
import socket
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Optional

from heraldtest import ops as ps
from heraldtest.client import Client, StreamError
from heraldtest.sandbox import SERVICE
from heraldtest.stanza import (NS_DATA, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_MAM, NS_PING,
                               NS_PUBSUB, NS_QUEUE, NS_RSM, NS_SHIM, esc, local, tostring)

STANZAS = int(os.environ.get("HERALD_FUZZ_STANZAS", "5000"))
SEED = int(os.environ.get("HERALD_FUZZ_SEED", str(random.SystemRandom().randrange(2**32))))
CLIENTS = ("alice", "bob", "carol")
WINDOW = 24            # outstanding IQs per client
IQ_TIMEOUT = 20.0      # seconds for each IQ's answer
KNOWN_ITEMS = 12

# Input classes that broke Herald before issue 16's fixes: included by
# default ("0"); "1" leaves the class out (for bisecting an older build).
#   HERALD_FUZZ_AWAITING_DEPTH_LIMIT (defect 2): nesting chains up to 1,000
#     levels (ejabberd 23.01 itself segfaulted once at 2,500); an old debug
#     build's stanza reader overflows its stack from about 700. While ON
#     the deepest chain is 200.
#   HERALD_FUZZ_AWAITING_TOKEN_LIMIT (defect 4): an attribute value over
#     1 MiB, which drops the component link.
AWAIT_DEPTH_LIMIT = os.environ.get("HERALD_FUZZ_AWAITING_DEPTH_LIMIT", "0") != "0"
AWAIT_TOKEN_LIMIT = os.environ.get("HERALD_FUZZ_AWAITING_TOKEN_LIMIT", "0") != "0"


# render() and walk() recurse once per level of nesting.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))

NS_OWNER = "http://jabber.org/protocol/pubsub#owner"
NS_EVENT = "http://jabber.org/protocol/pubsub#event"
NAMESPACES = [NS_PUBSUB, NS_OWNER, NS_EVENT, NS_DATA, NS_RSM, NS_MAM, NS_QUEUE,
              NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, NS_SHIM, "jabber:client",
              "urn:xmpp:json:0", "urn:example:fuzz", "", "http://jabber.org/protocol/pubsub#",
              "HTTP://JABBER.ORG/PROTOCOL/PUBSUB", "urn:xmpp:mam:1", "jabber:iq:version"]
FORM_TYPES = ["http://jabber.org/protocol/pubsub#node_config",
              "http://jabber.org/protocol/pubsub#subscribe_options",
              "http://jabber.org/protocol/pubsub#publish-options",
              "http://jabber.org/protocol/pubsub#meta-data", NS_MAM, "urn:example:form", ""]
FIELD_VARS = ["pubsub#max_items", "pubsub#access_model", "pubsub#publish_model",
              "pubsub#persist_items", "pubsub#deliver_payloads", "pubsub#notify_retract",
              "pubsub#item_expire", "pubsub#roster_groups_allowed", "pubsub#title",
              "pubsub#type", "pubsub#max_payload_size", "pubsub#send_last_published_item",
              "pubsub#notification_type", "pubsub#presence_based_delivery",
              "pubsub#deliver", "pubsub#digest", "pubsub#include_body", "pubsub#expire",
              "pubsub#subscription_type", "pubsub#subscription_depth", "pubsub#show-values",
              "pubsub#queue_group", "pubsub#queue_requests", "pubsub#queue_ack_timeout",
              "pubsub#children", "pubsub#collection", "start", "end", "with",
              "after-id", "before-id", "ids", "FORM_TYPE", "x-unknown", ""]
FIELD_VALUES = ["1", "0", "true", "false", "open", "whitelist", "presence", "authorize",
                "roster", "publishers", "subscribers", "never", "on_sub",
                "on_sub_and_presence", "normal", "headline", "chat", "items", "nodes",
                "all", "-1", "10", "1000000", "99999999999999999999999", "1.5",
                "2020-01-01T00:00:00Z", "2999-12-31T23:59:59Z", "yesterday",
                "alice@localhost", "group-a", "none"]


# --- random values -----------------------------------------------------------

UNICODE = ["é", "漢字", "🎉", "\u200b", "\u202e", "\ufeff", "\ufffd", "Ω", "\u0085",
           "\U0001f600\u200d\U0001f525", "ß", "\u00a0", "𝔘"]


def rand_text(rng: random.Random, huge: bool = True) -> str:
    kind = rng.random()
    if kind < 0.12:
        return ""
    if kind < 0.45:
        return rng.choice(["a", "x", "item-1", "node", "0", "first", "last", " ", "known"])
    if kind < 0.60:
        return "".join(rng.choice(UNICODE) for _ in range(rng.randint(1, 8)))
    if kind < 0.68:
        return rng.choice(["\t", "\n", "\r\n", " \t \n "]) * rng.randint(1, 4)
    if kind < 0.76:
        return rng.choice(["<&>", "'\"", "]]>", "&amp;", "<x/>", "%s%n", "\\", "${x}"])
    if kind < 0.86:
        return rng.choice(FIELD_VALUES)
    if kind < 0.93 or not huge:
        return "".join(rng.choice("abcdefghij-_.:/@") for _ in range(rng.randint(1, 40)))
    return rng.choice("xé漢🎉") * rng.choice([256, 257, 1024, 4097, 20000])


def node_name(rng: random.Random, pool: list[str]) -> Optional[str]:
    r = rng.random()
    if r < 0.70:
        return rng.choice(pool)
    if r < 0.80:
        return None                          # attribute missing
    return rand_text(rng)


# --- a tiny XML tree ---------------------------------------------------------

@dataclass
class El:
    name: str
    ns: Optional[str] = None                 # None: inherit
    attrs: dict = field(default_factory=dict)
    children: list = field(default_factory=list)
    text: str = ""

    def add(self, *kids: "El") -> "El":
        self.children.extend(kids)
        return self


def render(el: El, parent_ns: str = "jabber:client") -> str:
    out = [f"<{el.name}"]
    ns = parent_ns if el.ns is None else el.ns
    if ns != parent_ns:
        out.append(f" xmlns='{esc(ns)}'")
    for k, v in el.attrs.items():
        out.append(f" {k}='{esc(v)}'")
    if not el.children and not el.text:
        out.append("/>")
        return "".join(out)
    out.append(">")
    out.append(esc(el.text))
    out.extend(render(c, ns) for c in el.children)
    out.append(f"</{el.name}>")
    return "".join(out)


def walk(el: El) -> list[El]:
    out = [el]
    for c in el.children:
        out.extend(walk(c))
    return out


# --- valid-looking requests --------------------------------------------------

def form(rng: random.Random) -> El:
    x = El("x", NS_DATA, {"type": rng.choice(["submit", "submit", "form", "result",
                                                "cancel", "bogus"])})
    if rng.random() < 0.85:
        x.add(El("field", attrs={"var": "FORM_TYPE", "type": "hidden"},
                 children=[El("value", text=rng.choice(FORM_TYPES))]))
    for _ in range(rng.randint(0, 5)):
        f = El("field", attrs={"var": rng.choice(FIELD_VARS)})
        if rng.random() < 0.2:
            f.attrs["type"] = rng.choice(["list-multi", "boolean", "text-single", "jid-multi",
                                          "fixed", "hidden", "nonsense"])
        for _ in range(rng.choice([0, 1, 1, 1, 2, 5])):
            f.add(El("value", text=rng.choice(FIELD_VALUES) if rng.random() < 0.7
                     else rand_text(rng)))
        x.add(f)
    return x


def rsm(rng: random.Random, item_ids: list[str]) -> El:
    s = El("set", NS_RSM)
    for tag in rng.sample(["max", "after", "before", "index"], rng.randint(0, 3)):
        if tag == "max":
            text = rng.choice(["0", "1", "5", "-1", "100000000000", "abc", "", "10"])
        elif tag == "index":
            text = rng.choice(["0", "1", "-3", "x"])
        else:
            text = rng.choice(item_ids + ["", "zzz", "1", rand_text(rng)])
        s.add(El(tag, text=text))
    return s


def item_el(rng: random.Random, item_ids: list[str], with_payload: bool = True) -> El:
    it = El("item")
    if rng.random() < 0.85:
        it.attrs["id"] = rng.choice(item_ids) if rng.random() < 0.5 else rand_text(rng)
    if with_payload and rng.random() < 0.9:
        it.add(payload(rng))
    return it


def payload(rng: random.Random) -> El:
    p = El(rng.choice(["entry", "event", "json", "x", "payload"]),
           rng.choice(["urn:example:fuzz", "urn:xmpp:json:0", "jabber:client",
                       NS_PUBSUB, "urn:example:fuzz#" + str(rng.randint(0, 9))]),
           text=rand_text(rng) if rng.random() < 0.6 else "")
    for _ in range(rng.choice([0, 0, 1, 3])):
        p.attrs[f"a{rng.randint(0, 9)}"] = rand_text(rng)
    for _ in range(rng.choice([0, 0, 1, 2])):
        p.add(El("child", text=rand_text(rng, huge=False)))
    return p


def pubsub_request(rng: random.Random, nodes: list[str], item_ids: list[str]) -> tuple[str, El]:
    """(iq type, <pubsub/> child) for one XEP-0060 use case."""
    node = lambda: node_name(rng, nodes)   # noqa: E731
    def with_node(tag: str, ns: Optional[str] = None) -> El:
        e = El(tag, ns)
        n = node()
        if n is not None:
            e.attrs["node"] = n
        return e

    case = rng.choice(["create", "configure", "publish", "publish", "publish", "retract",
                       "items", "items", "subscribe", "unsubscribe", "options",
                       "subscriptions", "affiliations", "default", "queue"])
    p = El("pubsub", NS_PUBSUB)
    if case == "create":
        c = El("create")
        if rng.random() < 0.8:
            c.attrs["node"] = f"fuzz-{rng.randint(0, 30)}" if rng.random() < 0.8 else rand_text(rng)
        p.add(c)
        if rng.random() < 0.5:
            p.add(El("configure", children=[form(rng)] if rng.random() < 0.8 else []))
        return "set", p
    if case == "configure":
        return "get", p.add(El("configure", children=[form(rng)] if rng.random() < 0.3 else [])
                           , with_node("options"))
    if case == "publish":
        pub = with_node("publish")
        for _ in range(rng.choice([0, 1, 1, 1, 1, 2, 3])):
            pub.add(item_el(rng, item_ids))
        p.add(pub)
        if rng.random() < 0.3:
            p.add(El("publish-options", children=[form(rng)] if rng.random() < 0.8 else []))
        return "set", p
    if case == "retract":
        r = with_node("retract")
        if rng.random() < 0.3:
            r.attrs["notify"] = rng.choice(["true", "1", "false", "maybe"])
        for _ in range(rng.choice([0, 1, 1, 2])):
            r.add(item_el(rng, item_ids, with_payload=False))
        return "set", p.add(r)
    if case == "items":
        i = with_node("items")
        if rng.random() < 0.3:
            i.attrs["max_items"] = rng.choice(["1", "0", "-1", "5", "999999999999", "x"])
        if rng.random() < 0.3:
            i.attrs["subid"] = rand_text(rng)
        for _ in range(rng.choice([0, 0, 1, 2])):
            i.add(item_el(rng, item_ids, with_payload=False))
        p.add(i)
        if rng.random() < 0.4:
            p.add(rsm(rng, item_ids))
        return "get", p
    if case in ("subscribe", "unsubscribe"):
        s = with_node(case)
        if rng.random() < 0.9:
            s.attrs["jid"] = rng.choice(["alice@localhost", "bob@localhost/fuzz",
                                         "carol@localhost", "dave@localhost", "bad@@jid",
                                         rand_text(rng, huge=False)])
        if case == "unsubscribe" and rng.random() < 0.4:
            s.attrs["subid"] = rand_text(rng, huge=False)
        p.add(s)
        if case == "subscribe" and rng.random() < 0.4:
            p.add(El("options", children=[form(rng)]))
        return "set", p
    if case == "options":
        o = with_node("options")
        o.attrs["jid"] = rng.choice(["alice@localhost", "bob@localhost", "x"])
        if rng.random() < 0.5:
            o.add(form(rng))
        return rng.choice(["get", "set"]), p.add(o)
    if case == "subscriptions":
        return "get", p.add(with_node("subscriptions"))
    if case == "affiliations":
        return "get", p.add(with_node("affiliations"))
    if case == "default":
        return "get", p.add(El("default", NS_OWNER if rng.random() < 0.5 else None))
    # XEP-0254
    q = with_node(rng.choice(["ack", "unlock"]), NS_QUEUE)
    for _ in range(rng.choice([0, 1, 2])):
        q.add(item_el(rng, item_ids, with_payload=False))
    return "set", p.add(q)


def owner_request(rng: random.Random, nodes: list[str], item_ids: list[str]) -> tuple[str, El]:
    p = El("pubsub", NS_OWNER)
    case = rng.choice(["configure", "configure", "default", "delete", "purge",
                       "subscriptions", "affiliations"])
    e = El(case)
    n = node_name(rng, nodes)
    if n is not None and case != "default":
        e.attrs["node"] = n
    kind = "get"
    if case == "configure":
        if rng.random() < 0.5:
            e.add(form(rng))
            kind = "set"
    elif case in ("delete", "purge"):
        kind = "set"
        if case == "delete" and rng.random() < 0.3:
            e.add(El("redirect", attrs={"uri": rand_text(rng)}))
    elif case in ("subscriptions", "affiliations"):
        if rng.random() < 0.5:
            kind = "set"
            for _ in range(rng.randint(0, 3)):
                child = El("subscription" if case == "subscriptions" else "affiliation",
                           attrs={"jid": rng.choice(["bob@localhost", "dave@localhost",
                                                      "x", ""])})
                key = "subscription" if case == "subscriptions" else "affiliation"
                child.attrs[key] = rng.choice(["none", "subscribed", "pending", "owner",
                                               "publisher", "member", "outcast",
                                               "publish-only", "bogus"])
                e.add(child)
    return kind, p.add(e)


def mam_request(rng: random.Random, nodes: list[str], item_ids: list[str]) -> tuple[str, El]:
    q = El("query", NS_MAM if rng.random() < 0.9 else "urn:xmpp:mam:1")
    if rng.random() < 0.9:
        n = node_name(rng, nodes)
        if n is not None:
            q.attrs["node"] = n
    if rng.random() < 0.7:
        q.attrs["queryid"] = rand_text(rng, huge=False)
    if rng.random() < 0.6:
        x = form(rng)
        x.children[:1] = [El("field", attrs={"var": "FORM_TYPE", "type": "hidden"},
                             children=[El("value", text=NS_MAM)])]
        q.add(x)
    if rng.random() < 0.5:
        q.add(rsm(rng, item_ids))
    if rng.random() < 0.15:
        q.add(El("flip-page"))
    return rng.choice(["set", "set", "set", "get"]), q


def disco_request(rng: random.Random, nodes: list[str], item_ids: list[str]) -> tuple[str, El]:
    q = El("query", rng.choice([NS_DISCO_INFO, NS_DISCO_ITEMS]))
    if rng.random() < 0.6:
        n = node_name(rng, nodes)
        if n is not None:
            q.attrs["node"] = n
    if rng.random() < 0.3:
        q.add(rsm(rng, item_ids))
    return "get" if rng.random() < 0.9 else "set", q


def misc_request(rng: random.Random, nodes: list[str], item_ids: list[str]) -> tuple[str, El]:
    r = rng.random()
    if r < 0.4:
        return rng.choice(["get", "get", "set"]), El("ping", NS_PING)
    if r < 0.6:
        return "get", El("query", "jabber:iq:version")
    if r < 0.8:
        return rng.choice(["get", "set"]), El(rng.choice(["foo", "query", "pubsub"]),
                                              rng.choice(NAMESPACES))
    return rng.choice(["get", "set"]), payload(rng)


REQUESTS = [(pubsub_request, 45), (owner_request, 15), (mam_request, 12),
            (disco_request, 12), (misc_request, 8)]


# --- mutations ---------------------------------------------------------------

def mutate(rng: random.Random, root: El, max_depth: int) -> None:
    """One random change somewhere below the IQ (never the IQ's own id/type)."""
    below = walk(root)[1:]
    if not below:
        root.add(payload(rng))
        return
    target = rng.choice(below)
    m = rng.random()
    if m < 0.15:
        target.ns = rng.choice(NAMESPACES)
    elif m < 0.28 and target.children:
        target.children.pop(rng.randrange(len(target.children)))
    elif m < 0.38 and target.children:
        target.children.append(rng.choice(target.children))
    elif m < 0.50:
        target.add(El(rng.choice(["item", "x", "set", "value", "field", "publish", "bogus",
                                  "configure", "options"]), rng.choice([None] + NAMESPACES),
                      text=rand_text(rng) if rng.random() < 0.3 else ""))
    elif m < 0.65:
        key = rng.choice(["node", "id", "jid", "var", "type", "max_items", "subid",
                          "xml:lang", "notify", "unknown", "queryid"])
        if key in target.attrs and rng.random() < 0.4:
            del target.attrs[key]
        else:
            target.attrs[key] = rand_text(rng)
    elif m < 0.75:
        target.text = rand_text(rng)
    elif m < 0.82:
        target.name = rng.choice(["items", "item", "publish", "retract", "subscribe",
                                  "set", "query", "x", "field", "value", "pubsub", "z"])
    else:
        # Nesting: a chain below the target, moderate by default.
        depth = rng.choice([2, 5, 10, 30, 60]) if rng.random() < 0.95 else max_depth
        chain = El("n", rng.choice([None, "urn:example:deep"]))
        cur = chain
        for _ in range(depth - 1):
            nxt = El("n")
            cur.add(nxt)
            cur = nxt
        target.add(chain)


# --- one stanza --------------------------------------------------------------

@dataclass
class Generated:
    xml: str
    iq_id: Optional[str]            # an IQ the service must answer exactly once
    silent_id: Optional[str]        # an IQ result/error that must get no answer


class Generator:
    def __init__(self, seed: int, nodes: list[str], item_ids: list[str]):
        self.rng = random.Random(seed)
        self.nodes = nodes
        self.item_ids = item_ids
        self.n = 0
        # Input limits still being fixed elsewhere (see the module doc).
        self.max_depth = 200 if AWAIT_DEPTH_LIMIT else 1000
        self.huge_attr = not AWAIT_TOKEN_LIMIT

    def next(self, client: str) -> Generated:
        rng = self.rng
        self.n += 1
        iq_id = f"fz{self.n}"
        to = SERVICE if rng.random() < 0.93 else rng.choice(
            [f"{SERVICE}/res", f"node@{SERVICE}", f"{SERVICE}/{rng.choice(UNICODE)}x"])
        r = rng.random()
        if r < 0.78:
            total = sum(w for _, w in REQUESTS)
            pick = rng.uniform(0, total)
            for make, w in REQUESTS:
                pick -= w
                if pick <= 0:
                    break
            kind, child = make(rng, self.nodes, self.item_ids)
            iq = El("iq", attrs={"type": kind, "to": to, "id": iq_id}, children=[child])
            if rng.random() < 0.08:
                iq.children.append(payload(rng))         # two children
            elif rng.random() < 0.03:
                iq.children.clear()                      # none
            if rng.random() < 0.05:
                iq.attrs["xml:lang"] = rng.choice(["en", "", "zz-ZZ", "日本"])
            if rng.random() < 0.5:
                for _ in range(rng.choice([1, 1, 2, 3])):
                    mutate(rng, iq, self.max_depth)
            if self.huge_attr and rng.random() < 0.002:
                child.attrs["node"] = "h" * (1024 * 1024 + 10)
            return Generated(render(iq), iq_id, None)
        if r < 0.81:
            kind = rng.choice(["result", "error"])
            iq = El("iq", attrs={"type": kind, "to": to, "id": iq_id})
            if kind == "error":
                iq.add(El("error", attrs={"type": "cancel"}, children=[
                    El("item-not-found", "urn:ietf:params:xml:ns:xmpp-stanzas")]))
            elif rng.random() < 0.5:
                iq.add(payload(rng))
            return Generated(render(iq), None, iq_id)
        if r < 0.90:
            msg = El("message", attrs={"to": to})
            if rng.random() < 0.8:
                msg.attrs["type"] = rng.choice(["chat", "normal", "headline", "groupchat",
                                                "error", "bogus"])
            body = rng.choice(["help", "list", "subscribe " + rng.choice(self.nodes),
                               "unsubscribe " + rng.choice(self.nodes),
                               "last " + rng.choice(self.nodes), "?", "", "subscribe",
                               rand_text(rng)])
            if rng.random() < 0.85:
                msg.add(El("body", text=body))
            if rng.random() < 0.3:
                msg.add(payload(rng))
            if rng.random() < 0.3:
                mutate(rng, msg, self.max_depth)
            return Generated(render(msg), None, None)
        pres = El("presence", attrs={"to": to})
        if rng.random() < 0.6:
            pres.attrs["type"] = rng.choice(["unavailable", "subscribe", "subscribed",
                                             "unsubscribe", "unsubscribed", "probe",
                                             "error", "bogus"])
        if rng.random() < 0.3:
            pres.add(El("show", text=rng.choice(["away", "dnd", "xa", "chat", "x"])))
        if rng.random() < 0.3:
            pres.add(El("status", text=rand_text(rng)))
        if rng.random() < 0.2:
            pres.add(El("priority", text=rng.choice(["0", "-1", "128", "x"])))
        if rng.random() < 0.2:
            mutate(rng, pres, self.max_depth)
        return Generated(render(pres), None, None)


# --- the run -----------------------------------------------------------------

def metric(h, name: str) -> float:
    url = urllib.parse.urlparse(h.http_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    m = re.search(rf"^{name}(?:{{}})? (\S+)$", text, re.M)
    assert m, f"{name} missing from /metrics"
    return float(m.group(1))


def known_payload(i: int) -> str:
    return (f"<entry xmlns='urn:herald:fuzz-known'>known {i} é漢🎉 &lt;tag&gt;"
            f"<n k='{i}'/></entry>")


def check_known(c: Client, nodes: list[str]) -> list[str]:
    problems = []
    for node in nodes:
        got = {}
        after = None
        while True:
            items, after, _count = ps.items_page(c, node, max_=100, after=after)
            for it in items:
                got[it.get("id")] = it
            if not items or after is None:
                break
        for i in range(KNOWN_ITEMS):
            it = got.get(f"known-{i}")
            if it is None:
                problems.append(f"{node}/known-{i} missing")
                continue
            entry = list(it)[0] if len(it) else None
            text = "".join(entry.itertext()) if entry is not None else None
            if text != f"known {i} é漢🎉 <tag>" or entry.find("{urn:herald:fuzz-known}n") is None:
                problems.append(f"{node}/known-{i} payload changed: {text!r}")
    return problems


def short(xml: str) -> str:
    return xml if len(xml) <= 600 else f"{xml[:600]}... ({len(xml)} chars)"


def test_fuzz_stanzas(herald_factory, connect, unique_name):
    print(f"\nfuzz seed {SEED} ({STANZAS} stanzas): replay with HERALD_FUZZ_SEED={SEED}"
          f"{'' if AWAIT_DEPTH_LIMIT else ' HERALD_FUZZ_AWAITING_DEPTH_LIMIT=0'}"
          f"{'' if AWAIT_TOKEN_LIMIT else ' HERALD_FUZZ_AWAITING_TOKEN_LIMIT=0'}")
    h = herald_factory()
    owner = connect("dave")
    run = unique_name("fuzzknown")
    known_nodes = [f"{run}-a", f"{run}-b"]
    for node in known_nodes:
        ps.create_node(owner, node, {"pubsub#access_model": "open",
                                     "pubsub#max_items": "1000"})
        for i in range(KNOWN_ITEMS):
            ps.publish(owner, node, f"known-{i}", known_payload(i))
    reconnects0 = metric(h, "herald_link_reconnects_total")

    nodes = known_nodes + [f"fuzz-{i}" for i in range(8)] + ["", " ", "dead-letter",
                                                              f"{known_nodes[0]}/dead-letter"]
    item_ids = [f"known-{i}" for i in range(3)] + ["a", "b", "c", "", "current"]
    gen = Generator(SEED, nodes, item_ids)
    clients = [connect(u) for u in CLIENTS]
    for c in clients:
        c.auto_pong = True
    outstanding: list[dict[str, tuple[float, str]]] = [{} for _ in clients]
    answered: list[set[str]] = [set() for _ in clients]
    outcomes: collections.Counter = collections.Counter()   # (type, condition)
    silent: list[set[str]] = [set() for _ in clients]
    failures: list[str] = []
    sent = 0
    started = time.monotonic()
    by_sock = {c.sock: i for i, c in enumerate(clients)}

    def take_replies(i: int) -> None:
        c = clients[i]
        while c._buffer:
            s = c._buffer.popleft()
            if local(s) != "iq" or s.get("type") not in ("result", "error"):
                continue
            iq_id = s.get("id")
            if iq_id in outstanding[i]:
                del outstanding[i][iq_id]
                answered[i].add(iq_id)
                err = s.find("{jabber:client}error")
                cond = next((local(e) for e in err if local(e) != "text"), "?") \
                    if err is not None else ""
                outcomes[(s.get("type"), cond)] += 1
            elif iq_id in answered[i]:
                failures.append(f"second answer to {iq_id}: {short(tostring(s))}")
            elif iq_id in silent[i]:
                failures.append(f"answer to an IQ {s.get('type')} sent to Herald: "
                                f"{iq_id}: {short(tostring(s))}")

    def pump(timeout: float) -> None:
        ready, _, _ = select.select(list(by_sock), [], [], timeout)
        for sock in ready:
            i = by_sock[sock]
            try:
                data = sock.recv(262144)
            except (ConnectionResetError, socket.timeout) as e:
                raise StreamError(f"{CLIENTS[i]}: connection lost: {e}") from e
            if not data:
                raise StreamError(f"{CLIENTS[i]}: stream closed by ejabberd")
            clients[i]._feed(data)
            if clients[i].closed:
                err = clients[i].stream_error
                raise StreamError(f"{CLIENTS[i]}: stream closed: "
                                  f"{tostring(err) if err is not None else ''}")
            take_replies(i)

    last_sent = ["" for _ in clients]
    try:
        while sent < STANZAS:
            progressed = False
            for i, c in enumerate(clients):
                if len(outstanding[i]) >= WINDOW or sent >= STANZAS:
                    continue
                g = gen.next(CLIENTS[i])
                c.send_raw(g.xml)
                last_sent[i] = g.xml
                sent += 1
                progressed = True
                if g.iq_id:
                    outstanding[i][g.iq_id] = (time.monotonic(), g.xml)
                if g.silent_id:
                    silent[i].add(g.silent_id)
            pump(0 if progressed else 0.05)
            now = time.monotonic()
            for i in range(len(clients)):
                for iq_id, (at, xml) in list(outstanding[i].items()):
                    if now - at > IQ_TIMEOUT:
                        failures.append(f"unanswered after {IQ_TIMEOUT}s: {short(xml)}")
                        del outstanding[i][iq_id]
            if len(failures) > 20:
                break
        deadline = time.monotonic() + IQ_TIMEOUT
        while any(outstanding) and time.monotonic() < deadline:
            pump(0.1)
        time.sleep(0.5)
        pump(0.2)                       # late duplicates
    except StreamError as e:
        failures.append(f"a fuzz client's stream ended ({e}); last stanzas sent: "
                        + " | ".join(short(x) for x in last_sent))
    for i in range(len(clients)):
        failures.extend(f"unanswered: {short(xml)}" for _, xml in outstanding[i].values())
    elapsed = time.monotonic() - started
    print(f"fuzz: {sent} stanzas in {elapsed:.1f}s, "
          f"{sum(len(a) for a in answered)} IQs answered: "
          + ", ".join(f"{t}{'/' + c if c else ''} {n}" for (t, c), n in outcomes.most_common()))

    alive = h.proc.poll() is None
    log = h.log_text()
    panics = [line for line in log.splitlines() if "panicked" in line]
    reconnects = metric(h, "herald_link_reconnects_total") if alive else float("nan")
    link_up = metric(h, "herald_link_up") if alive else 0
    known = check_known(connect("dave"), known_nodes) if alive else ["herald is dead"]

    report = [f"seed {SEED} (replay: HERALD_FUZZ_SEED={SEED} HERALD_FUZZ_STANZAS={STANZAS}"
              f" HERALD_FUZZ_AWAITING_DEPTH_LIMIT={int(AWAIT_DEPTH_LIMIT)}"
              f" HERALD_FUZZ_AWAITING_TOKEN_LIMIT={int(AWAIT_TOKEN_LIMIT)})"]
    if not alive:
        report.append(f"herald exited with {h.proc.returncode}")
    report += [f"panic: {p}" for p in panics[:3]]
    if reconnects != reconnects0:
        report.append(f"component link dropped: herald_link_reconnects_total "
                      f"{reconnects0} -> {reconnects}")
    if link_up != 1:
        report.append(f"herald_link_up = {link_up}")
    report += known
    report += failures[:20]
    assert len(report) == 1, "\n".join(report)
