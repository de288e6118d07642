#!/usr/bin/env bash
# First-run welcome (run by scripts/run-dev.sh once Herald is up): waits for
# /readyz, publishes a first item to the node `demo` (created by that
# publish) and prints the dev token and what to try next.
#
#   HERALD_URL=http://127.0.0.1:8080 HERALD_TOKEN=... scripts/dev-welcome.sh
set -euo pipefail
URL="${HERALD_URL:-http://127.0.0.1:8080}"
TOKEN="${HERALD_TOKEN:-herald-dev-token-not-a-secret}"

for _ in $(seq 300); do
    curl -sf "$URL/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "$URL/readyz" >/dev/null || { echo "Herald is not ready at $URL/readyz" >&2; exit 1; }

curl --fail-with-body -sS -X PUT "$URL/v1/nodes/demo/items/welcome" \
    -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
    -d '{"message": "Herald is running", "next": "publish your own event"}' >/dev/null

cat <<MSG

=== Herald is up: node 'demo' holds its first item ===
HTTP $URL, dev token (publish, read, webhooks, admin on every node):
  export HERALD_URL=$URL HERALD_TOKEN=$TOKEN

Try next:
  1. publish with curl:
     curl -sS -X POST "\$HERALD_URL/v1/nodes/demo/items" -H "Authorization: Bearer \$HERALD_TOKEN" \\
       -H "Content-Type: application/json" -d '{"app": "shiny-app", "action": "created"}'
  2. or with the CLI (reads HERALD_URL and HERALD_TOKEN):
     echo '{"app": "shiny-app"}' | target/release/herald publish --node demo
  3. subscribe from a chat client: log in as alice@localhost / pass (127.0.0.1:5222,
     plain TCP) and send "subscribe demo" to events.localhost; every publish arrives
     as a chat message ("help" lists the commands). Any pubsub client can subscribe
     to node demo at events.localhost too.
  4. watch events stream by (Server-Sent Events), or look at what Herald holds:
     curl -N -H "Authorization: Bearer \$HERALD_TOKEN" "\$HERALD_URL/v1/nodes/demo/events"
     target/release/herald tail demo        target/release/herald nodes

MSG
