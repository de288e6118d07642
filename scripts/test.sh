#!/usr/bin/env bash
# The one test command: Rust tests, then the Python integration tests
# against a private ejabberd (test profile: c2s 15222, component 15347).
#
#   scripts/test.sh [extra pytest args]
#
# Runs as root (ejabberdctl needs root or the ejabberd user). If the test
# ejabberd was already running it is left running; if this script started
# it, it is stopped at the end, pass or fail (unless another test session
# still uses it). Exits non-zero if anything failed.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$REPO"

# On a fresh machine, install what the tests need first (needs root, as
# the ejabberd sandbox does): ejabberd, curl (README examples are run),
# strace (the fsync test), nats-server (the JetStream store's tests start a
# 3-server cluster on loopback) and the Python packages. Already present: nothing is done.
missing=()
command -v ejabberdctl >/dev/null || [ -x /usr/sbin/ejabberdctl ] || missing+=(ejabberd)
command -v curl >/dev/null || missing+=(curl)
command -v strace >/dev/null || missing+=(strace)   # test_fsync.py: acknowledgements follow an fsync
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
command -v chromium >/dev/null || missing+=(chromium)    # browser tests (playwright-core drives it)
command -v promtool >/dev/null || missing+=(prometheus)  # promtool checks /metrics and the alert rules
if [ ${#missing[@]} -gt 0 ]; then
    echo "=== installing ${missing[*]} (apt) ==="
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi
if ! python3 -c "import pytest, pytest_timeout, slixmpp" 2>/dev/null; then
    echo "=== installing Python test packages ==="
    python3 -m pip install --quiet --disable-pip-version-check -r tests/integration/requirements.txt
fi

# The test clients (tests/heraldtest/) as an editable package, for bench/;
# pytest itself puts this checkout's copy first (tests/integration/pytest.ini);
# compat mode is a plain path entry, so with several checkouts that still
# holds (the default editable finder would win over pytest's path).
python3 -m pip install --quiet --disable-pip-version-check -e tests --config-settings editable_mode=compat
# The JavaScript clients (xmpp.js, stanza.js) for test_js_clients.py, at
# the versions in tests/js/package-lock.json; needs node and npm.
if [ ! -d tests/js/node_modules ] || [ tests/js/package-lock.json -nt tests/js/node_modules ]; then
    if ! command -v npm >/dev/null; then
        echo "=== installing nodejs and npm (apt) ==="
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs npm
    fi
    echo "=== installing the JS test clients (npm ci) ==="
    (cd tests/js && npm ci --no-audit --no-fund)
fi

echo "=== cargo test ==="
cargo test

echo "=== ejabberd (test profile) ==="
# A lease (this shell's pid): the node is stopped at the end only if a test
# session started it and no other session (another pytest run) still uses it.
# Not exported: tests that restart ejabberd on purpose call up/down plainly.
trap 'HERALD_EJABBERD_LEASE=$$ bash ejabberd-config/ejabberd-down.sh test' EXIT
HERALD_EJABBERD_LEASE=$$ bash ejabberd-config/ejabberd-up.sh test

echo "=== integration tests (pytest) ==="
status=0
python3 -m pytest tests/integration -q --durations=15 "$@" || status=$?

# The pubsub, catch-up, ingest, consumer-group and SIGKILL tests again,
# with every Herald as a 3-instance cluster on the JetStream backend
# (`[cluster] enabled`; the harness starts a 3-server NATS cluster on
# loopback via scripts/nats-cluster.sh and stops it at exit; ejabberd
# hands each stanza to any instance, followers forward to the leader).
# Only on a full run: extra pytest arguments select tests of the first pass.
if [ $# -eq 0 ]; then
    echo "=== integration tests on a 3-instance Herald cluster (JetStream) ==="
    HERALD_TEST_STORAGE=cluster python3 -m pytest -q --durations=10 \
        tests/integration/test_catchup.py tests/integration/test_ingest.py \
        tests/integration/test_pubsub_entity.py tests/integration/test_pubsub_entity_publish.py \
        tests/integration/test_pubsub_entity_subs.py tests/integration/test_pubsub_owner.py \
        tests/integration/test_pubsub_owner_manage.py tests/integration/test_pubsub_owner_options.py \
        tests/integration/test_queue.py tests/integration/test_durability.py \
        || status=$?
fi
exit $status
