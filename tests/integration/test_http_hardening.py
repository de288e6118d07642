"""Issue 16 defect 9: HTTP connections that hold Herald's descriptors.

Slowloris clients (headers trickled byte by byte) and idle connections
were held forever; about 1,100 idle ones exhausted the descriptors and
every HTTP publish timed out. Herald now has header-read, body-read and
idle timeouts, a connection cap that closes the oldest idle connection for
a new one, and a per-token rate limit (429 with Retry-After).
"""

from __future__ import annotations

import http.client
import json
import resource
import socket
import time
import urllib.parse

from heraldtest.harness import Herald

TOKEN = "hardening-token-0123456789"
SLOW = "slow-token-0123456789"
TOKENS = {
    "main": {"token": TOKEN, "nodes": ["*"], "create": True},
    "slow": {"token": SLOW, "nodes": ["*"], "create": True, "rate_per_sec": 1, "burst": 2},
}


def addr(h: Herald) -> tuple[str, int]:
    url = urllib.parse.urlparse(h.http_url)
    return url.hostname, url.port


def put(h: Herald, node: str, item: str, token: str = TOKEN,
        timeout: float = 5) -> tuple[int, dict, dict]:
    host, port = addr(h)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("PUT", f"/v1/nodes/{node}/items/{item}", body=json.dumps({"n": item}),
                     headers={"Authorization": f"Bearer {token}",
                              "Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, json.loads(resp.read())
    finally:
        conn.close()


def timed_put(h: Herald, node: str, item: str) -> float:
    start = time.monotonic()
    status, _, body = put(h, node, item)
    assert status in (200, 201), body
    return time.monotonic() - start


def closed_by_server(s: socket.socket, wait: float) -> bool:
    """True if the peer closed (EOF or reset) within `wait` seconds."""
    s.settimeout(wait)
    try:
        while True:
            data = s.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def test_slowloris_connections_are_cut_and_publishes_still_answered(herald_factory,
                                                                    unique_name):
    h = herald_factory(config={"http": {"tokens": TOKENS, "header_read_timeout_secs": 2}})
    node = unique_name("slowloris")
    assert timed_put(h, node, "before") < 5
    slow = []
    for _ in range(200):
        s = socket.create_connection(addr(h))
        s.sendall(b"PUT /v1/nodes/x/items/y HTTP/1.1\r\nHost: herald\r\n")
        slow.append(s)
    deadline = time.monotonic() + 4          # twice the header-read timeout
    while time.monotonic() < deadline:       # one header byte a second each
        for s in slow:
            try:
                s.send(b"X")
            except OSError:
                pass
        assert timed_put(h, node, f"during-{time.monotonic():.0f}") < 2
        time.sleep(1)
    survivors = [s for s in slow if not closed_by_server(s, 1.0)]
    assert not survivors, f"{len(survivors)} of 200 slowloris connections still open"
    for s in slow:
        s.close()


def test_1100_idle_connections_do_not_stop_publishes(herald_factory, unique_name):
    h = herald_factory(config={"http": {"tokens": TOKENS}}, start=False)
    # The descriptor limit a systemd service gets by default, for Herald only.
    h.preexec_fn = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    h.start().wait_ready()
    node = unique_name("idle")
    idle = []
    try:
        for _ in range(1100):
            idle.append(socket.create_connection(addr(h), timeout=5))
        time.sleep(0.5)
        for n in range(5):
            took = timed_put(h, node, f"i{n}")
            assert took < 3, f"publish took {took:.1f}s with 1,100 idle connections"
        status, text = metrics(h)
        assert status == 200
    finally:
        for s in idle:
            s.close()
    assert "too many open files" not in h.log_text().lower()


def metrics(h: Herald) -> tuple[int, str]:
    host, port = addr(h)
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", "/metrics")
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def test_a_token_over_its_rate_gets_429_with_retry_after(herald_factory, unique_name):
    h = herald_factory(config={"http": {"tokens": TOKENS}})
    node = unique_name("rate")
    statuses = [put(h, node, f"r{i}", token=SLOW) for i in range(3)]
    assert [s for s, _, _ in statuses[:2]] == [201, 201]
    status, headers, body = statuses[2]
    assert status == 429, body
    assert body["error"] == "rate_limited" and "rate_per_sec" in body["message"]
    assert int(headers["retry-after"]) >= 1
    # Other tokens are not throttled.
    assert put(h, node, "other")[0] == 201
    time.sleep(1.1)
    assert put(h, node, "later", token=SLOW)[0] == 201


def test_a_trickled_body_gets_408(herald_factory, unique_name):
    h = herald_factory(config={"http": {"tokens": TOKENS, "body_read_timeout_secs": 2}})
    s = socket.create_connection(addr(h))
    s.sendall((f"PUT /v1/nodes/{unique_name('body')}/items/a HTTP/1.1\r\nHost: herald\r\n"
               f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
               f"Content-Length: 100\r\n\r\n{{\"n\":").encode())
    s.settimeout(6)
    reply = s.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 408"), reply
    assert "body_read_timeout_secs" in reply
    s.close()
