#!/usr/bin/env bash
# Two private ejabberd nodes on loopback joined in one ejabberd (Mnesia)
# cluster, so several Herald instances can attach across them (issue 12).
#
#   scripts/ejabberd-cluster.sh up       # start A and B, join B to A (idempotent)
#   scripts/ejabberd-cluster.sh status   # nodes running? list_cluster from each
#   scripts/ejabberd-cluster.sh down     # stop B, then A (by their ejabberdctl)
#   scripts/ejabberd-cluster.sh ports    # the ports, as shell assignments
#
# Each node is an ejabberd-config/ejabberd-up.sh sandbox (same config
# template; see sandbox-lib.sh) with its own directory, node name and ports:
#
#   node A  herald-clu-a@localhost  c2s BASE+22  component BASE+147  http BASE+80
#   node B  herald-clu-b@localhost  c2s BASE+23  component BASE+148  http BASE+81
#
# BASE is HERALD_CLUSTER_EJ_PORT_BASE (default 16200: c2s 16222/16223,
# component 16347/16348, http 16280/16281). Both nodes accept the component
# events.localhost (XEP-0114, secret HERALD_COMPONENT_SECRET, default
# herald-dev-secret): a component attached to either node is reachable from
# users on both, since routes and sessions are cluster-wide.
#
# Environment: HERALD_CLUSTER_EJ_DIR (default /tmp/herald-ejcluster-<uid>;
# must be reachable by user ejabberd, so not under /root), HERALD_CLUSTER_EJ_NODE_A,
# HERALD_CLUSTER_EJ_NODE_B, HERALD_CLUSTER_EJ_JOIN_TIMEOUT (s, default 90),
# HERALD_EJABBERD_FRESH=1 (wipe both spools before starting: a new cluster).
#
# The Erlang cookie: both nodes run as user ejabberd, whose HOME
# (/var/lib/ejabberd) holds the one .erlang.cookie every node and every
# ejabberdctl call uses, so the two nodes (and epmd, shared) just talk.
# join_cluster on B (ejabberd 23.01) stops ejabberd on B, deletes B's Mnesia
# schema, copies A's tables and starts ejabberd again: B's own data (users
# registered on B before the join) is dropped; A's is kept.
# Mnesia: a node that was not the last one stopped waits at boot for its
# peer's tables, so up starts both nodes at once (down stops B, then A).
# If A's spool is wiped, B's spool (naming the old A) is wiped by up before
# B starts, and B joins again (see cluster_id below).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
EJ="$REPO/ejabberd-config"

BASE="${HERALD_CLUSTER_EJ_PORT_BASE:-16200}"
[[ "$BASE" =~ ^[0-9]+$ ]] || { echo "HERALD_CLUSTER_EJ_PORT_BASE must be a number" >&2; exit 2; }
DIR="${HERALD_CLUSTER_EJ_DIR:-/tmp/herald-ejcluster-$(id -u)}"
NODE_A="${HERALD_CLUSTER_EJ_NODE_A:-herald-clu-a@localhost}"
NODE_B="${HERALD_CLUSTER_EJ_NODE_B:-herald-clu-b@localhost}"
SECRET="${HERALD_COMPONENT_SECRET:-herald-dev-secret}"
JOIN_TIMEOUT="${HERALD_CLUSTER_EJ_JOIN_TIMEOUT:-90}"
FRESH="${HERALD_EJABBERD_FRESH:-0}"

C2S_A=$((BASE + 22));   C2S_B=$((BASE + 23))
COMP_A=$((BASE + 147)); COMP_B=$((BASE + 148))
HTTP_A=$((BASE + 80));  HTTP_B=$((BASE + 81))

say() { echo "[ejabberd-cluster] $*"; }
die() { echo "[ejabberd-cluster] ERROR: $*" >&2; exit 1; }

# sandbox a|b SCRIPT: run ejabberd-up.sh / ejabberd-down.sh for that node.
# 8>&-: the node must not inherit our lock. No lease: act at once.
sandbox() {
    local n="$1" script="$2" fresh="${3:-$FRESH}" node c2s comp http
    if [ "$n" = a ]; then node=$NODE_A c2s=$C2S_A comp=$COMP_A http=$HTTP_A
    else node=$NODE_B c2s=$C2S_B comp=$COMP_B http=$HTTP_B; fi
    env -u HERALD_EJABBERD_LEASE \
        HERALD_EJABBERD_DIR="$DIR/$n" HERALD_EJABBERD_NODE="$node" \
        HERALD_C2S_PORT="$c2s" HERALD_COMPONENT_PORT="$comp" HERALD_HTTP_PORT="$http" \
        HERALD_COMPONENT_SECRET="$SECRET" HERALD_EJABBERD_FRESH="$fresh" \
        bash "$EJ/$script" dev 8>&-
}

# ctl a|b ARGS...: the sandbox's own ejabberdctl wrapper.
ctl() {
    local w="$DIR/$1/ejabberdctl"; shift
    [ -x "$w" ] || return 1
    "$w" "$@" 8>&-
}

running() { ctl "$1" status >/dev/null 2>&1; }

node_of() { if [ "$1" = a ]; then echo "$NODE_A"; else echo "$NODE_B"; fi; }

# registered a|b: the node's VM is up (in epmd), maybe still booting.
registered() {
    local n; n="$(node_of "$1")"
    epmd -names 2>/dev/null | grep -q "^name ${n%@*} at port "
}

# start_node a|b FRESH: ejabberd-up.sh, or, if the VM is already there but
# still booting (e.g. waiting for its peer's tables), wait for it.
start_node() {
    local t0=$SECONDS
    if registered "$1" && ! running "$1"; then
        echo "[ejabberd-cluster] node $1 ($(node_of "$1")) is booting; waiting for it"
        local c2s=$C2S_A comp=$COMP_A
        [ "$1" = b ] && c2s=$C2S_B comp=$COMP_B
        until running "$1" && port_open "$c2s" && port_open "$comp"; do
            (( SECONDS - t0 < JOIN_TIMEOUT )) || { echo "node $1 not started after ${JOIN_TIMEOUT}s" >&2; return 1; }
            sleep 0.5
        done
        echo "[ejabberd-cluster] node $1 started"
        return 0
    fi
    sandbox "$1" ejabberd-up.sh "$2"
}

# cluster_of a|b: the nodes that node sees in its cluster, one per line.
cluster_of() { ctl "$1" list_cluster 2>/dev/null | tr -d "'\"\r" | sed '/^[[:space:]]*$/d'; }

joined() {
    local n
    for n in a b; do
        cluster_of "$n" | grep -qxF "$NODE_A" || return 1
        cluster_of "$n" | grep -qxF "$NODE_B" || return 1
    done
}

# A token written into both spools once B has joined A. A spool wipe (by
# HERALD_EJABBERD_FRESH=1 or by hand) removes it; a B whose token differs
# from A's holds a schema naming an A that no longer exists, and its Mnesia
# would refuse to start, so up wipes B first (the join copies A's data
# anyway). Same for a B spool without a token (a join that never finished).
cluster_id() { cat "$DIR/$1/spool/herald-cluster-id" 2>/dev/null || true; }
set_cluster_id() {
    local id n
    id="$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
    for n in a b; do
        printf '%s\n' "$id" >"$DIR/$n/spool/herald-cluster-id"
        [ "$(id -u)" = 0 ] && chown ejabberd:ejabberd "$DIR/$n/spool/herald-cluster-id"
    done
    return 0
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

lock() {
    mkdir -p "$DIR"
    chmod 755 "$DIR"
    exec 8>"$DIR/.lock"
    flock -w 300 8 || die "could not lock $DIR/.lock"
}

print_ports() {
    cat <<EOF
[ejabberd-cluster] node A $NODE_A: c2s 127.0.0.1:$C2S_A  component 127.0.0.1:$COMP_A  http 127.0.0.1:$HTTP_A
[ejabberd-cluster] node B $NODE_B: c2s 127.0.0.1:$C2S_B  component 127.0.0.1:$COMP_B  http 127.0.0.1:$HTTP_B
[ejabberd-cluster] component events.localhost, secret in $DIR/a/sandbox.env; ctl $DIR/a/ejabberdctl, $DIR/b/ejabberdctl
EOF
}

ports() {
    cat <<EOF
NODE_A=$NODE_A
NODE_B=$NODE_B
C2S_PORT_A=$C2S_A
C2S_PORT_B=$C2S_B
COMPONENT_PORT_A=$COMP_A
COMPONENT_PORT_B=$COMP_B
HTTP_PORT_A=$HTTP_A
HTTP_PORT_B=$HTTP_B
EOF
}

up() {
    lock
    [ "$NODE_A" != "$NODE_B" ] || die "node names A and B are the same"
    if [ "$FRESH" = 1 ]; then
        # A new cluster: B's schema must not remember the old A (and v.v.).
        if registered b || registered a; then die "HERALD_EJABBERD_FRESH=1 with a node running: run down first"; fi
    fi
    local fresh_b="$FRESH"
    if [ "$fresh_b" != 1 ] && ! registered b && [ -n "$(ls -A "$DIR/b/spool" 2>/dev/null)" ] \
       && { [ -z "$(cluster_id b)" ] || [ "$(cluster_id a)" != "$(cluster_id b)" ]; }; then
        say "B's spool is not from this cluster (never joined, or A's spool was wiped): wiping it"
        fresh_b=1
    fi
    # Both at once: a node whose Mnesia was not the last one stopped waits
    # for its peer's tables, so starting A alone could hang (B stopped last).
    start_node a "$FRESH" >"$DIR/a.up.log" 2>&1 & local pa=$!
    start_node b "$fresh_b" >"$DIR/b.up.log" 2>&1 & local pb=$!
    local ra=0 rb=0
    wait "$pa" || ra=$?
    wait "$pb" || rb=$?
    cat "$DIR/a.up.log" "$DIR/b.up.log"
    [ "$ra" = 0 ] && [ "$rb" = 0 ] || die "starting the nodes failed (see above)"
    if joined; then
        [ -n "$(cluster_id a)" ] && [ "$(cluster_id a)" = "$(cluster_id b)" ] || set_cluster_id
        say "already joined: $(cluster_of a | paste -sd' ')"
        print_ports
        return 0
    fi
    say "joining $NODE_B to $NODE_A (B's own Mnesia data is dropped)"
    local t0=$SECONDS out
    if ! out="$(ctl b join_cluster "$NODE_A" 2>&1)"; then
        printf '%s\n' "$out" >&2
        die "join_cluster failed (logs: $DIR/b/log/ejabberd.log)"
    fi
    [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/    /'
    # B restarts ejabberd during the join: wait for it to be started again,
    # with its listeners back, and for both nodes to list both.
    until joined && running b && port_open "$C2S_B" && port_open "$COMP_B"; do
        (( SECONDS - t0 < JOIN_TIMEOUT )) || die "B not joined and started after ${JOIN_TIMEOUT}s (logs: $DIR/b/log/ejabberd.log)"
        sleep 0.5
    done
    set_cluster_id
    say "joined in $((SECONDS - t0))s: $(cluster_of a | paste -sd' ')"
    print_ports
}

down() {
    lock
    # B first, so A (the usual first to boot) holds the newest tables.
    sandbox b ejabberd-down.sh
    sandbox a ejabberd-down.sh
}

status() {
    local rc=0 n
    for n in a b; do
        if running "$n"; then
            say "node $n: running; list_cluster: $(cluster_of "$n" | paste -sd' ')"
        else
            say "node $n: not running (sandbox $DIR/$n)"
            rc=1
        fi
    done
    if [ $rc = 0 ]; then
        if joined; then say "cluster: joined"; else say "cluster: NOT joined"; rc=1; fi
        print_ports
    fi
    return $rc
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    ports) ports ;;
    *) echo "usage: $0 up|down|status|ports" >&2; exit 2 ;;
esac
