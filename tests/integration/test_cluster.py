"""Three Herald instances on one JetStream cluster (`[cluster] enabled`):
one leads (holds the lease, runs the core), the others forward stanzas
and HTTP requests to it. Killing the leader with kill -9 under pipelined
publishes from several publishers loses no acknowledged item, a survivor
takes over within the lease TTL and notifies again what the dead leader
may not have (at-least-once), so an online subscriber misses nothing.

Trials: HERALD_CLUSTER_TRIALS (default 3; the closing note's 30-trial
figure is `HERALD_CLUSTER_TRIALS=30 pytest tests/integration/test_cluster.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import collections
import json
import os
import subprocess
import urllib.request
import threading
import time
import uuid

import pytest

import heraldtest.ops as ps
from heraldtest.catchup import catch_up_rsm, mam_query
from heraldtest.events import item_event_ids
from heraldtest.entity import subscribe
from heraldtest.harness import REPO, nats_urls
from heraldtest.ingest import TOKENS, put, request
from test_durability import PublisherStats, publisher

TTL_MS = 3000
TRIALS = int(os.environ.get("HERALD_CLUSTER_TRIALS", "3"))


def start_cluster(herald_factory, n: int = 3, partitions: int = 2, ttl_ms: int = TTL_MS):
    prefix = "cl" + uuid.uuid4().hex[:10]
    heralds = []
    for i in range(n):
        heralds.append(herald_factory(name=f"{prefix}-h{i + 1}", config={
            "storage": {"data_dir": None, "backend": "jetstream",
                        "jetstream": {"servers": nats_urls(), "partitions": partitions,
                                      "stream_prefix": prefix}},
            "cluster": {"enabled": True, "instance": f"h{i + 1}", "lease_ttl_ms": ttl_ms},
            "http": {"tokens": TOKENS},
        }))
    wait_leader(heralds)
    return heralds


def role(h) -> str:
    try:
        status, headers, _ = request(h, "GET", "/readyz", token=None)
    except OSError:
        return "down"
    return headers.get("herald-role", "?") if status == 200 else f"not-ready:{headers.get('herald-role')}"


def wait_leader(heralds, timeout: float = 30.0):
    """The one live instance whose /readyz says leader, once every live
    one is ready."""
    deadline = time.monotonic() + timeout
    roles = []
    while time.monotonic() < deadline:
        live = [h for h in heralds if h.proc and h.proc.poll() is None]
        roles = [role(h) for h in live]
        leaders = [h for h, r in zip(live, roles) if r == "leader"]
        if len(leaders) == 1 and all(r in ("leader", "follower") for r in roles):
            return leaders[0]
        time.sleep(0.1)
    raise AssertionError(f"no single ready leader: {roles}")


class Collector(threading.Thread):
    """Every item notification a client receives: (time, item ID)."""

    def __init__(self, client, node):
        super().__init__(daemon=True)
        self.client, self.node = client, node
        self.seen: list[tuple[float, str]] = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            for m in self.client.messages(timeout=0.2):
                now = time.monotonic()
                self.seen.extend((now, i) for i in item_event_ids(m, self.node))


def test_three_instances_answer_as_one(herald_factory, connect, unique_name):
    heralds = start_cluster(herald_factory)
    leader = wait_leader(heralds)
    followers = [h for h in heralds if h is not leader]
    assert [role(h) for h in followers] == ["follower", "follower"]

    owner, sub = connect("alice"), connect("bob")
    node = "ingest-" + unique_name("cluster")
    ps.create_node(owner, node, {"pubsub#max_items": "1000"})
    subscribe(sub, node)
    collector = Collector(sub, node)
    collector.start()
    # XMPP: ejabberd hands each stanza to any of the three connections.
    for i in range(30):
        ps.publish(owner, node, f"x{i}", f"<entry xmlns='urn:test'>{i}</entry>")
    # HTTP on every instance: followers pass the request to the leader.
    for k, h in enumerate(heralds):
        for i in range(5):
            status, headers, body = put(h, node, f"h{k}-{i}", {"n": i})
            assert status in (200, 201), (status, body)
    expected = {f"x{i}" for i in range(30)} | {f"h{k}-{i}" for k in range(3) for i in range(5)}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and {i for _, i in collector.seen} != expected:
        time.sleep(0.1)
    collector.stop.set()
    collector.join()
    ids = [i for _, i in collector.seen]
    assert set(ids) == expected
    dupes = [i for i, n in collections.Counter(ids).items() if n > 1]
    assert not dupes, f"notified twice without any fault: {dupes}"
    # The same history whichever instance answers.
    assert sorted(ps.all_item_ids(owner, node)) == sorted(expected)
    # Followers say who leads.
    _, _, ready = request(followers[0], "GET", "/readyz", token=None)
    assert ready.get("leader") == leader.config["cluster"]["instance"]
    # The leader's links came up while it still followed; once it leads
    # its core must still hear of them (multicast discovery, the relay's
    # room joins), not only after a reconnect.
    deadline = time.monotonic() + 10
    while "XEP-0033 multicast service found" not in leader.log_text():
        assert time.monotonic() < deadline, "the leader never discovered multicast"
        time.sleep(0.1)


def test_leader_kill9_loses_nothing_and_fanout_resumes(herald_factory, connect, unique_name):
    heralds = start_cluster(herald_factory)
    reader = connect("admin")
    clients = [connect(u) for u in ("alice", "bob", "carol")]
    watcher = connect("dave")
    node = unique_name("cluster-kill")
    ps.create_node(reader, node, {"pubsub#max_items": "100000",
                                  "pubsub#publish_model": "open"})
    subscribe(watcher, node)
    collector = Collector(watcher, node)
    collector.start()
    stats_all: list[PublisherStats] = []
    resumed_after: list[float] = []
    first_new_after: list[float] = []
    checkpoints: list[tuple[set[str], str]] = []
    for trial in range(TRIALS):
        leader = wait_leader(heralds)
        stop, first_ack = threading.Event(), threading.Event()
        stats = [PublisherStats() for _ in clients]
        stats_all.extend(stats)
        threads = [threading.Thread(target=publisher,
                                    args=(c, node, f"t{trial}p{i}", stop, stats[i], first_ack, 2.0))
                   for i, c in enumerate(clients)]
        for t in threads:
            t.start()
        assert first_ack.wait(20), "no publish was acknowledged"
        time.sleep(0.3)
        leader.kill()
        killed = time.monotonic()
        print(f"trial {trial}: killed {leader.config['cluster']['instance']} at "
              f"{time.strftime('%H:%M:%S')}.{int(time.time() * 1000) % 1000:03d}")
        acked_at_kill = set().union(*(s.acked for s in stats))
        sent_at_kill = [len(s.sent) for s in stats]
        # Notifications before a kill come in log order: what the watcher
        # saw is a prefix of the log, and RSM after its last ID is the rest.
        seen_at_kill = list(collector.seen)
        if seen_at_kill:
            checkpoints.append(({i for _, i in seen_at_kill}, seen_at_kill[-1][1]))
        # Publishing goes on against the survivors once one leads.
        wait_leader([h for h in heralds if h is not leader])
        time.sleep(2)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads), "a publisher thread hung"
        acked = set().union(*(s.acked for s in stats))
        assert len(acked) > len(acked_at_kill), f"trial {trial}: publishing never resumed"
        # When did the first item acknowledged after the kill reach the watcher?
        # Sent after the kill: only a survivor can have acknowledged these
        # (replies of the dead leader may still arrive after the kill).
        later = acked & set().union(*(set(s.sent[n:]) for s, n in zip(stats, sent_at_kill)))
        times = [t for t, i in collector.seen if i in later and t > killed]
        assert times, f"trial {trial}: no notification after the kill"
        first_new_after.append(min(times) - killed)
        # Fan-out resumed: the new leader's first notification, a repeat
        # of what the dead one may not have sent or a new item (what the
        # dead leader had in flight is neither).
        seen_before: set[str] = set()
        for t, i in collector.seen:
            if t > killed and (i in seen_before or i in later):
                resumed_after.append(t - killed)
                break
            seen_before.add(i)
        leader.start()   # back as a follower
    wait_leader(heralds)

    acked = set().union(*(s.acked for s in stats_all))
    sent = set().union(*(s.sent for s in stats_all))
    ids = ps.all_item_ids(reader, node)
    present = set(ids)
    lost = acked - present
    dupes = [i for i, n in collections.Counter(ids).items() if n > 1]
    # Everything stored reaches the online watcher (repeats allowed).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not acked <= {i for _, i in collector.seen}:
        time.sleep(0.2)
    collector.stop.set()
    collector.join()
    notified = {i for _, i in collector.seen}
    print(f"{TRIALS} trials: {len(acked)} acked, {len(present)} stored, "
          f"{len(collector.seen) - len(notified)} repeated notifications; "
          f"fan-out resumed after each kill: max {max(resumed_after):.2f} s, "
          f"{sorted(round(r, 2) for r in resumed_after)}; first new item notified: "
          f"max {max(first_new_after):.2f} s, {sorted(round(r, 2) for r in first_new_after)}")
    assert not lost, f"{len(lost)} acknowledged items lost, e.g. {sorted(lost)[:10]}"
    assert not dupes, f"items stored twice: {dupes[:10]}"
    assert present <= sent
    missed = acked - notified
    assert not missed, f"{len(missed)} acknowledged items never notified, e.g. {sorted(missed)[:10]}"
    # A subscriber that catches up by RSM from the last ID it saw before
    # a kill misses nothing and gets nothing twice.
    assert checkpoints, "the watcher saw nothing before any kill"
    for seen, last in checkpoints:
        rest = catch_up_rsm(reader, node, last, 500)
        assert len(rest) == len(set(rest)), "RSM catch-up repeated an item"
        gap = acked - seen - set(rest)
        assert not gap, f"RSM after {last} misses {len(gap)} acked items, e.g. {sorted(gap)[:5]}"
    # A cursor taken from one leader pages the same on the next one.
    cursor = ids[len(ids) // 2]
    before_kill = catch_up_rsm(reader, node, cursor, 500)
    first_page, _ = mam_query(reader, node, rsm="<max>50</max>")
    stanza_cursor = first_page[len(first_page) // 2][0]
    mam_before, _ = mam_query(reader, node, rsm=f"<max>200</max><after>{stanza_cursor}</after>")
    old = wait_leader(heralds)
    old.kill()
    wait_leader([h for h in heralds if h is not old])
    assert catch_up_rsm(reader, node, cursor, 500) == before_kill
    mam_after, _ = mam_query(reader, node, rsm=f"<max>200</max><after>{stanza_cursor}</after>")
    assert [(a, w) for a, w, _ in mam_after] == [(a, w) for a, w, _ in mam_before]
    assert len(mam_before) == 200
    old.start()
    # Fan-out resumes within the lease TTL + 2 s. The first notification
    # of an item published after the kill comes later: its publisher first
    # gives up on the IQs lost with the dead leader (2 s here), and the
    # publishes other instances kept meanwhile go first.
    assert max(resumed_after) <= TTL_MS / 1000 + 2, resumed_after


# --- the JetStream stream leader dies ------------------------------------

NATS_BASE = int(os.environ.get("HERALD_NATS_PORT_BASE", "14222"))
NATS_DIR = Path(os.environ.get("HERALD_NATS_DIR", str(REPO / ".nats")))
# The goal is a stall of at most 10 s. nats-server (2.9.10 here, same in
# 2.11) lets a follower wait 4-9 s (raft.go minElectionTimeoutDefault..
# maxElectionTimeoutDefault, not configurable) before it campaigns, so
# the election alone may take 9-10 s. Herald's part is what follows: its
# store asks again in short attempts (store/jetstream/retry.rs), so once
# every stream the victim led has a new leader, acks flow again within
# HERALD_SHARE. A stall over the 10 s goal is reported, not failed: it is
# the election's (issue 12).
MAX_STALL = 10.0
HERALD_SHARE = 1.5
# Lease TTL of this test: 3/4 of it (what a leader may run unrenewed)
# must outlast the longest election, or a leader whose lease bucket the
# victim led steps down and the stall grows by a takeover (seen with the
# default 10 s: an 8 s election of the lease bucket).
JS_KILL_TTL_MS = 14_000

def stream_leader(stream: str) -> Optional[str]:
    """The NATS server (n1..n3) leading the stream, from the monitoring
    endpoint of any live server (scripts/nats-cluster.sh: HTTP on +20..22)."""
    return stream_leaders(stream).get(stream)


def stream_leaders(part: str) -> dict[str, str]:
    """Stream name -> leading server, for the streams whose name contains
    `part` and that have a leader, as the first live server sees them."""
    for i in range(3):
        url = f"http://127.0.0.1:{NATS_BASE + 20 + i}/jsz?streams=true"
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                jsz = json.load(r)
        except OSError:
            continue
        return {st["name"]: st["cluster"]["leader"]
                for account in jsz.get("account_details") or []
                for st in account.get("stream_detail") or []
                if part in st.get("name", "") and (st.get("cluster") or {}).get("leader")}
    return {}


def wait_new_leaders(prefix: str, streams: set[str], victim: str, since: float,
                     out: list) -> None:
    """Appends the seconds from `since` until a server other than the
    victim leads every one of `streams` (the store's partitions and KV
    buckets the victim led; polled every 0.1 s, for up to 30 s)."""
    while time.monotonic() < since + 30:
        leaders = stream_leaders(prefix)
        if all(leaders.get(s) not in (None, victim) for s in streams):
            out.append(time.monotonic() - since)
            return
        time.sleep(0.1)


class TimedAcks(set):
    """PublisherStats.acked that also records when each ack came."""

    def __init__(self):
        super().__init__()
        self.times: list[float] = []

    def add(self, item):
        self.times.append(time.monotonic())
        super().add(item)


class ReadyPoller(threading.Thread):
    """/readyz of every instance every 0.1 s: (time, status, body)."""

    def __init__(self, heralds):
        super().__init__(daemon=True)
        self.heralds = heralds
        self.seen: list[tuple[float, int, dict]] = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            for h in self.heralds:
                try:
                    status, _, body = request(h, "GET", "/readyz", token=None)
                except OSError:
                    continue
                self.seen.append((time.monotonic(), status, body))
            time.sleep(0.1)


@pytest.mark.skipif(bool(os.environ.get("HERALD_NATS_URLS")),
                    reason="kills a server of the NATS cluster this suite started")
def test_stream_leader_kill9_loses_nothing(herald_factory, connect, unique_name):
    # One partition: every write goes to the one stream whose leader dies.
    # The victim may also lead the lease bucket: see JS_KILL_TTL_MS.
    heralds = start_cluster(herald_factory, partitions=1, ttl_ms=JS_KILL_TTL_MS)
    stream = heralds[0].config["storage"]["jetstream"]["stream_prefix"] + "_P0"
    reader = connect("admin")
    clients = [connect(u) for u in ("alice", "bob", "carol")]
    node = unique_name("cluster-js-kill")
    ps.create_node(reader, node, {"pubsub#max_items": "100000",
                                  "pubsub#publish_model": "open"})
    deadline = time.monotonic() + 10
    while (victim := stream_leader(stream)) is None:
        assert time.monotonic() < deadline, f"no leader for {stream}"
        time.sleep(0.2)
    prefix = stream.removesuffix("_P0")
    led = {s for s, leader in stream_leaders(prefix).items() if leader == victim}
    pid_file = NATS_DIR / f"{victim}.pid"
    pid = int(pid_file.read_text())

    poller = ReadyPoller(heralds)
    stop, first_ack = threading.Event(), threading.Event()
    stats = [PublisherStats() for _ in clients]
    for s in stats:
        s.acked = TimedAcks()
    threads = [threading.Thread(target=publisher,
                                args=(c, node, f"jsk{i}", stop, stats[i], first_ack, 15.0))
               for i, c in enumerate(clients)]
    try:
        for t in threads:
            t.start()
        assert first_ack.wait(20), "no publish was acknowledged"
        poller.start()
        time.sleep(1.0)
        os.kill(pid, 9)
        killed = time.monotonic()
        elected: list[float] = []
        watch = threading.Thread(target=wait_new_leaders,
                                 args=(prefix, led, victim, killed, elected), daemon=True)
        watch.start()
        acked_at_kill = set().union(*(s.acked for s in stats))
        # Publish on until acks flow well past the election.
        deadline = killed + 30
        while time.monotonic() < deadline:
            later = [t for s in stats for t in s.acked.times if t > killed + 1]
            if len(later) > 200 and time.monotonic() > killed + 3:
                break
            time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert not any(t.is_alive() for t in threads), "a publisher thread hung"
    finally:
        poller.stop.set()
        stop.set()
        # Back for the rest of the suite (nats-cluster.sh up restarts the dead one).
        subprocess.run(["bash", str(REPO / "scripts" / "nats-cluster.sh"), "up"],
                       check=True, capture_output=True, text=True)
    poller.join()
    watch.join(timeout=30)
    assert elected, f"no new leader for {stream} within 30 s"
    election = elected[0]
    failures = [s.failure for s in stats if s.failure]
    assert not failures, failures

    acked = set().union(*(s.acked for s in stats))
    assert len(acked) > len(acked_at_kill), "publishing never resumed after the kill"
    times = sorted(t for s in stats for t in s.acked.times)
    gaps = [(b - a, a) for a, b in zip(times, times[1:])]
    stall, stall_at = max(gaps)
    wait_leader(heralds)
    present = set(ps.all_item_ids(reader, node))
    lost = acked - present
    during = [(t, st, b) for t, st, b in poller.seen if stall_at <= t <= stall_at + stall]
    reasons = sorted({b.get("message", "") for _, st, b in during if st == 503})
    print(f"stream leader {victim} of {stream} killed: {len(acked)} acked "
          f"({len(acked_at_kill)} before the kill), {len(present)} stored; new leaders "
          f"of its {len(led)} streams after {election:.2f} s; longest gap "
          f"between acks {stall:.2f} s starting {stall_at - killed:+.2f} s after the kill; "
          f"/readyz during it: {len(during)} polls, 503 reasons {reasons}")
    assert not lost, f"{len(lost)} acknowledged items lost, e.g. {sorted(lost)[:10]}"
    # Herald's share: from the end of the election to the end of the stall
    # (negative when the stall ended first: a stream off the publish path,
    # such as a KV bucket, got its leader last).
    share = stall_at + stall - killed - election
    print(f"election {election:.2f} s, stall {stall:.2f} s, Herald's share {share:+.2f} s")
    if stall > MAX_STALL:
        print(f"GOAL MISSED: publishing stalled {stall:.2f} s > {MAX_STALL} s "
              f"(election {election:.2f} s, acks {share:.2f} s after it)")
    assert share <= HERALD_SHARE, f"acks resumed {share:.2f} s after the new leaders"
    if stall >= 1.0:
        assert any(st == 503 and ("jetstream" in b.get("message", "")
                                  or "nats" in b.get("message", ""))
                   for _, st, b in during), \
            f"/readyz never said why during a {stall:.2f} s stall: {during[:5]}"
