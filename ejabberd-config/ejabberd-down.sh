#!/usr/bin/env bash
# Stop the private ejabberd node started by ejabberd-up.sh.
#
#   ejabberd-config/ejabberd-down.sh [dev|test]    (default: dev)
#
# Idempotent: if the node is not running, says so and exits 0.
# With HERALD_EJABBERD_LEASE=<pid> it only drops that lease, and stops the
# node only if no other session uses it and a session started it.
# The spool (registered users, nodes) is kept; HERALD_EJABBERD_FRESH=1 on
# the next ejabberd-up.sh wipes it. epmd is left alone: it is shared by
# every Erlang node on the machine.
set -euo pipefail
# shellcheck source=ejabberd-config/sandbox-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/sandbox-lib.sh"
sandbox_init "${1:-dev}"

STOP_TIMEOUT="${HERALD_EJABBERD_STOP_TIMEOUT:-30}"

sandbox_lock
if [ -n "$LEASE" ]; then
    rm -f "$LEASE_DIR/$LEASE"
    others="$(live_leases)"
    if [ "$others" != 0 ]; then
        say "leaving node $NODE running: $others other session(s) still use it"
        exit 0
    fi
    if [ ! -f "$AUTOSTOP" ]; then
        say "leaving node $NODE running: it was started outside a test session"
        exit 0
    fi
fi

pid="$(node_pid || true)"
# No live pid in our pid file: ask ejabberdctl before saying "not running"
# (the pid file could have been removed by hand).
if [ -z "$pid" ] && ! node_running; then
    say "not running (node $NODE, sandbox $SANDBOX)"
    exit 0
fi

say "stopping node $NODE (pid ${pid:-?})"
t0=$SECONDS
if ! ctl stop >/dev/null 2>&1 && [ -n "$pid" ]; then
    # Our beam is alive but does not answer ejabberdctl: it is wedged.
    say "node not answering ejabberdctl; sending SIGKILL to $pid"
    kill -KILL "$pid" 2>/dev/null || true
fi
# `ejabberdctl stop` returns before the VM has exited; wait for the pid so
# the ports are free when we return.
if [ -n "$pid" ]; then
    while kill -0 "$pid" 2>/dev/null; do
        if (( SECONDS - t0 >= STOP_TIMEOUT )); then
            say "still alive after ${STOP_TIMEOUT}s; sending SIGKILL to $pid"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
else
    until ! node_running; do
        (( SECONDS - t0 >= STOP_TIMEOUT )) && die "node $NODE still running after ${STOP_TIMEOUT}s"
        sleep 0.5
    done
fi
rm -f "$PID_FILE"
# Keep auto-stop while sessions live: a test that restarts ejabberd by hand
# inside a session still gets the node stopped when that session ends.
[ "$(live_leases)" = 0 ] && rm -f "$AUTOSTOP"
say "stopped in $((SECONDS - t0))s"
