"""Issue 16, defect 6: an acknowledgement is preceded by an fsync.

Herald runs under strace (attached after startup). Publishes arrive over
XMPP (pipelined, so commits group several) and over HTTP; each payload
carries a unique marker. In the trace, for every acknowledgement (the IQ
result written to the component socket, the HTTP 2xx written to the
request's socket) there must be, between the first write of its marker
into sled's `db` file and the acknowledgement, a completed fsync or
fdatasync of that `db` file. sled's own flush issues `sync_file_range`
only, which survives a process crash but not a power loss.

Needs strace (scripts/test.sh installs it) and ptrace rights (root, or
kernel.yama.ptrace_scope=0).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from heraldtest import ops as ps
from heraldtest.stanza import local

TOKEN = "fsync-token-0123456789"
XMPP_ITEMS = 120
WINDOW = 30            # XMPP publishes in flight: commits group several
HTTP_ITEMS = 15

pytestmark = pytest.mark.skipif(shutil.which("strace") is None,
                                reason="strace is not installed")

# "<pid> name(args..." with the rest of the line; strace -f prefixes the pid.
LINE = re.compile(r"^(\d+)\s+(?:<\.\.\. (\w+) resumed>(.*)|(\w+)\((.*))$")
FD = re.compile(r"^(\d+)<((?:TCP|UDP|UNIX)[^\]]*\]|[^>]*)>")   # sockets show "->"
RESULT = re.compile(r"\)\s+=\s+(-?\d+)")


@dataclass
class Call:
    index: int          # position in the trace (strace's processing order)
    name: str
    fd_path: str        # what -yy decodes the first argument's fd to
    text: str           # the rest of the line (buffers are on entry lines)
    done: bool          # this line shows the return value
    ok: bool            # ... and it is not negative


def strace_attach(pid: int, out: Path) -> subprocess.Popen:
    """strace -f on every thread of pid; returns once all are attached."""
    err = out.with_suffix(".err")
    proc = subprocess.Popen(
        ["strace", "-f", "-p", str(pid), "-yy", "-s", "1000000", "-o", str(out),
         "-e", "trace=pwrite64,pwritev,write,writev,sendto,sendmsg,"
               "fsync,fdatasync,sync_file_range,unlink,unlinkat"],
        stdout=subprocess.DEVNULL, stderr=open(err, "wb"), stdin=subprocess.DEVNULL)
    threads = len(os.listdir(f"/proc/{pid}/task"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"strace exited: {err.read_text(errors='replace')}")
        text = err.read_text(errors="replace")
        # strace 6 says "Process N attached with T threads" once; older
        # versions print one "attached" line per thread.
        if " threads" in text or text.count("attached") >= threads:
            return proc
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"strace did not attach to {threads} threads: {text}")


def strace_detach(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)     # detaches; Herald keeps running
    proc.wait(10)


def parse_trace(path: Path) -> list[Call]:
    """One Call per line; a "resumed" line (the return of a call whose
    entry was printed earlier) gets its entry's fd path."""
    calls = []
    unfinished: dict[tuple[str, str], str] = {}
    for line in path.read_text(errors="replace").splitlines():
        m = LINE.match(line)
        if not m:
            continue
        pid, resumed_name, resumed_rest, name, rest = m.groups()
        if resumed_name:
            name, rest = resumed_name, resumed_rest
            fd_path = unfinished.pop((pid, name), "")
        else:
            fd = FD.match(rest)
            fd_path = fd.group(2) if fd else ""
        done = "<unfinished ...>" not in rest
        if not done:
            unfinished[(pid, name)] = fd_path
        result = RESULT.search(rest) if done else None
        calls.append(Call(len(calls), name, fd_path, rest, done,
                          result is not None and int(result.group(1)) >= 0))
    return calls


def sync_returns(calls: list[Call]) -> list[int]:
    """Indexes where an fsync/fdatasync of sled's db file returned 0."""
    return [c.index for c in calls if c.name in ("fsync", "fdatasync")
            and c.fd_path.endswith("/db") and c.done and c.ok]


def check_acks_follow_syncs(calls: list[Call], acks: dict[str, int],
                            markers: dict[str, str]) -> list[str]:
    """acks: key -> index of its acknowledgement; markers: key -> marker.
    Returns one complaint per acknowledgement without a preceding sync."""
    syncs = sync_returns(calls)
    db_writes = [c for c in calls if c.name in ("pwrite64", "pwritev")
                 and c.fd_path.endswith("/db")]
    problems = []
    for key, ack_at in sorted(acks.items(), key=lambda kv: kv[1]):
        first = next((c.index for c in db_writes if markers[key] in c.text), None)
        if first is None or first > ack_at:
            problems.append(f"{key}: acknowledged (trace line {ack_at}) before "
                            f"any write of it to sled's db file")
            continue
        if not any(first < s < ack_at for s in syncs):
            problems.append(f"{key}: written at {first}, acknowledged at {ack_at}, "
                            f"no fsync/fdatasync of db in between")
    return problems


def unsynced_blobs(calls: list[Call], ack_at: int) -> list[str]:
    """Blob files sled wrote before ack_at that were neither fsynced after
    their write nor removed before ack_at."""
    written: dict[str, int] = {}
    for c in calls[:ack_at]:
        if c.name == "write" and "/blobs/" in c.fd_path:
            written.setdefault(c.fd_path, c.index)
        elif c.name in ("fsync", "fdatasync") and c.done and c.ok and c.fd_path in written:
            del written[c.fd_path]
        elif c.name in ("unlink", "unlinkat"):
            for path in [p for p in written if f'"{p}"' in c.text
                         or f'"{p.rsplit("/", 1)[1]}"' in c.text]:
                del written[path]
    return sorted(written)


def socket_writes(calls: list[Call], port_pattern: str) -> list[Call]:
    pat = re.compile(port_pattern)
    return [c for c in calls if c.name in ("write", "writev", "sendto", "sendmsg")
            and c.fd_path.startswith("TCP:") and pat.search(c.fd_path)]


def http_put(h, node: str, item_id: str, marker: str) -> int:
    """One PUT on its own connection; returns the client's local port."""
    url = h.http_url.removeprefix("http://")
    host, port = url.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("PUT", f"/v1/nodes/{node}/items/{item_id}",
                     body=json.dumps({"marker": marker}),
                     headers={"Authorization": f"Bearer {TOKEN}",
                              "Content-Type": "application/json"})
        local_port = conn.sock.getsockname()[1]
        resp = conn.getresponse()
        resp.read()
        assert resp.status in (200, 201), resp.status
        return local_port
    finally:
        conn.close()


def publish_pipelined(c, node: str, markers: dict[str, str]) -> set[str]:
    """Publishes XMPP_ITEMS items, WINDOW in flight; returns acked IQ ids."""
    todo = list(markers)
    outstanding: set[str] = set()
    acked: set[str] = set()
    deadline = time.monotonic() + 60
    while (todo or outstanding) and time.monotonic() < deadline:
        batch = []
        while todo and len(outstanding) < WINDOW:
            iq_id = todo.pop()
            outstanding.add(iq_id)
            payload = f"<entry xmlns='urn:herald:test'>{markers[iq_id]}</entry>"
            batch.append(ps.publish_xml(node, iq_id, iq_id, payload))
        if batch:
            c.send_raw("".join(batch))
        for s in c.recv_stanzas(timeout=0.05):
            if local(s) == "iq" and s.get("id") in outstanding:
                assert s.get("type") == "result", f"publish refused: {s}"
                outstanding.discard(s.get("id"))
                acked.add(s.get("id"))
    assert not outstanding, f"{len(outstanding)} publishes unanswered"
    return acked


def test_every_acknowledgement_follows_an_fsync(herald_factory, connect, unique_name,
                                                tmp_path):
    h = herald_factory(config={"http": {"tokens": {
        "fsync": {"token": TOKEN, "nodes": ["fsync-*"], "create": True}}}})
    c = connect("alice")
    node = unique_name("fsync")
    ps.create_node(c, node)

    run = uuid.uuid4().hex[:8]
    xmpp_markers = {f"fs{run}x{i}": f"mark{run}x{i}end" for i in range(XMPP_ITEMS)}
    http_markers = {f"fs{run}h{i}": f"mark{run}h{i}end" for i in range(HTTP_ITEMS)}

    trace = tmp_path / "herald.strace"
    tracer = strace_attach(h.proc.pid, trace)
    try:
        acked = publish_pipelined(c, node, xmpp_markers)
        http_ports = {key: http_put(h, node, key, m) for key, m in http_markers.items()}
    finally:
        strace_detach(tracer)
    assert acked == set(xmpp_markers)

    calls = parse_trace(trace)
    component = socket_writes(calls, rf":{h.ejabberd.component_port}\]$")
    acks: dict[str, int] = {}
    for key in xmpp_markers:
        reply = re.compile(rf"""id=\\?["']{key}\\?["']""")
        at = next((w.index for w in component
                   if reply.search(w.text) and "result" in w.text), None)
        assert at is not None, f"no IQ result for {key} in the trace"
        acks[key] = at
    http_port = h.http_url.rsplit(":", 1)[1]
    for key, client_port in http_ports.items():
        writes = socket_writes(calls, rf"^TCP:\[127\.0\.0\.1:{http_port}->127\.0\.0\.1:"
                                      rf"{client_port}\]$")
        at = next((w.index for w in writes if re.search(r"HTTP/1\.1 20[01]", w.text)), None)
        assert at is not None, f"no HTTP response for {key} in the trace"
        acks[key] = at

    markers = {**xmpp_markers, **http_markers}
    syncs = sync_returns(calls)
    print(f"{len(acks)} acknowledgements, {len(syncs)} fsync/fdatasync of db, "
          f"{sum(c.name == 'sync_file_range' for c in calls)} sync_file_range")
    problems = check_acks_follow_syncs(calls, acks, markers)
    assert not problems, (f"{len(problems)} of {len(acks)} acknowledgements not preceded "
                          f"by an fsync:\n" + "\n".join(problems[:10]))

    # The items are there, with their markers (the trace saw real writes).
    got = ps.items_page(c, node, max_=1000)[0]
    assert len(got) == XMPP_ITEMS + HTTP_ITEMS


def test_large_items_blob_files_are_synced_before_the_acknowledgement(
        herald_factory, connect, unique_name, tmp_path):
    """sled writes pages over ~128 KiB to one file each under blobs/ with a
    plain write and no sync: each must be fsynced before the next ack."""
    h = herald_factory()
    c = connect("alice")
    node = unique_name("fsync-big")
    ps.create_node(c, node)
    trace = tmp_path / "herald.strace"
    tracer = strace_attach(h.proc.pid, trace)
    ids = []
    try:
        for i in range(10):
            iq_id = f"big{uuid.uuid4().hex[:8]}"
            payload = f"<blob xmlns='urn:herald:test'>{'z' * 60_000}</blob>"
            reply = c.iq(ps.publish_xml(node, iq_id, iq_id, payload), timeout=30)
            assert reply.get("type") == "result", reply
            ids.append(iq_id)
    finally:
        strace_detach(tracer)
    calls = parse_trace(trace)
    component = socket_writes(calls, rf":{h.ejabberd.component_port}\]$")
    blob_writes = sum(c.name == "write" and "/blobs/" in c.fd_path for c in calls)
    assert blob_writes, "sled wrote no blob file: the test lost its point"
    for iq_id in ids:
        at = next(w.index for w in component if f"id='{iq_id}'" in w.text)
        left = unsynced_blobs(calls, at)
        assert not left, f"{iq_id} acknowledged with blob files not synced: {left}"
