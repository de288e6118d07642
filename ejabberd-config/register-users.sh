#!/usr/bin/env bash
# Create test users on a sandbox ejabberd by XEP-0077 in-band registration
# over c2s from loopback (one short TCP session per user, milliseconds each;
# one `ejabberdctl register` per user would boot an Erlang VM each time).
#
#   ejabberd-config/register-users.sh [dev|test] [USER[:PASSWORD] ...]
#
# Default users: alice bob carol dave admin, password "pass".
# Idempotent: an existing user with the same password reports "exists";
# one with a different password is an error. The c2s port follows the
# profile (dev 5222, test 15222) unless HERALD_C2S_PORT is set.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"

profile="${1:-dev}"
[ $# -gt 0 ] && shift
case "$profile" in
    dev)  port="${HERALD_C2S_PORT:-5222}" ;;
    test) port="${HERALD_C2S_PORT:-15222}" ;;
    *) echo "usage: $0 [dev|test] [USER[:PASSWORD] ...]" >&2; exit 2 ;;
esac
[ $# -gt 0 ] || set -- alice:pass bob:pass carol:pass dave:pass admin:pass

echo "[register-users:$profile] registering on 127.0.0.1:$port: $*"
# The test-client package tests/heraldtest/, run from its parent directory.
cd "$REPO/tests" && exec python3 -m heraldtest.client register --port "$port" "$@"
