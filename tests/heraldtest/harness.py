"""The processes the integration tests and bench/ run against: the
test-profile ejabberd sandbox (started and stopped by the scripts in
ejabberd-config/) and Herald processes with a temporary config and data dir.
The pytest fixtures over them are in tests/integration/conftest.py.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Optional

from heraldtest.client import Client, XmppError
from heraldtest.sandbox import (C2S_PORT, COMPONENT_PORT, COMPONENT_SECRET, DOMAIN, PASSWORD,
                                PROBE_USER, SERVICE)
from heraldtest.stanza import tostring

REPO = Path(__file__).resolve().parents[2]
EJ_DIR = REPO / "ejabberd-config"
COMPONENT_JID = SERVICE
# JetStream: a Herald start creates its streams through the cluster's meta
# leader, slower on a loaded CI machine than opening sled.
READY_TIMEOUT = float(os.environ.get(
    "HERALD_READY_TIMEOUT",
    "30" if os.environ.get("HERALD_TEST_STORAGE") == "jetstream" else "15"))


# --- ejabberd --------------------------------------------------------------

class Ejabberd:
    """The running test-profile ejabberd."""

    domain = DOMAIN
    c2s_port = C2S_PORT
    component_port = COMPONENT_PORT
    component_secret = COMPONENT_SECRET
    component_jid = COMPONENT_JID

    def __init__(self, sandbox: Path):
        self.sandbox = sandbox
        self.log_path = sandbox / "log" / "ejabberd.log"

    def ctl(self, *args: str, check: bool = True) -> str:
        """Run ejabberdctl against the test node (slow: boots a VM)."""
        out = subprocess.run([str(self.sandbox / "ejabberdctl"), *args],
                             capture_output=True, text=True, check=False)
        if check and out.returncode != 0:
            raise RuntimeError(f"ejabberdctl {' '.join(args)}: {out.stdout}{out.stderr}")
        return out.stdout

    def log_tail(self, lines: int = 50) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as e:
            return f"(no ejabberd log: {e})"


def run_script(name: str, *args: str, lease: bool = False) -> str:
    env = dict(os.environ)
    if lease:
        # This pytest process is a user of the shared node (see sandbox-lib.sh).
        env["HERALD_EJABBERD_LEASE"] = str(os.getpid())
    out = subprocess.run(["bash", str(EJ_DIR / name), *args], env=env,
                         capture_output=True, text=True, stdin=subprocess.DEVNULL)
    print(out.stdout, end="")
    if out.returncode != 0:
        raise RuntimeError(f"{name} {' '.join(args)} failed ({out.returncode}):\n"
                           f"{out.stdout}{out.stderr}")
    return out.stdout


# --- herald ------------------------------------------------------------------

# HERALD_TEST_STORAGE=jetstream runs every Herald on a 3-server NATS
# JetStream cluster (scripts/nats-cluster.sh, started once and stopped at
# exit unless HERALD_NATS_URLS names a running one) instead of sled.
_NATS_URLS: Optional[list[str]] = None


def nats_urls() -> list[str]:
    global _NATS_URLS
    if _NATS_URLS is None:
        given = os.environ.get("HERALD_NATS_URLS")
        if not given:
            import atexit
            script = str(REPO / "scripts" / "nats-cluster.sh")
            given = subprocess.run(["bash", script, "up"], check=True, text=True,
                                   capture_output=True).stdout.strip()
            atexit.register(subprocess.run, ["bash", script, "down"])
        _NATS_URLS = given.split(",")
    return _NATS_URLS


# HERALD_TEST_STORAGE=cluster runs each Herald as CLUSTER_SIZE instances
# (`[cluster] enabled`) on that NATS cluster, all attached to the test
# ejabberd: ejabberd hands each stanza to any of them, followers forward
# to the leader, and a test talks to the cluster as to one Herald.
CLUSTER_SIZE = 3
CLUSTER_LEASE_TTL_MS = 3000


def storage_mode() -> str:
    return os.environ.get("HERALD_TEST_STORAGE", "sled")


def storage_config(data_dir: Path) -> dict:
    if storage_mode() not in ("jetstream", "cluster"):
        return {"data_dir": str(data_dir)}
    # One prefix per Herald work dir: a restart finds its own streams.
    prefix = "it" + uuid.uuid5(uuid.NAMESPACE_URL, str(data_dir)).hex[:12]
    return {"backend": "jetstream",
            "jetstream": {"servers": nats_urls(), "partitions": 2, "stream_prefix": prefix}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _is_table_list(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def to_toml(config: dict, prefix: str = "", header: Optional[str] = None) -> str:
    """Tiny TOML writer: nested dicts become [tables], lists of dicts
    become [[arrays.of.tables]]."""
    scalars = [f"{k} = {_toml_value(v)}" for k, v in config.items()
               if not isinstance(v, dict) and not _is_table_list(v)]
    out = []
    if header is not None:
        out.append(header + "\n" + "\n".join(scalars) + "\n")
    elif scalars:
        out.append((f"[{prefix}]\n" if prefix else "") + "\n".join(scalars) + "\n")
    for k, v in config.items():
        path = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.append(to_toml(v, path))
        elif _is_table_list(v):
            out.extend(to_toml(x, path, header=f"[[{path}]]") for x in v)
    return "\n".join(out)


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        if v is None:
            out.pop(k, None)          # None removes a key or a whole table
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


class Herald:
    """One herald process. Its config and data dir live under workdir and
    survive restart(), so a restarted Herald sees the same store."""

    def __init__(self, binary: Path, workdir: Path, ejabberd: Ejabberd,
                 config: Optional[dict] = None):
        self.binary = binary
        self.workdir = workdir
        self.ejabberd = ejabberd
        self.data_dir = workdir / "data"
        self.config_path = workdir / "herald.toml"
        self.log_path = workdir / "herald.log"
        self.http_port = free_port()
        self.proc: Optional[subprocess.Popen] = None
        # Run in the child before exec (e.g. resource.setrlimit for Herald only).
        self.preexec_fn = None
        base = {
            "component": {"jid": COMPONENT_JID, "host": "127.0.0.1",
                          "port": ejabberd.component_port,
                          "secret": ejabberd.component_secret},
            "storage": storage_config(self.data_dir),
            "http": {"listen": f"127.0.0.1:{self.http_port}"},
            "pubsub": {"admins": [f"admin@{DOMAIN}"], "create_domains": [DOMAIN]},
        }
        clustered = storage_mode() == "cluster"
        if clustered:
            base["cluster"] = {"enabled": True, "instance": "i1",
                               "lease_ttl_ms": CLUSTER_LEASE_TTL_MS}
        self.config = _merge(base, config or {})
        # A test may run Herald at another component JID (test_multicast.py).
        self.jid = self.config["component"]["jid"]
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(to_toml(self.config))
        # The other instances of the cluster: same config, own HTTP port,
        # instance name, log and work dir.
        self.peers = [_Peer(workdir / f"i{n}", n) for n in range(2, CLUSTER_SIZE + 1)] \
            if clustered and self.config.get("cluster", {}).get("enabled") else []

    @property
    def http_url(self) -> str:
        return f"http://{self.config['http']['listen']}"

    def start(self) -> "Herald":
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("herald is already running")
        self.proc = self._spawn(self.config_path, self.log_path, self.workdir)
        for peer in self.peers:
            peer.write_config(self.config)
            peer.proc = self._spawn(peer.config_path, peer.log_path, peer.workdir)
        return self

    def _spawn(self, config_path: Path, log_path: Path, cwd: Path) -> subprocess.Popen:
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info")
        env.setdefault("RUST_BACKTRACE", "1")
        env.setdefault("NO_COLOR", "1")   # plain text in herald.log
        with open(log_path, "ab") as log:
            log.write(f"\n===== start {time.strftime('%H:%M:%S')} =====\n".encode())
            log.flush()
            return subprocess.Popen(
                [str(self.binary), "run", "--config", str(config_path)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=cwd, env=env, preexec_fn=self.preexec_fn)

    def _procs(self) -> list[subprocess.Popen]:
        return [p for p in [self.proc, *(peer.proc for peer in self.peers)] if p is not None]

    def _wait_cluster_ready(self, deadline: float) -> None:
        """Every instance's /readyz says leader or follower, one leader."""
        import urllib.error
        import urllib.request
        urls = [self.http_url, *(peer.http_url for peer in self.peers)]
        roles: list[str] = []
        while time.monotonic() < deadline:
            self._check_alive()
            roles = []
            for url in urls:
                try:
                    with urllib.request.urlopen(f"{url}/readyz", timeout=2) as r:
                        roles.append(r.headers.get("herald-role", "?"))
                except (urllib.error.URLError, OSError):
                    roles.append("down")
            if roles.count("leader") == 1 and roles.count("follower") == len(urls) - 1:
                return
            time.sleep(0.1)
        raise TimeoutError(f"cluster not ready: roles {roles}\n--- herald log ---\n"
                           f"{self.log_tail()}")

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> "Herald":
        """Ready = a c2s client gets a disco#info result from the component
        (until then ejabberd answers with an error: no route)."""
        deadline = time.monotonic() + timeout
        if self.peers and self.config.get("http", {}).get("listen"):
            self._wait_cluster_ready(deadline)
        last = "no attempt"
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with Client.connect(f"{PROBE_USER}@{DOMAIN}", PASSWORD,
                                    self.ejabberd.c2s_port, presence=False) as c:
                    while time.monotonic() < deadline:
                        self._check_alive()
                        reply = c.disco_info(self.jid, timeout=2)
                        if reply.get("type") == "result":
                            return self
                        last = tostring(reply)
                        time.sleep(0.1)
            except (XmppError, OSError, TimeoutError) as e:
                last = repr(e)
                time.sleep(0.2)
        raise TimeoutError(f"herald not ready after {timeout}s (last: {last})\n"
                           f"--- herald log ---\n{self.log_tail()}")

    def _check_alive(self) -> None:
        for p in [self.proc, *(peer.proc for peer in self.peers)]:
            if p is None or p.poll() is not None:
                code = None if p is None else p.returncode
                raise RuntimeError(f"herald is not running (exit code {code})\n"
                                   f"--- herald log ---\n{self.log_tail()}")

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """SIGTERM and wait; SIGKILL if it does not exit in time. Returns
        the exit code (negative = killed by that signal)."""
        if self.proc is None:
            return None
        # Followers first: the leader's drain is then the last word.
        for p in [*(peer.proc for peer in self.peers if peer.proc), self.proc]:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._append_log(f"did not exit {timeout}s after SIGTERM: SIGKILL")
                    p.kill()
                    p.wait()
        return self.proc.returncode

    def kill(self) -> Optional[int]:
        """SIGKILL now (crash simulation)."""
        if self.proc is None:
            return None
        for p in self._procs():
            if p.poll() is None:
                p.kill()
                p.wait()
        return self.proc.returncode

    def restart(self, hard: bool = False, timeout: float = READY_TIMEOUT) -> "Herald":
        """stop() (or kill() when hard) then start() and wait_ready()."""
        self.kill() if hard else self.stop()
        return self.start().wait_ready(timeout)

    def log_text(self) -> str:
        """The log; in cluster mode every instance's, one after another."""
        out = []
        for path in [self.log_path, *(peer.log_path for peer in self.peers)]:
            try:
                out.append(path.read_text(errors="replace"))
            except OSError:
                pass
        return "".join(out)

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def _append_log(self, line: str) -> None:
        with open(self.log_path, "a") as log:
            log.write(f"[conftest] {line}\n")


class _Peer:
    """Another instance of a clustered Herald (HERALD_TEST_STORAGE=cluster)."""

    def __init__(self, workdir: Path, n: int):
        self.workdir = workdir
        self.instance = f"i{n}"
        self.http_port = free_port()
        self.config_path = workdir / "herald.toml"
        self.log_path = workdir / "herald.log"
        self.proc: Optional[subprocess.Popen] = None
        workdir.mkdir(parents=True, exist_ok=True)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def write_config(self, config: dict) -> None:
        own = {"cluster": {"instance": self.instance}}
        if config.get("http", {}).get("listen"):
            own["http"] = {"listen": f"127.0.0.1:{self.http_port}"}
        self.config_path.write_text(to_toml(_merge(config, own)))
