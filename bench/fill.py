"""Fills a running Herald over HTTP batch ingest and reports throughput.

    fill.py URL TOKEN --nodes 1000 --items 1000 [--batch 1000] [--threads 2]

Every node gets `items` items of ~200-byte JSON payloads, in batches of
`batch` items per request (POST /v1/nodes/{node}/items:batch). Prints one
JSON object: items, seconds, items_per_s, requests.
"""
import argparse
import http.client
import json
import threading
import time
import urllib.parse


def post_batches(url, token, nodes, items, batch, errors, counter):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    pad = "x" * 150
    for node in nodes:
        for start in range(0, items, batch):
            body = json.dumps({"items": [
                {"id": f"i{n}", "json": {"type": "app.created", "n": n, "pad": pad}}
                for n in range(start, min(items, start + batch))]})
            conn.request("POST", f"/v1/nodes/{node}/items:batch", body=body, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                errors.append(f"{resp.status} {data[:200]!r}")
                return
            counter.append(min(batch, items - start))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("token")
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--items", type=int, default=1000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--prefix", default="fill")
    a = p.parse_args()
    names = [f"{a.prefix}-{i}" for i in range(a.nodes)]
    errors, counter = [], []
    threads = [threading.Thread(target=post_batches, args=(
        a.url, a.token, names[t::a.threads], a.items, a.batch, errors, counter))
        for t in range(a.threads)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.monotonic() - started
    done = sum(counter)
    print(json.dumps({"items": done, "seconds": secs, "items_per_s": done / secs,
                      "requests": len(counter), "errors": errors[:3]}))
    raise SystemExit(1 if errors else 0)


if __name__ == "__main__":
    main()
