"""HTTP ingest as a client sees it: requests with a bearer token, the
shared ingest test tokens, and a strict reader of the /metrics text."""

from __future__ import annotations

import http.client
import json
import math
import re
import urllib.parse
from typing import Optional

from heraldtest.harness import Herald

TOKEN = "platform-token-0123456789"        # nodes ingest-*, may create
NARROW = "narrow-token-0123456789"         # node apps-* only, no create
TOKENS = {
    "platform": {"token": TOKEN, "nodes": ["ingest-*", "apps"], "create": True},
    "narrow": {"token": NARROW, "nodes": ["apps-*"], "create": False},
}


def request(h: Herald, method: str, path: str, body=b"", token: Optional[str] = TOKEN,
            content_type: Optional[str] = "application/json",
            headers: Optional[dict] = None) -> tuple[int, dict, dict]:
    """(status, lower-cased headers, JSON body or {'raw': text})."""
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    if content_type is not None:
        hdrs["Content-Type"] = content_type
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    url = urllib.parse.urlparse(h.http_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=15)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read().decode()
        resp_headers = {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()
    try:
        data = json.loads(raw)
    except ValueError:
        data = {"raw": raw}
    return resp.status, resp_headers, data


def put(h, node, item_id, body, **kw):
    return request(h, "PUT", f"/v1/nodes/{node}/items/{urllib.parse.quote(item_id, safe='')}",
                   body, **kw)


def post(h, node, body, **kw):
    return request(h, "POST", f"/v1/nodes/{node}/items", body, **kw)


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse_prometheus(text: str) -> dict:
    """Strict parser of the text format: {(name, labels): value}. Checks
    HELP/TYPE lines, that each sample belongs to a declared family, label
    syntax and float values."""
    assert text.endswith("\n")
    families: dict[str, str] = {}
    samples = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            assert len(line.split(" ", 3)) == 4, line
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in {"counter", "gauge", "histogram", "summary", "untyped"}, line
            assert name not in families, f"family {name} declared twice"
            families[name] = kind
            continue
        assert not line.startswith("#") and line.strip(), repr(line)
        m = SAMPLE.match(line)
        assert m, f"bad sample line {line!r}"
        name, _, labels_text, value = m.groups()
        labels = ()
        if labels_text:
            pairs = LABEL.findall(labels_text)
            assert "".join(f'{k}="{v}"{c}' for k, v, c in pairs) == labels_text, line
            labels = tuple((k, v) for k, v, _ in pairs)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in families or (families.get(base) == "histogram"), f"undeclared {name}"
        v = float(value)
        assert not math.isnan(v), line
        samples[(name, labels)] = v
    return samples


def scrape(h: Herald) -> dict:
    url = urllib.parse.urlparse(h.http_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request("GET", "/metrics")
    resp = conn.getresponse()
    text = resp.read().decode()
    assert resp.status == 200
    assert resp.getheader("Content-Type").startswith("text/plain; version=0.0.4")
    return parse_prometheus(text)
