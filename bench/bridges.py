"""Measures Herald's two HTTP bridges (Herald only: ejabberd's mod_pubsub
has neither) and prints one JSON object.

    bridges.py URL TOKEN webhooks --items 5000 [--batch 50] [--publishers 4]
    bridges.py URL TOKEN sse --items 5000 --streams 100

`webhooks`: a local receiver on 127.0.0.1 (asyncio, raw HTTP/1.1, no
signature check: it answers `200` with an empty body as fast as it can)
gets an endpoint (`POST /v1/webhooks`) following one node; then `items`
items are published over HTTP and deliveries/s is measured from the first
publish to the last item delivered (each item counted once, repeats
reported as `duplicates`). Herald opens one connection per attempt
(src/webhooks/sender.rs) and keeps at most `[webhooks] max_in_flight`
per endpoint.

`sse`: `streams` readers of `GET /v1/nodes/{node}/events` (asyncio raw
sockets, chunked decoding, events counted by their `event: item` line)
are all open before the first publish; events/s is the total received
across the streams from the first publish to the last event, and every
stream must get exactly `items` events. A stream Herald closes as too
slow reconnects with `Last-Event-ID`, as a browser would (`reconnects`).

Publishing runs in a child process (its own GIL): `publishers` threads,
each with one keep-alive connection, POST `items:batch` of `batch` items
(`--batch 1`: one `PUT /v1/nodes/{node}/items/{id}` each). A node is
created by a seed item before the endpoint or the streams exist, so the
seed is not counted. With `--herald-pid`, Herald's CPU seconds over the
measured span are reported too. Exits 1 when an item is missing.
"""
import os
import sys

# bench/queue.py would shadow the standard `queue` multiprocessing imports.
if sys.path and os.path.abspath(sys.path[0] or ".") == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]

import argparse
import asyncio
import http.client
import json
import multiprocessing
import threading
import time
import urllib.parse

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    if not pid:
        return None
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def call(url, token, method, path, body=None):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request(method, path, body=None if body is None else json.dumps(body), headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


# --- publisher (child process) ---------------------------------------------

def publish_range(url, token, node, ids, batch, errors):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    pad = "x" * 150
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        if batch == 1:
            n = chunk[0]
            conn.request("PUT", f"/v1/nodes/{node}/items/i{n}", headers=headers,
                         body=json.dumps({"type": "app.created", "n": n, "pad": pad}))
        else:
            conn.request("POST", f"/v1/nodes/{node}/items:batch", headers=headers,
                         body=json.dumps({"items": [
                             {"id": f"i{n}", "json": {"type": "app.created", "n": n, "pad": pad}}
                             for n in chunk]}))
        resp = conn.getresponse()
        data = resp.read()
        if resp.status not in (200, 201):
            errors.append(f"{resp.status} {data[:200]!r}")
            return


def publisher(url, token, node, items, batch, threads, out):
    # Items are dealt out in runs of `batch`, so each request is one batch.
    runs = [list(range(s, min(items, s + batch))) for s in range(0, items, batch)]
    errors = []
    workers = [threading.Thread(target=publish_range, args=(
        url, token, node, [n for r in runs[t::threads] for n in r], batch, errors))
        for t in range(threads)]
    started = time.monotonic()  # CLOCK_MONOTONIC: the same clock as the parent's
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put({"started": started, "ended": time.monotonic(), "errors": errors[:3]})


def start_publisher(a, node):
    out = multiprocessing.get_context("fork").Queue()
    proc = multiprocessing.get_context("fork").Process(target=publisher, args=(
        a.url, a.token, node, a.items, a.batch, a.publishers, out))
    proc.start()
    return proc, out


# --- webhooks ---------------------------------------------------------------

async def webhooks(a):
    seen, state = set(), {"requests": 0, "connections": 0, "last": None, "bad": 0}
    done = asyncio.Event()
    ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"

    async def handle(reader, writer):
        state["connections"] += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length) if length else b""
                writer.write(ok)
                state["requests"] += 1
                try:
                    item = json.loads(body)["item_id"]
                except (ValueError, KeyError):
                    state["bad"] += 1
                    continue
                if item not in seen:
                    seen.add(item)
                    state["last"] = time.monotonic()
                    if len(seen) >= a.items:
                        done.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    node = a.node or "bench-hooks"
    status, data = call(a.url, a.token, "PUT", f"/v1/nodes/{node}/items/seed", {"seed": True})
    assert status in (200, 201), data
    status, data = call(a.url, a.token, "POST", "/v1/webhooks",
                        {"url": f"http://127.0.0.1:{port}/hook", "nodes": [node]})
    assert status == 201, data
    hook = json.loads(data)
    await asyncio.sleep(0.5)  # the endpoint's worker is running

    cpu0 = cpu_seconds(a.herald_pid)
    proc, out = start_publisher(a, node)
    await stall_wait(done, lambda: len(seen), a.timeout)
    cpu1 = cpu_seconds(a.herald_pid)
    pub = await asyncio.get_running_loop().run_in_executor(None, out.get)
    proc.join()
    server.close()
    call(a.url, a.token, "DELETE", f"/v1/webhooks/{hook['id']}")
    secs = (state["last"] or pub["ended"]) - pub["started"]
    result = {"bridge": "webhooks", "items": a.items, "delivered": len(seen),
              "duplicates": state["requests"] - state["bad"] - len(seen),
              "seconds": secs, "deliveries_per_s": len(seen) / secs,
              "connections": state["connections"], "max_in_flight": a.max_in_flight,
              "publish_seconds": pub["ended"] - pub["started"], "batch": a.batch,
              "publishers": a.publishers, "errors": pub["errors"]}
    if cpu0 is not None:
        result["herald_cpu_seconds"] = cpu1 - cpu0
    return result, len(seen) == a.items and not pub["errors"]


async def stall_wait(done, progress, timeout):
    """Waits for `done`, giving up after `timeout` s with no progress."""
    last, since = progress(), time.monotonic()
    while not done.is_set():
        try:
            await asyncio.wait_for(done.wait(), 1)
        except asyncio.TimeoutError:
            now = progress()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since > timeout:
                return


# --- SSE --------------------------------------------------------------------

class Dechunk:
    """Incremental HTTP/1.1 chunked transfer decoding."""

    def __init__(self):
        self.raw, self.left, self.crlf, self.eof = b"", 0, False, False

    def feed(self, data):
        if self.eof:
            return b""
        self.raw += data
        out = []
        while True:
            if self.crlf:
                if len(self.raw) < 2:
                    break
                self.raw, self.crlf = self.raw[2:], False
            if self.left == 0:
                i = self.raw.find(b"\r\n")
                if i < 0:
                    break
                size = int(self.raw[:i].split(b";")[0], 16)
                self.raw = self.raw[i + 2:]
                if size == 0:
                    self.eof = True
                    break
                self.left = size
            take = self.raw[:self.left]
            out.append(take)
            self.raw = self.raw[len(take):]
            self.left -= len(take)
            if self.left:
                break
            self.crlf = True
        return b"".join(out)


class Reader:
    def __init__(self, host, port, path, token):
        self.host, self.port, self.path, self.token = host, port, path, token
        self.count, self.last_id, self.last_at = 0, None, None
        self.reconnects, self.opened, self.error = 0, asyncio.Event(), None

    async def run(self, want, stop):
        while self.count < want and not stop.is_set():
            try:
                await self.stream(want, stop)
            except (ConnectionError, asyncio.IncompleteReadError, OSError) as e:
                self.error = repr(e)
            if self.count < want and not stop.is_set():
                self.reconnects += 1
                await asyncio.sleep(0.1)

    async def stream(self, want, stop):
        reader, writer = await asyncio.open_connection(self.host, self.port)
        resume = f"Last-Event-ID: {self.last_id}\r\n" if self.last_id else ""
        writer.write((f"GET {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                      f"Authorization: Bearer {self.token}\r\nAccept: text/event-stream\r\n"
                      f"{resume}\r\n").encode())
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            if status != 200:
                self.error = f"status {status}"
                await asyncio.sleep(1)
                return
            chunked = b"transfer-encoding: chunked" in head.lower()
            dechunk, buf = Dechunk(), b""
            while self.count < want and not stop.is_set():
                data = await reader.read(65536)
                if not data:
                    return
                if chunked:
                    data = dechunk.feed(data)
                buf += data
                end = buf.rfind(b"\n\n")
                if end < 0:
                    continue
                blocks, buf = b"\n" + buf[:end + 2], buf[end + 2:]
                self.opened.set()  # the `retry:` block at least
                n = blocks.count(b"\nevent: item\n")
                if n:
                    self.count += n
                    self.last_at = time.monotonic()
                i = blocks.rfind(b"\nid: ")
                if i >= 0:
                    self.last_id = blocks[i + 5:blocks.index(b"\n", i + 5)].decode()
                if chunked and dechunk.eof:
                    return
        finally:
            writer.close()


async def sse(a):
    u = urllib.parse.urlparse(a.url)
    node = a.node or "bench-sse"
    status, data = call(a.url, a.token, "PUT", f"/v1/nodes/{node}/items/seed", {"seed": True})
    assert status in (200, 201), data
    readers = [Reader(u.hostname, u.port, f"/v1/nodes/{node}/events", a.token)
               for _ in range(a.streams)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(a.items, stop)) for r in readers]
    await asyncio.wait_for(asyncio.gather(*(r.opened.wait() for r in readers)), 30)
    await asyncio.sleep(0.3)

    cpu0 = cpu_seconds(a.herald_pid)
    proc, out = start_publisher(a, node)
    total = lambda: sum(r.count for r in readers)
    all_done = asyncio.Event()

    async def watch():
        while total() < a.items * a.streams:
            await asyncio.sleep(0.01)
        all_done.set()
    watcher = asyncio.create_task(watch())
    await stall_wait(all_done, total, a.timeout)
    cpu1 = cpu_seconds(a.herald_pid)
    watcher.cancel()
    stop.set()
    pub = await asyncio.get_running_loop().run_in_executor(None, out.get)
    proc.join()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    counts = [r.count for r in readers]
    last = max((r.last_at for r in readers if r.last_at), default=pub["ended"])
    secs = last - pub["started"]
    result = {"bridge": "sse", "items": a.items, "streams": a.streams,
              "events": sum(counts), "seconds": secs, "events_per_s": sum(counts) / secs,
              "per_stream_min": min(counts), "per_stream_max": max(counts),
              "reconnects": sum(r.reconnects for r in readers),
              "publish_seconds": pub["ended"] - pub["started"], "batch": a.batch,
              "publishers": a.publishers, "errors": pub["errors"] +
              sorted({r.error for r in readers if r.error})[:3]}
    if cpu0 is not None:
        result["herald_cpu_seconds"] = cpu1 - cpu0
    ok = min(counts) == max(counts) == a.items and not pub["errors"]
    return result, ok


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("token")
    p.add_argument("bridge", choices=["webhooks", "sse"])
    p.add_argument("--items", type=int, default=5000)
    p.add_argument("--streams", type=int, default=100)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--publishers", type=int, default=4)
    p.add_argument("--node")
    p.add_argument("--herald-pid", type=int)
    p.add_argument("--max-in-flight", type=int, default=8,
                   help="Herald's [webhooks] max_in_flight, for the record")
    p.add_argument("--timeout", type=float, default=30,
                   help="give up after this many seconds with nothing new")
    a = p.parse_args()
    result, ok = asyncio.run(webhooks(a) if a.bridge == "webhooks" else sse(a))
    print(json.dumps(result))
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
