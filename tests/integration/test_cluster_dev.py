"""scripts/cluster-dev.sh: the whole cluster on loopback (3 NATS servers,
two joined ejabberd nodes, three Herald instances). One item published
over HTTP to a follower reaches a subscriber on ejabberd node B; `down`
leaves no process behind.

Its own ports and state (never the developer's default cluster): NATS
base HERALD_TEST_CLUSTER_DEV_BASE (default 19600: client 19600-19602,
monitoring 19620-19622), ejabberd base +-100 (19500: c2s 19522/19523,
component 19647/19648), Herald HTTP base+90 (19690-19692): below the
ephemeral range (32768+), where an outgoing socket can hold a port.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from heraldtest.client import Client, ensure_user
from heraldtest.entity import subscribe
from heraldtest.events import item_event_ids
from heraldtest.harness import REPO
from heraldtest.ingest import put, request
from heraldtest.sandbox import DOMAIN, PASSWORD

SCRIPT = REPO / "scripts" / "cluster-dev.sh"
BASE = int(os.environ.get("HERALD_TEST_CLUSTER_DEV_BASE", "19600"))
EJ_BASE = BASE - 100
HTTP_BASE = BASE + 90
C2S_A, C2S_B = EJ_BASE + 22, EJ_BASE + 23
DEV_TOKEN = "herald-dev-token-not-a-secret"


class Instance:
    """What heraldtest.ingest needs of a Herald: its URL."""

    def __init__(self, port: int):
        self.http_url = f"http://127.0.0.1:{port}"


def run(state: Path, herald_bin: Path, cmd: str, timeout: float = 240) -> str:
    env = dict(os.environ)
    for k in ("HERALD_EJABBERD_LEASE", "HERALD_NATS_DIR", "HERALD_CLUSTER_EJ_DIR"):
        env.pop(k, None)
    env.update({
        "HERALD_CLUSTER_DEV_DIR": str(state),
        "HERALD_NATS_PORT_BASE": str(BASE),
        "HERALD_CLUSTER_EJ_PORT_BASE": str(EJ_BASE),
        "HERALD_CLUSTER_DEV_HTTP_BASE": str(HTTP_BASE),
        "HERALD_CLUSTER_EJ_NODE_A": "herald-cd-a@localhost",
        "HERALD_CLUSTER_EJ_NODE_B": "herald-cd-b@localhost",
        "HERALD_EJABBERD_FRESH": "1" if cmd == "up" else "0",
        "HERALD_BIN": str(herald_bin),
    })
    out = subprocess.run(["bash", str(SCRIPT), cmd], env=env, capture_output=True,
                         text=True, stdin=subprocess.DEVNULL, timeout=timeout)
    print(out.stdout, out.stderr, sep="", end="")
    assert out.returncode == 0, f"cluster-dev.sh {cmd} failed ({out.returncode})"
    return out.stdout


def pids(state: Path) -> list[int]:
    files = list(state.glob("h*/herald.pid")) + list(state.glob("nats/n*.pid"))
    return [int(f.read_text()) for f in files]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_cluster_dev_up_publish_down(herald_bin):
    # Under /tmp: the ejabberd nodes run as user ejabberd.
    state = Path(tempfile.mkdtemp(prefix="herald-cluster-dev-test-", dir="/tmp"))
    started: list[int] = []
    sub = None
    t0 = time.monotonic()
    try:
        out = run(state, herald_bin, "up")
        started = pids(state)
        assert len(started) == 6, started
        leader = re.search(r"leader: (h\d)", out)
        assert leader, out
        follower = next(i for i in (1, 2, 3) if f"h{i}" != leader.group(1))
        h = Instance(HTTP_BASE + follower - 1)
        status, headers, body = request(h, "GET", "/readyz", token=None)
        assert (status, headers.get("herald-role")) == (200, "follower"), (status, body)

        user = f"cd-bob-{uuid.uuid4().hex[:6]}"
        assert ensure_user(user, PASSWORD, DOMAIN, C2S_A) == "created"
        node = f"cluster-dev-{uuid.uuid4().hex[:8]}"
        # The first item creates the node (the dev token may create).
        status, _, body = put(h, node, "first", {"n": 0}, token=DEV_TOKEN)
        assert status in (200, 201), (status, body)
        sub = Client.connect(f"{user}@{DOMAIN}", PASSWORD, C2S_B)   # on node B
        reply = subscribe(sub, node)
        assert reply.get("type") == "result", reply
        status, _, body = put(h, node, "hello", {"n": 1}, token=DEV_TOKEN)
        assert status in (200, 201), (status, body)
        got: list[str] = []
        deadline = time.monotonic() + 10
        while "hello" not in got and time.monotonic() < deadline:
            for m in sub.messages(timeout=0.5):
                got.extend(item_event_ids(m, node))
        assert "hello" in got, f"no notification on node B: {got}"
    finally:
        if sub is not None:
            sub.close()
        run(state, herald_bin, "down")
        deadline = time.monotonic() + 10
        while any(alive(p) for p in started) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [p for p in started if alive(p)]
        ejabberd_left = subprocess.run(["epmd", "-names"], capture_output=True,
                                       text=True).stdout
        shutil.rmtree(state, ignore_errors=True)
    print(f"cluster-dev up + publish + down: {time.monotonic() - t0:.1f} s")
    assert not left, f"processes still running after down: {left}"
    assert "herald-cd-a" not in ejabberd_left and "herald-cd-b" not in ejabberd_left, \
        ejabberd_left
