"""scripts/ejabberd-cluster.sh: two ejabberd nodes joined in one cluster
(issue 12). No Herald: a raw XEP-0114 component stands in for it.

The module starts its own cluster (fresh spools in a temporary directory,
node names herald-clu-test-{a,b}@localhost, ports from base 16230: c2s
16252/16253, component 16377/16378, http 16310/16311) and stops it at the
end; it never touches the test-profile node or a developer's cluster.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from heraldtest.client import Client, Component, StreamError, ensure_user
from heraldtest.harness import REPO
from heraldtest.sandbox import DOMAIN, PASSWORD, SERVICE
from heraldtest.stanza import NS, NS_DISCO_INFO, local

SCRIPT = REPO / "scripts" / "ejabberd-cluster.sh"
BASE = int(os.environ.get("HERALD_TEST_EJCLUSTER_PORT_BASE", "16230"))
NODE_A = "herald-clu-test-a@localhost"
NODE_B = "herald-clu-test-b@localhost"
SECRET = "herald-dev-secret"
C2S_A, C2S_B = BASE + 22, BASE + 23
COMP_A, COMP_B = BASE + 147, BASE + 148


class Cluster:
    def __init__(self, directory: Path):
        self.dir = directory
        self.env = dict(os.environ)
        self.env.pop("HERALD_EJABBERD_LEASE", None)
        self.env.update({
            "HERALD_CLUSTER_EJ_DIR": str(directory),
            "HERALD_CLUSTER_EJ_PORT_BASE": str(BASE),
            "HERALD_CLUSTER_EJ_NODE_A": NODE_A,
            "HERALD_CLUSTER_EJ_NODE_B": NODE_B,
            "HERALD_COMPONENT_SECRET": SECRET,
        })

    def script(self, cmd: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
        out = subprocess.run(["bash", str(SCRIPT), cmd], env={**self.env, **env},
                             capture_output=True, text=True, stdin=subprocess.DEVNULL,
                             timeout=180)
        print(out.stdout, out.stderr, sep="", end="")
        if check and out.returncode != 0:
            raise RuntimeError(f"ejabberd-cluster.sh {cmd} failed ({out.returncode}):\n"
                               f"{out.stdout}{out.stderr}")
        return out

    def ctl(self, node: str, *args: str) -> str:
        out = subprocess.run([str(self.dir / node / "ejabberdctl"), *args],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, f"ejabberdctl {args} on {node}: {out.stdout}{out.stderr}"
        return out.stdout


@pytest.fixture(scope="module")
def cluster():
    # Under /tmp: the nodes run as user ejabberd, which cannot enter /root.
    directory = Path(tempfile.mkdtemp(prefix="herald-ejcluster-test-", dir="/tmp"))
    c = Cluster(directory)
    try:
        c.script("up", HERALD_EJABBERD_FRESH="1")
        yield c
    finally:
        try:
            c.script("down")
        finally:
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def users(cluster) -> dict[str, str]:
    # Registered through node A only: node B must see them (shared Mnesia).
    names = {"alice": f"clu-alice-{uuid.uuid4().hex[:6]}",
             "bob": f"clu-bob-{uuid.uuid4().hex[:6]}"}
    for name in names.values():
        assert ensure_user(name, PASSWORD, DOMAIN, C2S_A) == "created"
    return {k: f"{v}@{DOMAIN}" for k, v in names.items()}


@pytest.fixture
def clients():
    opened: list[Client] = []
    yield opened
    for c in opened:
        c.close()


def session_nodes(cluster: Cluster) -> dict[str, str]:
    """full JID -> Erlang node, from connected_users_info on node A."""
    nodes = {}
    for line in cluster.ctl("a", "connected_users_info").splitlines():
        cols = line.split("\t")
        if len(cols) > 5:
            nodes[cols[0]] = cols[5]
    return nodes


def test_both_nodes_are_in_one_cluster(cluster):
    for node in ("a", "b"):
        listed = {n.strip("'\"") for n in cluster.ctl(node, "list_cluster").split()}
        assert listed == {NODE_A, NODE_B}, f"list_cluster on {node}: {listed}"
    status = cluster.script("status")
    assert "cluster: joined" in status.stdout


def test_up_again_is_idempotent(cluster):
    out = cluster.script("up")
    assert "already joined" in out.stdout
    assert "joining" not in out.stdout


def test_message_from_a_user_on_b_reaches_a_user_on_a(cluster, users, clients):
    alice = Client.connect(users["alice"], PASSWORD, C2S_A)
    clients.append(alice)
    bob = Client.connect(users["bob"], PASSWORD, C2S_B)   # registered on A
    clients.append(bob)
    nodes = session_nodes(cluster)
    assert nodes.get(alice.jid) == NODE_A, nodes
    assert nodes.get(bob.jid) == NODE_B, nodes

    body = f"across the cluster {uuid.uuid4().hex}"
    bob.send_raw(f"<message to='{alice.jid}' type='chat'><body>{body}</body></message>")
    msg = alice.wait_for(lambda s: local(s) == "message"
                         and s.findtext("c:body", namespaces=NS) == body, timeout=10)
    assert msg.get("from") == bob.jid

    back = f"and back {uuid.uuid4().hex}"
    alice.send_raw(f"<message to='{users['bob']}' type='chat'><body>{back}</body></message>")
    msg = bob.wait_for(lambda s: local(s) == "message"
                       and s.findtext("c:body", namespaces=NS) == back, timeout=10)
    assert msg.get("from") == alice.jid


def test_component_on_b_serves_a_user_on_a(cluster, users, clients):
    alice = Client.connect(users["alice"], PASSWORD, C2S_A)
    clients.append(alice)

    # No component anywhere yet: node A answers for the domain with an error.
    reply = alice.disco_info(SERVICE, timeout=10)
    assert reply.get("type") == "error", reply

    comp = Component.connect_component(SERVICE, SECRET, COMP_B)
    clients.append(comp)

    body = f"to the component {uuid.uuid4().hex}"
    alice.send_raw(f"<message to='{SERVICE}' type='chat' id='m1'><body>{body}</body></message>")
    msg = comp.wait_for(lambda s: local(s) == "message", timeout=10)
    assert msg.get("from") == alice.jid
    assert msg.get("to") == SERVICE
    assert msg.findtext("{jabber:component:accept}body") == body

    reply_body = f"reply {uuid.uuid4().hex}"
    comp.send_raw(f"<message from='{SERVICE}' to='{alice.jid}' type='chat'>"
                  f"<body>{reply_body}</body></message>")
    got = alice.wait_for(lambda s: local(s) == "message"
                         and s.findtext("c:body", namespaces=NS) == reply_body, timeout=10)
    assert got.get("from") == SERVICE

    # An IQ round trip too (what Herald's requests are).
    alice.send_raw(f"<iq type='get' id='q1' to='{SERVICE}'><query xmlns='{NS_DISCO_INFO}'/></iq>")
    req = comp.wait_for(lambda s: local(s) == "iq", timeout=10)
    assert req.get("from") == alice.jid
    comp.send_raw(f"<iq type='result' id='{req.get('id')}' from='{SERVICE}' to='{alice.jid}'>"
                  f"<query xmlns='{NS_DISCO_INFO}'><identity category='pubsub' type='service'/>"
                  "</query></iq>")
    res = alice.wait_for(lambda s: local(s) == "iq" and s.get("id") == "q1", timeout=10)
    assert res.get("type") == "result"


def test_component_listener_on_a_checks_the_secret(cluster):
    with pytest.raises(StreamError):
        Component.connect_component(SERVICE, "wrong-secret", COMP_A, timeout=10)
    comp = Component.connect_component(SERVICE, SECRET, COMP_A, timeout=10)
    comp.close()


def test_cluster_survives_a_restart_in_either_order(cluster, users):
    """A stopped first (so B's Mnesia was the last one down, and A alone
    would wait at boot for B's tables): up still starts both, without a
    new join, and the users registered on A still log in on B."""
    env = {**cluster.env,
           "HERALD_EJABBERD_DIR": str(cluster.dir / "a"), "HERALD_EJABBERD_NODE": NODE_A,
           "HERALD_C2S_PORT": str(C2S_A), "HERALD_COMPONENT_PORT": str(COMP_A),
           "HERALD_HTTP_PORT": str(BASE + 80)}
    out = subprocess.run(["bash", str(REPO / "ejabberd-config" / "ejabberd-down.sh"), "dev"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    cluster.script("down")
    assert cluster.script("status", check=False).returncode != 0

    up = cluster.script("up")
    assert "already joined" in up.stdout
    assert "wiping" not in up.stdout
    bob = Client.connect(users["bob"], PASSWORD, C2S_B)
    bob.close()
