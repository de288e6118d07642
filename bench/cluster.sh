#!/usr/bin/env bash
# The publish and fan-out workloads against Herald on JetStream as 1 and
# as N cluster instances (`[cluster] enabled`, one leader, the others
# forwarding), and against ejabberd's mod_pubsub, in one run on one
# private ejabberd and one 3-server NATS cluster on loopback.
#
#   bench/run.sh --cluster N [--quick]     (runs this script)
#
# Every instance keeps one component connection, so with N instances
# ejabberd spreads the publishes over N connections and the followers
# forward theirs to the leader over NATS. Results: a table and JSON under
# bench/results/ (workloads `cluster1-publish-kK`, `clusterN-publish-kK`,
# `publish-kK` for mod_pubsub, and the ratio N/1).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$REPO"

N="${1:?usage: bench/cluster.sh N [--quick]}"
ITEMS=10000
if [ "${2:-}" = "--quick" ]; then ITEMS=2000; fi
KS="${HERALD_BENCH_K:-1 10 50}"

# Bench ports, away from dev/test ones and below the ephemeral range.
export HERALD_EJABBERD_DIR="$REPO/.ejabberd/bench" HERALD_EJABBERD_NODE=herald-bench@localhost
export HERALD_C2S_PORT=24222 HERALD_COMPONENT_PORT=24347 HERALD_HTTP_PORT=24280
export HERALD_EJABBERD_FRESH=1 HERALD_EJABBERD_LOGLEVEL=warning
export HERALD_NATS_PORT_BASE=24500
C2S="127.0.0.1:$HERALD_C2S_PORT"

python3 -m pip install --quiet --disable-pip-version-check -e tests --config-settings editable_mode=compat
echo "=== building (release) ==="
cargo build --release --quiet
(cd bench && cargo build --release --quiet)
BENCH="$REPO/bench/target/release/herald-bench"

work="$(mktemp -d)"
export HERALD_NATS_DIR="$work/nats"
pids=()
stop_heralds() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}
cleanup() {
    stop_heralds
    bash ejabberd-config/ejabberd-down.sh test >/dev/null || true
    bash scripts/nats-cluster.sh down >/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "=== ejabberd (bench sandbox) and NATS (3 servers) ==="
bash ejabberd-config/ejabberd-up.sh test
ej_pid="$(pgrep -f -- "-sname $HERALD_EJABBERD_NODE" | head -1)"
[ -n "$ej_pid" ] || ej_pid="$(pgrep -f -- "$HERALD_EJABBERD_NODE" | head -1)"
urls="$(bash scripts/nats-cluster.sh up)"
servers="$(echo "$urls" | sed 's/[^,]*/"&"/g')"

# start_cluster SIZE PREFIX: SIZE instances on fresh streams PREFIX_*.
start_cluster() {
    local size=$1 prefix=$2 i
    for i in $(seq "$size"); do
        cat > "$work/$prefix-$i.toml" <<TOML
[component]
jid = "events.localhost"
port = $HERALD_COMPONENT_PORT
secret = "herald-dev-secret"
[storage]
backend = "jetstream"
[storage.jetstream]
servers = [$servers]
stream_prefix = "$prefix"
[cluster]
enabled = true
instance = "$prefix-$i"
[http]
listen = "127.0.0.1:$((24380 + i))"
[pubsub]
create_domains = ["localhost"]
[log]
format = "text"
TOML
        HERALD_LOG=warn "$REPO/target/release/herald" run --config "$work/$prefix-$i.toml" \
            2> "$work/$prefix-$i.log" &
        pids+=($!)
    done
    # Ready: one leader and SIZE-1 followers, each with its link up.
    local t roles
    for t in $(seq 300); do
        roles=""
        for i in $(seq "$size"); do
            roles+="$({ curl -s -o /dev/null -D - "http://127.0.0.1:$((24380 + i))/readyz" || true; } \
                | tr -d '\r' | awk -F': ' 'tolower($1) == "herald-role" {print $2}') "
        done
        local leaders followers
        leaders="$(grep -o leader <<<"$roles" | wc -l || true)"
        followers="$(grep -o follower <<<"$roles" | wc -l || true)"
        [ "$leaders" -eq 1 ] && [ "$followers" -eq $((size - 1)) ] && return 0
        sleep 0.2
    done
    echo "cluster of $size not ready: roles $roles" >&2
    tail -20 "$work/$prefix-1.log" >&2
    exit 1
}

results="$work/results.jsonl"
run() {  # run LABEL SERVICE ARGS...
    local label=$1 service=$2; shift 2
    local cpu=(--cpu "ejabberd=$ej_pid") i=1 p out
    for p in "${pids[@]}"; do cpu+=(--cpu "herald$i=$p"); i=$((i + 1)); done
    for p in $(cat "$HERALD_NATS_DIR"/n*.pid); do cpu+=(--cpu "nats-$p=$p"); done
    out="$("$BENCH" --c2s "$C2S" --service "$service" "${cpu[@]}" --run-id "$label-$RANDOM" "$@")"
    echo "{\"label\": \"$label\", \"result\": $out}" >> "$results"
    echo "  $label on $service: done"
}
publish_all() {  # publish_all LABEL_PREFIX SERVICE
    local k
    for k in $KS; do
        run "$1publish-k$k" "$2" --workload publish --items "$ITEMS" --inflight 64 --subscribers "$k"
    done
}

echo "=== mod_pubsub ==="
publish_all "" pubsub.localhost
for size in 1 "$N"; do
    echo "=== Herald on JetStream, $size instance(s) ==="
    start_cluster "$size" "bc$size$RANDOM"
    publish_all "cluster$size-" events.localhost
    stop_heralds
done

mkdir -p bench/results
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
python3 bench/report.py --cluster "$N" "$results" > "bench/results/$stamp-cluster$N.json"
python3 bench/report.py --table "bench/results/$stamp-cluster$N.json"
echo "raw JSON: bench/results/$stamp-cluster$N.json"
