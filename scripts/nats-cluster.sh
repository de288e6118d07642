#!/usr/bin/env bash
# A 3-server NATS JetStream cluster on loopback, for Herald's
# `[storage] backend = "jetstream"` (dev and tests).
#
#   scripts/nats-cluster.sh up     # start (idempotent), print the URLs
#   scripts/nats-cluster.sh down   # stop the servers this script started
#   scripts/nats-cluster.sh urls   # the client URLs, comma-separated
#
# Ports: client HERALD_NATS_PORT_BASE+0..2 (default 14222), routes +10..12,
# monitoring (HTTP /jsz, /healthz) +20..22.
# State, configs, logs and PID files under HERALD_NATS_DIR (default
# .nats/ in the repository; not committed). Servers are stopped by the
# PIDs recorded here, never by name.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
BASE="${HERALD_NATS_PORT_BASE:-14222}"
DIR="${HERALD_NATS_DIR:-$REPO/.nats}"
BIN="$(command -v nats-server || echo /usr/sbin/nats-server)"

urls() {
    echo "nats://127.0.0.1:$BASE,nats://127.0.0.1:$((BASE + 1)),nats://127.0.0.1:$((BASE + 2))"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

up() {
    [ -x "$BIN" ] || { echo "nats-server not found: apt-get install nats-server" >&2; exit 1; }
    mkdir -p "$DIR"
    local routes="" i
    for i in 0 1 2; do routes+="\"nats-route://127.0.0.1:$((BASE + 10 + i))\", "; done
    for i in 0 1 2; do
        local name="n$((i + 1))"
        if alive "$DIR/$name.pid"; then continue; fi
        cat > "$DIR/$name.conf" <<CONF
server_name: $name
listen: "127.0.0.1:$((BASE + i))"
http: "127.0.0.1:$((BASE + 20 + i))"
jetstream { store_dir: "$DIR/$name" }
cluster { name: herald-dev, listen: "127.0.0.1:$((BASE + 10 + i))", routes: [${routes%, }] }
CONF
        "$BIN" -c "$DIR/$name.conf" >>"$DIR/$name.log" 2>&1 &
        echo $! > "$DIR/$name.pid"
    done
    for i in 0 1 2; do
        local t=0
        until (exec 3<>"/dev/tcp/127.0.0.1/$((BASE + i))") 2>/dev/null; do
            t=$((t + 1)); [ $t -lt 100 ] || { echo "n$((i + 1)) did not start: $DIR/n$((i + 1)).log" >&2; exit 1; }
            sleep 0.1
        done
    done
    wait_meta_leader
    urls
}

# Open ports are not a usable cluster: until the servers elect a JetStream
# meta leader, every stream request times out or answers 503 (10008). On a
# loaded 2-core CI machine that took over 15 s, so wait here, once, rather
# than in every Herald start.
wait_meta_leader() {
    local t=0 i
    while [ $t -lt 600 ]; do
        for i in 0 1 2; do
            if curl -sf "http://127.0.0.1:$((BASE + 20 + i))/jsz" 2>/dev/null \
                | grep -Eq '"leader": *"[^"]+"'; then
                return 0
            fi
        done
        t=$((t + 1)); sleep 0.1
    done
    echo "JetStream has no meta leader after 60 s: $DIR/n*.log" >&2
    exit 1
}

down() {
    local i
    for i in 1 2 3; do
        local pidf="$DIR/n$i.pid"
        if alive "$pidf"; then
            kill "$(cat "$pidf")"
            for _ in $(seq 50); do alive "$pidf" || break; sleep 0.1; done
            alive "$pidf" && kill -9 "$(cat "$pidf")"
        fi
        rm -f "$pidf"
    done
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    urls) urls ;;
    *) echo "usage: $0 up|down|urls" >&2; exit 2 ;;
esac
