#!/usr/bin/env bash
# A whole Herald cluster on loopback, for trying cluster mode by hand
# (issue 12): a 3-server NATS JetStream cluster (scripts/nats-cluster.sh),
# two ejabberd nodes joined in one ejabberd cluster
# (scripts/ejabberd-cluster.sh) and three Herald instances with
# `[cluster] enabled` on JetStream storage: h1 and h2 attached to node A's
# component port, h3 to node B's.
#
#   scripts/cluster-dev.sh up       # start everything (idempotent), print the URLs
#   scripts/cluster-dev.sh status   # what runs, and which instance leads
#   scripts/cluster-dev.sh down     # stop what up started (PID files, sandboxes)
#
# State (configs, logs, PID files, NATS and ejabberd sandboxes) under
# HERALD_CLUSTER_DEV_DIR (default /tmp/herald-cluster-dev; the ejabberd
# nodes run as user ejabberd, so not under /root).
# Ports: HERALD_NATS_PORT_BASE (default 14222, see nats-cluster.sh),
# HERALD_CLUSTER_EJ_PORT_BASE (default 16200, see ejabberd-cluster.sh),
# HERALD_CLUSTER_DEV_HTTP_BASE (default 18181: Herald HTTP on +0..2).
# Node names: HERALD_CLUSTER_EJ_NODE_A / _B (ejabberd-cluster.sh defaults).
# Binary: HERALD_BIN (default target/debug/herald, built if missing).
# HTTP token for every instance: herald-dev-token-not-a-secret (dev only).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
STATE="${HERALD_CLUSTER_DEV_DIR:-/tmp/herald-cluster-dev}"
HTTP_BASE="${HERALD_CLUSTER_DEV_HTTP_BASE:-18181}"
BIN="${HERALD_BIN:-$REPO/target/debug/herald}"
SECRET="${HERALD_COMPONENT_SECRET:-herald-dev-secret}"
TOKEN="herald-dev-token-not-a-secret"
PREFIX="herald_dev"
export HERALD_NATS_DIR="${HERALD_NATS_DIR:-$STATE/nats}"
export HERALD_CLUSTER_EJ_DIR="${HERALD_CLUSTER_EJ_DIR:-$STATE/ejabberd}"
export HERALD_COMPONENT_SECRET="$SECRET"

say() { echo "[cluster-dev] $*"; }
die() { echo "[cluster-dev] ERROR: $*" >&2; exit 1; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# The ejabberd ports, from the script that owns them.
eval "$(bash "$REPO/scripts/ejabberd-cluster.sh" ports)"

# instance N -> the component port it attaches to (two on A, one on B).
comp_port() { if [ "$1" = 3 ]; then echo "$COMPONENT_PORT_B"; else echo "$COMPONENT_PORT_A"; fi; }
http_port() { echo $((HTTP_BASE + $1 - 1)); }

write_config() {
    local i="$1" urls="$2" servers
    servers="$(echo "$urls" | sed 's/[^,][^,]*/"&"/g; s/,/, /g')"
    cat >"$STATE/h$i/herald.toml" <<CONF
# Written by scripts/cluster-dev.sh; rewritten on every up.
[component]
jid = "events.localhost"
host = "127.0.0.1"
port = $(comp_port "$i")
secret = "$SECRET"

[storage]
backend = "jetstream"

[storage.jetstream]
servers = [$servers]
stream_prefix = "$PREFIX"

[cluster]
enabled = true
instance = "h$i"

[http]
listen = "127.0.0.1:$(http_port "$i")"

[http.tokens.dev]
token = "$TOKEN"
nodes = ["*"]
create = true
scopes = ["publish", "read", "webhooks", "admin"]

[pubsub]
admins = ["admin@localhost"]
create_domains = ["localhost"]
CONF
}

# role N: leader, follower, not-ready or down, from the instance's /readyz.
role() {
    local hdr
    hdr="$(curl -s -m 2 -o /dev/null -D - "http://127.0.0.1:$(http_port "$1")/readyz" 2>/dev/null)" \
        || { echo down; return; }
    if ! grep -q '^HTTP/[0-9.]* 200' <<<"$hdr"; then echo not-ready; return; fi
    grep -i '^herald-role:' <<<"$hdr" | awk '{print $2}' | tr -d '\r'
}

leader() {
    local i
    for i in 1 2 3; do [ "$(role "$i")" = leader ] && { echo "h$i"; return 0; }; done
    return 1
}

print_urls() {
    local i
    for i in 1 2 3; do
        say "h$i: http://127.0.0.1:$(http_port "$i") ($(role "$i")), component port $(comp_port "$i"), log $STATE/h$i/herald.log"
    done
    say "ejabberd A $NODE_A: c2s 127.0.0.1:$C2S_PORT_A; B $NODE_B: c2s 127.0.0.1:$C2S_PORT_B"
    say "NATS: $(bash "$REPO/scripts/nats-cluster.sh" urls)"
    say "leader: $(leader || echo none)"
    say "token: $TOKEN"
}

up() {
    mkdir -p "$STATE"
    chmod 755 "$STATE"
    if [ ! -x "$BIN" ]; then
        say "building $BIN"
        (cd "$REPO" && cargo build --quiet)
    fi
    local urls i
    urls="$(bash "$REPO/scripts/nats-cluster.sh" up)"
    bash "$REPO/scripts/ejabberd-cluster.sh" up
    for i in 1 2 3; do
        mkdir -p "$STATE/h$i"
        write_config "$i" "$urls"
        if alive "$STATE/h$i/herald.pid"; then continue; fi
        (cd "$STATE/h$i" && RUST_LOG="${RUST_LOG:-info}" NO_COLOR=1 \
            exec "$BIN" run --config "$STATE/h$i/herald.toml" >>"$STATE/h$i/herald.log" 2>&1 </dev/null) &
        echo $! >"$STATE/h$i/herald.pid"
    done
    # Ready: every instance answers /readyz 200 and one of them leads.
    local t=0 roles
    while :; do
        roles="$(for i in 1 2 3; do role "$i"; done | paste -sd' ')"
        if leader >/dev/null && ! grep -Eq 'down|not-ready' <<<"$roles"; then break; fi
        t=$((t + 1))
        [ $t -lt 300 ] || die "instances not ready after 60 s ($roles): see $STATE/h*/herald.log"
        sleep 0.2
    done
    print_urls
}

down() {
    local i pidf
    for i in 1 2 3; do
        pidf="$STATE/h$i/herald.pid"
        if alive "$pidf"; then
            kill "$(cat "$pidf")"
            for _ in $(seq 100); do alive "$pidf" || break; sleep 0.1; done
            alive "$pidf" && kill -9 "$(cat "$pidf")"
        fi
        rm -f "$pidf"
    done
    if [ -d "$HERALD_CLUSTER_EJ_DIR" ]; then bash "$REPO/scripts/ejabberd-cluster.sh" down; fi
    bash "$REPO/scripts/nats-cluster.sh" down
    say "stopped"
}

status() {
    local i rc=0
    for i in 1 2 3; do
        if alive "$STATE/h$i/herald.pid"; then
            say "h$i: pid $(cat "$STATE/h$i/herald.pid")"
        else
            say "h$i: not running"; rc=1
        fi
    done
    for i in 1 2 3; do
        alive "$HERALD_NATS_DIR/n$i.pid" || { say "NATS n$i: not running"; rc=1; }
    done
    bash "$REPO/scripts/ejabberd-cluster.sh" status || rc=1
    print_urls
    return $rc
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
