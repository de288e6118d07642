"""Times a Herald restart after kill -9 (bench/run.sh recovery-1m).

    recovery.py URL TOKEN --started EPOCH_S --pid PID --node NODE [--timeout 600]

bench/run.sh kills Herald, notes the wall-clock time, starts it again and
runs this: polls /readyz until 200 (ready_s), then publishes one item over
HTTP (POST /v1/nodes/NODE/items:batch, one item) until one is answered 200
(first_publish_s), both counted from --started; then reads the new
process's peak RSS (VmHWM). Prints one JSON object.
"""
import argparse
import http.client
import json
import time
import urllib.parse


def status(url, method, path, token=None, body=None):
    u = urllib.parse.urlparse(url)
    try:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        conn.close()
        return resp.status
    except OSError:
        return None


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM"):
                return int(line.split()[1])
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("token")
    p.add_argument("--started", type=float, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--node", required=True)
    p.add_argument("--timeout", type=float, default=600)
    a = p.parse_args()
    deadline = a.started + a.timeout
    ready_s = first_publish_s = None
    while time.time() < deadline:
        if status(a.url, "GET", "/readyz") == 200:
            ready_s = time.time() - a.started
            break
        time.sleep(0.05)
    body = json.dumps({"items": [{"id": "after-restart", "json": {"type": "bench.recovered"}}]})
    while ready_s is not None and time.time() < deadline:
        if status(a.url, "POST", f"/v1/nodes/{a.node}/items:batch", a.token, body) == 200:
            first_publish_s = time.time() - a.started
            break
        time.sleep(0.05)
    rss = vm_hwm_kb(a.pid)
    print(json.dumps({"ready_s": ready_s, "first_publish_s": first_publish_s,
                      "first_publish": "HTTP batch ingest of one item, answered 200",
                      "peak_rss_mb": rss / 1024 if rss else None}))
    raise SystemExit(0 if first_publish_s is not None else 1)


if __name__ == "__main__":
    main()
