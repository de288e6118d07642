#!/usr/bin/env bash
# One command on a fresh Debian machine: run Herald against a local ejabberd.
#
#   sudo scripts/run-dev.sh [herald config]     (default: herald.dev.toml)
#
# Installs ejabberd if missing, starts the dev-profile ejabberd sandbox
# (c2s 127.0.0.1:5222, component 127.0.0.1:5347, secret herald-dev-secret,
# users alice/bob/carol/dave/admin with password "pass"), builds Herald in
# release mode and runs it in the foreground. With the default config, HTTP
# listens on 127.0.0.1:8080 with a dev token; scripts/dev-welcome.sh then
# publishes a first item to node `demo` and prints what to try next. ctrl-c
# stops Herald; the dev ejabberd keeps running (stop it with
# ejabberd-config/ejabberd-down.sh dev).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$REPO"
CONFIG="${1:-herald.dev.toml}"

if ! command -v ejabberdctl >/dev/null && [ ! -x /usr/sbin/ejabberdctl ]; then
    echo "=== installing ejabberd (apt) ==="
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y ejabberd
    # Where services start on install, Debian's own ejabberd now holds 5222
    # and 5280; Herald's dev sandbox is a separate node and needs them.
    if /usr/sbin/ejabberdctl status >/dev/null 2>&1; then
        echo "stopping Debian's ejabberd service started by the install"
        invoke-rc.d ejabberd stop || /usr/sbin/ejabberdctl stop || true
    fi
fi

echo "=== ejabberd (dev profile) ==="
bash ejabberd-config/ejabberd-up.sh dev
bash ejabberd-config/register-users.sh dev

echo "=== building herald (release) ==="
cargo build --release

[ -f "$CONFIG" ] || { echo "config $CONFIG not found" >&2; exit 1; }
echo "=== herald run --config $CONFIG (ctrl-c to stop) ==="
"$REPO/target/release/herald" run --config "$CONFIG" &
HERALD_PID=$!
trap 'kill -TERM "$HERALD_PID" 2>/dev/null; wait "$HERALD_PID"' INT TERM
if [ "$CONFIG" = herald.dev.toml ]; then
    # The dev config's HTTP address and token (printed, and in the README).
    HERALD_URL=http://127.0.0.1:8080 HERALD_TOKEN=herald-dev-token-not-a-secret \
        bash scripts/dev-welcome.sh || echo "(welcome skipped: see Herald's log above)" >&2
fi
wait "$HERALD_PID"
