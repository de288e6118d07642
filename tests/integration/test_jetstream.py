"""Herald on a 3-server NATS JetStream cluster (`backend = "jetstream"`,
scripts/nats-cluster.sh): kill -9 of the stream leader while four c2s
publishers pipeline publishes. Every publish whose IQ result arrived must
be stored, exactly once; publishing must resume after the election.

Runs in the default suite (it starts the cluster itself; scripts/test.sh
installs nats-server). The rest of the suite runs on JetStream with
HERALD_TEST_STORAGE=jetstream.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import socket
import threading
import time
import uuid
from pathlib import Path

import heraldtest.ops as ps
from heraldtest.harness import REPO, nats_urls
from test_durability import PublisherStats, publisher

NATS_DIR = Path(os.environ.get("HERALD_NATS_DIR", REPO / ".nats"))


def nats_request(port: int, subject: str, payload: bytes = b"", timeout: float = 10) -> dict:
    """One request over the NATS text protocol (no client library needed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        f = s.makefile("rb")
        f.readline()  # INFO
        inbox = f"_INBOX.{uuid.uuid4().hex}"
        s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":false}\r\n'
                  + f"SUB {inbox} 1\r\nPUB {subject} {inbox} {len(payload)}\r\n".encode()
                  + payload + b"\r\n")
        while True:
            line = f.readline()
            if not line:
                raise RuntimeError("NATS closed the connection")
            if line.startswith(b"PING"):
                s.sendall(b"PONG\r\n")
            elif line.startswith(b"MSG"):
                size = int(line.split()[-1])
                return json.loads(f.read(size + 2)[:-2])
            elif line.startswith(b"-ERR"):
                raise RuntimeError(line.decode())


def stream_leader(urls: list[str], stream: str) -> int:
    """Index (0-2) of the server leading `stream`."""
    port = int(urls[0].rsplit(":", 1)[1])
    info = nats_request(port, f"$JS.API.STREAM.INFO.{stream}")
    leader = info["cluster"]["leader"]          # "n1".."n3"
    return int(leader[1:]) - 1


def test_stream_leader_kill_loses_no_acknowledged_publish(herald_factory, connect, unique_name):
    urls = nats_urls()
    prefix = "lk" + uuid.uuid4().hex[:10]
    herald = herald_factory(config={"storage": {
        "backend": "jetstream",
        "jetstream": {"servers": urls, "partitions": 1, "stream_prefix": prefix}}})
    reader = connect("admin")
    clients = [connect(u) for u in ("alice", "bob", "carol", "dave")]
    node = unique_name("leader-kill")
    ps.create_node(reader, node, {"pubsub#max_items": "100000", "pubsub#publish_model": "open"})

    stop, first_ack = threading.Event(), threading.Event()
    stats = [PublisherStats() for _ in clients]
    threads = [threading.Thread(target=publisher,
                                args=(c, node, f"p{i}", stop, stats[i], first_ack))
               for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    assert first_ack.wait(20), "no publish was acknowledged"
    time.sleep(0.5)
    victim = stream_leader(urls, f"{prefix}_P0")
    pid = int((NATS_DIR / f"n{victim + 1}.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    acked_at_kill = sum(len(s.acked) for s in stats)
    killed = time.monotonic()
    # Past the election (6-8 s measured), publishing must go on.
    time.sleep(14)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a publisher thread hung"
    assert not [s.failure for s in stats if s.failure]
    # Bring the killed server back (the script restarts dead servers only).
    os.system(f"bash {REPO / 'scripts' / 'nats-cluster.sh'} up >/dev/null")

    acked = set().union(*(s.acked for s in stats))
    sent = set().union(*(s.sent for s in stats))
    ids = ps.all_item_ids(reader, node)
    present = set(ids)
    lost = acked - present
    dupes = [i for i, n in collections.Counter(ids).items() if n > 1]
    print(f"killed n{victim + 1} after {acked_at_kill} acks; {len(acked)} acked in all, "
          f"{len(present)} stored, {time.monotonic() - killed:.1f}s after the kill")
    assert herald.proc.poll() is None, "Herald stopped during the election"
    assert len(acked) > acked_at_kill, "publishing never resumed after the election"
    assert not lost, f"{len(lost)} acknowledged items lost, e.g. {sorted(lost)[:10]}"
    assert not dupes, f"items stored twice: {dupes[:10]}"
    assert present <= sent
