#!/usr/bin/env bash
# Runs the same workloads against Herald (events.localhost) and ejabberd's
# own mod_pubsub (pubsub.localhost) on one private ejabberd, back to back,
# and prints both with their ratios (table, and JSON under bench/results/).
#
#   bench/run.sh [--quick]
#
# Herald runs as a release build, flushing every acknowledged item;
# ejabberd's mod_pubsub keeps its defaults. Run as root (ejabberdctl).
# HERALD_BENCH_CONNECTIONS sets Herald's component connections (default 1).
# The workload `bridges` (Herald only, bench/bridges.py) measures webhook
# deliveries/s to 127.0.0.1 and SSE events/s over 100 streams;
# HERALD_BENCH_WEBHOOK_IN_FLIGHT sets [webhooks] max_in_flight (default 8).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$REPO"

ITEMS=10000; LAT_ITEMS=2000; CATCHUP=10000; FILL_NODES=1000; BRIDGE_ITEMS=5000
if [ "${1:-}" = "--quick" ]; then ITEMS=2000; LAT_ITEMS=300; CATCHUP=2000; FILL_NODES=50; BRIDGE_ITEMS=1000; fi
HOOK_IN_FLIGHT="${HERALD_BENCH_WEBHOOK_IN_FLIGHT:-8}"

# A private ejabberd of its own, fresh each run, away from dev/test ports
# and below the ephemeral range (32768+), where a TIME_WAIT socket can hold
# a port and make the listener fail with eaddrinuse.
export HERALD_EJABBERD_DIR="$REPO/.ejabberd/bench" HERALD_EJABBERD_NODE=herald-bench@localhost
export HERALD_C2S_PORT=24222 HERALD_COMPONENT_PORT=24347 HERALD_HTTP_PORT=24280
export HERALD_EJABBERD_FRESH=1 HERALD_EJABBERD_LOGLEVEL=warning
C2S="127.0.0.1:$HERALD_C2S_PORT"

# bench/catchup.py and bench/queue.py import the test clients as a package
# (tests/heraldtest/, see xep-notes/decisions.md): editable, so this
# checkout's copy is the one imported.
python3 -m pip install --quiet --disable-pip-version-check -e tests --config-settings editable_mode=compat

echo "=== building (release) ==="
cargo build --release --quiet
(cd bench && cargo build --release --quiet)
BENCH="$REPO/bench/target/release/herald-bench"

work="$(mktemp -d)"
herald_pid=""
cleanup() {
    [ -n "$herald_pid" ] && kill "$herald_pid" 2>/dev/null && wait "$herald_pid" 2>/dev/null || true
    bash ejabberd-config/ejabberd-down.sh test >/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "=== ejabberd (bench sandbox) ==="
bash ejabberd-config/ejabberd-up.sh test
ej_pid="$(pgrep -f -- "-sname $HERALD_EJABBERD_NODE" | head -1)"
[ -n "$ej_pid" ] || ej_pid="$(pgrep -f -- "$HERALD_EJABBERD_NODE" | head -1)"

cat > "$work/herald.toml" <<TOML
[component]
jid = "events.localhost"
port = $HERALD_COMPONENT_PORT
secret = "herald-dev-secret"
connections = ${HERALD_BENCH_CONNECTIONS:-1}
[storage]
data_dir = "$work/data"
cache_mb = ${HERALD_BENCH_CACHE_MB:-4}
[http]
listen = "127.0.0.1:24380"
[http.tokens.bench]
token = "bench-token-0123456789"
nodes = ["*"]
create = true
scopes = ["publish", "read", "webhooks"]
[webhooks]
allow_private = true
max_in_flight = $HOOK_IN_FLIGHT
[pubsub]
create_domains = ["localhost"]
[log]
format = "text"
TOML
HERALD_LOG=warn "$REPO/target/release/herald" run --config "$work/herald.toml" 2> "$work/herald.log" &
herald_pid=$!
for _ in $(seq 50); do sleep 0.2; ss -Htn state established "( dport = :$HERALD_COMPONENT_PORT )" | grep -q . && break; done
sleep 0.5

results="$work/results.jsonl"
run() {  # run LABEL SERVICE ARGS...
    local label=$1 service=$2; shift 2
    local out
    out="$("$BENCH" --c2s "$C2S" --service "$service" --cpu "herald=$herald_pid" --cpu "ejabberd=$ej_pid" --run-id "$label-$RANDOM" "$@")"
    echo "{\"label\": \"$label\", \"result\": $out}" >> "$results"
    echo "  $label on $service: done"
}

# HERALD_BENCH_WORKLOADS picks a subset (for experiments).
WORKLOADS="${HERALD_BENCH_WORKLOADS:-publish latency catchup fill bridges}"
want() { [[ " $WORKLOADS " == *" $1 "* ]]; }
echo "=== workloads ($WORKLOADS) ==="
for svc in events.localhost pubsub.localhost; do
    if want publish; then
        for k in ${HERALD_BENCH_K:-1 10 50}; do
            run "publish-k$k" "$svc" --workload publish --items "$ITEMS" --inflight 64 --subscribers "$k"
        done
    fi
    if want latency; then
        run "latency-k1" "$svc" --workload publish --items "$LAT_ITEMS" --inflight 1 --subscribers 1
    fi
    if want catchup; then
        run "catchup" "$svc" --workload catchup --items "$CATCHUP" --page 1000
    fi
done
if want fill; then
echo "=== HTTP batch ingest: $FILL_NODES nodes x 1000 items (then peak RSS) ==="
fill="$(python3 bench/fill.py http://127.0.0.1:24380 bench-token-0123456789 --nodes "$FILL_NODES" --items 1000)"
echo "{\"label\": \"ingest-fill\", \"result\": $fill}" >> "$results"
echo "  $fill"
fi
if want bridges; then
echo "=== HTTP bridges (Herald only): webhooks to 127.0.0.1, SSE x 100 streams, $BRIDGE_ITEMS items ==="
bridge() {  # bridge LABEL ARGS...
    local label=$1 out; shift
    out="$(python3 bench/bridges.py http://127.0.0.1:24380 bench-token-0123456789 \
        --items "$BRIDGE_ITEMS" --herald-pid "$herald_pid" "$@")" \
        || echo "  $label: items missing (see the JSON)" >&2
    [ -n "$out" ] || out='{"error": "bench/bridges.py failed"}'
    echo "{\"label\": \"$label\", \"result\": $out}" >> "$results"
    echo "  $label: $out"
}
bridge webhook-deliveries webhooks --max-in-flight "$HOOK_IN_FLIGHT"
bridge sse-100 sse --streams 100
fi
rss_kb="$(awk '/VmHWM/ {print $2}' "/proc/$herald_pid/status")"

mkdir -p bench/results
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
python3 bench/report.py "$results" "$rss_kb" > "bench/results/$stamp.json"
python3 bench/report.py --table "bench/results/$stamp.json"
echo "raw JSON: bench/results/$stamp.json"
