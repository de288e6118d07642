"""Fixtures for Herald's integration tests against a real ejabberd.

Session:
  ejabberd     the *test* profile sandbox (ejabberd-config/ejabberd-up.sh
               test): started if needed, stopped at the end when a test
               session started it and no other session still uses it
               (HERALD_KEEP_EJABBERD=1 keeps it running).
  users        alice, bob, carol, dave, admin (password "pass"), by XEP-0077.
  herald_bin   target/debug/herald, built once (HERALD_BIN overrides).
Per test:
  connect      connect("alice") -> logged-in heraldtest.client.Client, closed after.
  herald       a running Herald (temp config + data dir), stopped after;
               with HERALD_TEST_STORAGE=cluster one 3-instance cluster
               shared by the session (shared_cluster).
  herald_factory  herald_factory(config={...}, start=True) for custom or
               several instances.
  unique_name  a fresh node name per call.

Herald's stdout/stderr go to <tmp>/herald.log; a failing test gets the log
tail attached to its report. The clients and the Ejabberd and Herald
process classes are in tests/heraldtest/ (the test-client package).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import Optional

import pytest

from heraldtest.client import Client, ensure_user
from heraldtest.harness import REPO, Ejabberd, Herald, run_script, storage_mode
from heraldtest.sandbox import C2S_PORT, DOMAIN, PASSWORD, PROBE_USER, TEST_USERS

# The scripts read the same variables; make the defaults explicit for them.
os.environ.setdefault("HERALD_C2S_PORT", str(C2S_PORT))
# A lease is per session (see harness.run_script); a test that runs
# ejabberd-down.sh itself means "stop it now", not "drop a lease".
os.environ.pop("HERALD_EJABBERD_LEASE", None)


@pytest.fixture(scope="session")
def ejabberd() -> Ejabberd:
    """The test-profile node. Started if needed; at the end this session's
    lease is dropped, which stops the node only if a test session started
    it and no other session still uses it."""
    sandbox = Path(os.environ.get("HERALD_EJABBERD_DIR", REPO / ".ejabberd" / "test"))
    try:
        run_script("ejabberd-up.sh", "test", lease=True)
    except RuntimeError as e:
        pytest.exit(f"cannot start the test ejabberd:\n{e}", returncode=3)
    yield Ejabberd(sandbox)
    if os.environ.get("HERALD_KEEP_EJABBERD") != "1":
        run_script("ejabberd-down.sh", "test", lease=True)


@pytest.fixture(scope="session")
def users(ejabberd) -> dict[str, str]:
    """Registered test users: name -> bare JID (password is PASSWORD)."""
    for user in TEST_USERS + [PROBE_USER]:
        ensure_user(user, PASSWORD, DOMAIN, ejabberd.c2s_port)
    return {u: f"{u}@{DOMAIN}" for u in TEST_USERS}


@pytest.fixture
def connect(users, ejabberd):
    """connect("alice", resource=None, presence=True) -> Client."""
    clients: list[Client] = []

    def _connect(user: str, password: str = PASSWORD, **kw) -> Client:
        c = Client.connect(f"{user}@{DOMAIN}", password, ejabberd.c2s_port, **kw)
        clients.append(c)
        return c

    yield _connect
    for c in clients:
        c.close()


@pytest.fixture
def unique_name():
    """unique_name("prefix") -> 'prefix-1a2b3c4d', fresh on every call."""
    return lambda prefix="node": f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- herald ------------------------------------------------------------------

@pytest.fixture(scope="session")
def herald_bin() -> Path:
    if os.environ.get("HERALD_BIN"):
        path = Path(os.environ["HERALD_BIN"])
        if not os.access(path, os.X_OK):
            pytest.fail(f"HERALD_BIN={path} is not executable")
        return path
    build = subprocess.run(["cargo", "build", "--quiet", "--bin", "herald"], cwd=REPO,
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if build.returncode != 0:
        pytest.fail(f"cargo build failed:\n{build.stderr[-4000:]}")
    return REPO / "target" / "debug" / "herald"


@pytest.fixture
def herald_factory(request, herald_bin, ejabberd, users, tmp_path):
    """herald_factory(config={...}, start=True, name=None) -> Herald.
    config is deep-merged into the default; a None value removes a key."""
    started: list[Herald] = []
    request.node._heralds = started

    def _make(config: Optional[dict] = None, start: bool = True,
              name: Optional[str] = None) -> Herald:
        # One Herald (cluster) per component domain at a time: ejabberd
        # would spread the stanzas over both.
        if _shared_cluster:
            _shared_cluster[0].stop()
        h = Herald(herald_bin, tmp_path / (name or f"herald{len(started)}"), ejabberd, config)
        started.append(h)
        if start:
            h.start().wait_ready()
        return h

    yield _make
    for h in started:
        h.stop()


# HERALD_TEST_STORAGE=cluster: one 3-instance cluster with the default
# config, shared by the tests that ask for `herald` (starting three
# instances per test costs seconds each); stopped while a test runs a
# Herald of its own from herald_factory.
_shared_cluster: list[Herald] = []


@pytest.fixture(scope="session")
def shared_cluster(herald_bin, ejabberd, users, tmp_path_factory):
    h = Herald(herald_bin, tmp_path_factory.mktemp("cluster"), ejabberd, None)
    _shared_cluster.append(h)
    yield h
    _shared_cluster.clear()
    h.stop()


@pytest.fixture
def herald(request, herald_factory) -> Herald:
    """A running Herald with the default test config (in cluster mode the
    shared cluster, started again if stopped or left dead)."""
    if storage_mode() != "cluster":
        return herald_factory()
    h = request.getfixturevalue("shared_cluster")
    procs = h._procs()
    if not procs or any(p.poll() is not None for p in procs):
        h.kill()
        h.start().wait_ready()
    request.node._heralds = [h]
    return h


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach each Herald's log tail to a failing test's report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for i, h in enumerate(getattr(item, "_heralds", [])):
            report.sections.append((f"herald{i} log ({h.log_path})", h.log_tail(200)))
