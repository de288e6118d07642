#!/usr/bin/env bash
# Runs the same workloads against Herald (events.localhost) and ejabberd's
# own mod_pubsub (pubsub.localhost) on one private ejabberd, back to back,
# and prints both with their ratios (table, and JSON under bench/results/).
#
#   bench/run.sh [--quick]
#   bench/run.sh --cluster N [--quick]   (Herald on JetStream, 1 and N
#                                         instances, beside mod_pubsub)
#
# Herald runs as a release build, flushing every acknowledged item;
# ejabberd's mod_pubsub keeps its defaults. Run as root (ejabberdctl).
# HERALD_BENCH_CONNECTIONS sets Herald's component connections (default 1).
# HERALD_BENCH_MULTICAST=false turns XEP-0033 fan-out off (default on), to
# compare with a tree from before it.
# HERALD_BENCH_MULTICAST_BATCH sets Herald's multicast_batch and the raw
# sender's batch (default 20, ejabberd's default limit for a component).
# The workload `bridges` (Herald only, bench/bridges.py) measures webhook
# deliveries/s to 127.0.0.1 and SSE events/s over 100 streams;
# HERALD_BENCH_WEBHOOK_IN_FLIGHT sets [webhooks] max_in_flight (default 8).
#
# Issue 18 workloads (names as in the results JSON):
#   raw-limit-k50, raw-limit-k200  a bare XEP-0114 component
#       (rawbench.localhost) sends pre-rendered notifications to K online
#       c2s clients, per recipient and through mod_multicast (bcc batches of
#       HERALD_BENCH_RAW_BATCH, default 20): what ejabberd can route. The
#       publish-k50/k200 rows get fraction_of_limit from it.
#   publish-k50, publish-k200  K online subscribers, 64 publishes in flight.
#   audience-100k  100,000 subscribed bare JIDs (owner subscriptions set,
#       XEP-0060 §8.8.2, pipelined), 200 online: publish to last online
#       notification; mod_pubsub's publishes are capped (see the JSON).
#   recovery-1m  (Herald only) 1,000,000 items in 1,000 nodes (fill.py) and
#       100,000 stored subscriptions, kill -9 and restart: seconds to
#       /readyz 200 and to the first publish answered, peak RSS.
# --quick shrinks them (audience 10k, recovery 100k items / 10k subscriptions);
# the workload names stay.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$REPO"

# --cluster N: Herald on JetStream as 1 and N instances (bench/cluster.sh).
if [ "${1:-}" = "--cluster" ]; then exec bash "$REPO/bench/cluster.sh" "${2:?--cluster N}" "${3:-}"; fi

ITEMS=10000; LAT_ITEMS=2000; CATCHUP=10000; FILL_NODES=1000; BRIDGE_ITEMS=5000
K200_ITEMS=2000; AUDIENCE=100000; AUD_ONLINE=200; AUD_PUBS=20; AUD_PUBS_EJ=3
REC_NODES=1000; REC_SUBS=100000
if [ "${1:-}" = "--quick" ]; then
    ITEMS=2000; LAT_ITEMS=300; CATCHUP=2000; FILL_NODES=50; BRIDGE_ITEMS=1000
    K200_ITEMS=400; AUDIENCE=10000; AUD_PUBS=5; AUD_PUBS_EJ=3; REC_NODES=100; REC_SUBS=10000
fi
# One batch size for Herald's multicast and the raw sender's, so the limit
# and Herald are measured alike (the sandbox's mod_multicast limits are
# lifted; production: ejabberd-config/README.md).
RAW_BATCH="${HERALD_BENCH_RAW_BATCH:-${HERALD_BENCH_MULTICAST_BATCH:-20}}"
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
multicast = ${HERALD_BENCH_MULTICAST:-true}
multicast_batch = $RAW_BATCH
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
start_herald() {
    HERALD_LOG=warn "$REPO/target/release/herald" run --config "$work/herald.toml" 2>> "$work/herald.log" &
    herald_pid=$!
}
start_herald
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
WORKLOADS="${HERALD_BENCH_WORKLOADS:-publish latency catchup fill bridges raw-limit-k50 raw-limit-k200 publish-k200 audience-100k recovery-1m}"
want() { [[ " $WORKLOADS " == *" $1 "* ]]; }
echo "=== workloads ($WORKLOADS) ==="
for k in 50 200; do
    if want "raw-limit-k$k"; then
        n=$ITEMS; [ "$k" = 200 ] && n=$K200_ITEMS
        run "raw-limit-k$k" rawbench.localhost --workload raw --items "$n" --subscribers "$k" \
            --component-addr "127.0.0.1:$HERALD_COMPONENT_PORT" --component-jid rawbench.localhost \
            --multicast-batch "$RAW_BATCH"
    fi
done
ks=""
want publish && ks="${HERALD_BENCH_K:-1 10 50}"
want publish-k50 && [[ " $ks " != *" 50 "* ]] && ks="$ks 50"
audience_node=""
for svc in events.localhost pubsub.localhost; do
    for k in $ks; do
        run "publish-k$k" "$svc" --workload publish --items "$ITEMS" --inflight 64 --subscribers "$k"
    done
    if want publish-k200; then
        run "publish-k200" "$svc" --workload publish --items "$K200_ITEMS" --inflight 64 --subscribers 200
    fi
    if want latency; then
        run "latency-k1" "$svc" --workload publish --items "$LAT_ITEMS" --inflight 1 --subscribers 1
    fi
    if want catchup; then
        run "catchup" "$svc" --workload catchup --items "$CATCHUP" --page 1000
    fi
    if want audience-100k; then
        pubs=$AUD_PUBS; [ "$svc" = pubsub.localhost ] && pubs=$AUD_PUBS_EJ
        run "audience-100k" "$svc" --workload audience --audience "$AUDIENCE" \
            --subscribers "$AUD_ONLINE" --items "$pubs"
    fi
done
filled=0; filled_nodes=0
if want fill; then
echo "=== HTTP batch ingest: $FILL_NODES nodes x 1000 items (then peak RSS) ==="
fill="$(python3 bench/fill.py http://127.0.0.1:24380 bench-token-0123456789 --nodes "$FILL_NODES" --items 1000)"
echo "{\"label\": \"ingest-fill\", \"result\": $fill}" >> "$results"
echo "  $fill"
filled=$((FILL_NODES * 1000)); filled_nodes=$FILL_NODES
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
if want recovery-1m; then
echo "=== recovery (Herald only): $REC_NODES nodes x 1000 items, $REC_SUBS subscriptions, kill -9, restart ==="
rec_fill='null'
if [ "$filled" -lt $((REC_NODES * 1000)) ]; then
    rec_fill="$(python3 bench/fill.py http://127.0.0.1:24380 bench-token-0123456789 --nodes "$REC_NODES" --items 1000 --prefix rec)"
    echo "  fill: $rec_fill"
    filled=$((filled + REC_NODES * 1000)); filled_nodes=$((filled_nodes + REC_NODES))
fi
# Subscriptions: those of audience-100k on Herald, topped up to REC_SUBS.
subs_stored=0
want audience-100k && subs_stored=$AUDIENCE
if [ "$subs_stored" -lt "$REC_SUBS" ]; then
    "$BENCH" --c2s "$C2S" --service events.localhost --workload audience --items 0 --subscribers 0 \
        --audience $((REC_SUBS - subs_stored)) --run-id "recovery-$RANDOM" > /dev/null
    subs_stored=$REC_SUBS
fi
kill -9 "$herald_pid"; wait "$herald_pid" 2>/dev/null || true
started="$(date +%s.%N)"
start_herald
rec="$(python3 bench/recovery.py http://127.0.0.1:24380 bench-token-0123456789 \
    --started "$started" --pid "$herald_pid" --node rec-0)" || echo "  recovery: no publish answered" >&2
[ -n "$rec" ] || rec='{"error": "bench/recovery.py failed"}'
rec="$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r.update(items_stored=int(sys.argv[2]), nodes=int(sys.argv[3]), subscriptions_stored=int(sys.argv[4]), fill=json.loads(sys.argv[5])); print(json.dumps(r))' \
    "$rec" "$filled" "$filled_nodes" "$subs_stored" "$rec_fill")"
echo "{\"label\": \"recovery-1m\", \"result\": $rec}" >> "$results"
echo "  $rec"
rss_kb="$(awk '/VmHWM/ {print $2}' "/proc/$herald_pid/status")"
fi

mkdir -p bench/results
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
mode=full; [ "${1:-}" = "--quick" ] && mode=quick
HERALD_BENCH_MODE=$mode python3 bench/report.py "$results" "$rss_kb" > "bench/results/$stamp.json"
python3 bench/report.py --table "bench/results/$stamp.json"
echo "raw JSON: bench/results/$stamp.json"
