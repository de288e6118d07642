# shellcheck shell=bash disable=SC2034  # (variables are used by the sourcing scripts)
# Shared by ejabberd-up.sh and ejabberd-down.sh (sourced, not run).
#
# A "sandbox" is a private ejabberd node with its own config, spool
# (mnesia), logs, pid file and Erlang node name, so a dev node and a test
# node can run side by side and never touch Debian's /etc/ejabberd or
# /var/lib/ejabberd (the Debian service is never used).
#
# Layout of $SANDBOX (default: $REPO/.ejabberd/<profile>):
#   etc/ejabberd.yml     generated from ejabberd.yml.in
#   etc/ejabberdctl.cfg  read by /usr/sbin/ejabberdctl via --config-dir
#   etc/inetrc, etc/hosts  Erlang resolver: hosts file only, never DNS
#   spool/  log/  run/   mnesia, ejabberd.log, ejabberd.pid
#   ejabberdctl          wrapper: ./ejabberdctl registered_users localhost
#
# Environment overrides:
#   HERALD_EJABBERD_DIR       sandbox directory
#   HERALD_C2S_PORT           c2s port         (dev 5222,  test 15222)
#   HERALD_COMPONENT_PORT     XEP-0114 port    (dev 5347,  test 15347)
#   HERALD_HTTP_PORT          ejabberd_http    (dev 5280,  test 15280)
#   HERALD_COMPONENT_SECRET   component secret (herald-dev-secret)
#   HERALD_EJABBERD_NODE      Erlang node name (herald-<profile>@localhost)
#   HERALD_EJABBERD_LOGLEVEL  ejabberd loglevel (info)
#   HERALD_EJABBERD_LEASE     a live pid (test session) using the node; see
#                             "Leases" below
#
# Leases: several test sessions (a developer's pytest, scripts/test.sh, CI)
# may share one sandbox node. A session passes HERALD_EJABBERD_LEASE=<its
# pid> to up and down. up records the lease (and, if it had to start the
# node, the run/auto-stop marker); down drops the lease and stops the node
# only when no live lease is left and a session started it. Without a
# lease, up and down act at once (for people, and for tests that restart
# ejabberd on purpose). up and down take a lock, so they never interleave.

CONFIG_SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO="$(cd "$CONFIG_SRC_DIR/.." && pwd -P)"
EJABBERD_USER=ejabberd
EJABBERDCTL_BIN=/usr/sbin/ejabberdctl

say() { echo "[ejabberd-sandbox:${PROFILE:-?}] $*"; }
die() { echo "[ejabberd-sandbox:${PROFILE:-?}] ERROR: $*" >&2; exit 1; }

# sandbox_init PROFILE: sets PROFILE, ports, secret, node and paths.
sandbox_init() {
    PROFILE="${1:-dev}"
    case "$PROFILE" in
        dev)  local c2s=5222  comp=5347  http=5280 ;;
        test) local c2s=15222 comp=15347 http=15280 ;;
        *) die "unknown profile '$PROFILE' (use dev or test)" ;;
    esac
    C2S_PORT="${HERALD_C2S_PORT:-$c2s}"
    COMPONENT_PORT="${HERALD_COMPONENT_PORT:-$comp}"
    HTTP_PORT="${HERALD_HTTP_PORT:-$http}"
    COMPONENT_SECRET="${HERALD_COMPONENT_SECRET:-herald-dev-secret}"
    NODE="${HERALD_EJABBERD_NODE:-herald-$PROFILE@localhost}"
    LOGLEVEL="${HERALD_EJABBERD_LOGLEVEL:-info}"
    SANDBOX="${HERALD_EJABBERD_DIR:-}"
    if [ -z "$SANDBOX" ]; then
        SANDBOX="$(default_sandbox)" || exit 1
    fi

    ETC_DIR="$SANDBOX/etc"
    SPOOL_DIR="$SANDBOX/spool"
    LOG_DIR="$SANDBOX/log"
    RUN_DIR="$SANDBOX/run"
    PID_FILE="$RUN_DIR/ejabberd.pid"
    LEASE="${HERALD_EJABBERD_LEASE:-}"
    LEASE_DIR="$RUN_DIR/leases"
    AUTOSTOP="$RUN_DIR/auto-stop"
    LOG_FILE="$LOG_DIR/ejabberd.log"

    [ -x "$EJABBERDCTL_BIN" ] || die "$EJABBERDCTL_BIN not found: apt-get install -y ejabberd"
    case "$(id -un)" in
        root|"$EJABBERD_USER") ;;
        *) die "run as root (ejabberdctl re-executes itself as user $EJABBERD_USER)" ;;
    esac
}

# default_sandbox: $REPO/.ejabberd/<profile>. The node runs as user
# ejabberd, which may be unable to enter the repo (a clone under /root);
# then the sandbox lives under /var/tmp and the repo path is a symlink to it.
default_sandbox() {
    local link="$REPO/.ejabberd/$PROFILE" real
    if [ "$(id -u)" = 0 ] && ! runuser -u "$EJABBERD_USER" -- test -x "$REPO" 2>/dev/null; then
        real="/var/tmp/herald-ejabberd-$(printf '%s' "$REPO" | sha1sum | cut -c1-12)/$PROFILE"
        mkdir -p "$real" "$REPO/.ejabberd"
        [ -e "$link" ] || ln -s "$real" "$link"
        [ -L "$link" ] || die "$link is not reachable by user $EJABBERD_USER; remove it or set HERALD_EJABBERD_DIR"
    fi
    # Config files must name the real path (the node resolves no symlinks of ours).
    if [ -L "$link" ]; then readlink -f "$link"; else echo "$link"; fi
}

# ctl ARGS...: ejabberdctl against this sandbox's node. --config-dir makes
# ejabberdctl read our ejabberdctl.cfg and inetrc instead of /etc/ejabberd.
# As root it su's to user ejabberd, whose HOME (/var/lib/ejabberd) holds
# the Erlang cookie shared by the node and every ctl call.
ctl() {
    # 9>&-: the detached node must not inherit (and hold forever) our lock.
    "$EJABBERDCTL_BIN" --config-dir "$ETC_DIR" --node "$NODE" \
        --spool "$SPOOL_DIR" --logs "$LOG_DIR" "$@" 9>&-
}

# node_running: exit 0 when `ejabberdctl status` says the node is started.
node_running() {
    [ -f "$ETC_DIR/ejabberdctl.cfg" ] || return 1
    ctl status >/dev/null 2>&1
}

# node_pid: the beam pid from the pid file ejabberd writes, if that
# process is alive and really is our node (pids get reused).
node_pid() {
    local pid
    [ -f "$PID_FILE" ] || return 1
    pid="$(cat "$PID_FILE" 2>/dev/null)"
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-sname $NODE " || return 1
    echo "$pid"
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

log_tail() {
    if [ -f "$LOG_FILE" ]; then
        echo "----- last 40 lines of $LOG_FILE -----" >&2
        tail -n 40 "$LOG_FILE" >&2
        echo "--------------------------------------" >&2
    fi
    local err="$LOG_DIR/error.log"
    if [ -s "$err" ]; then
        echo "----- last 20 lines of $err -----" >&2
        tail -n 20 "$err" >&2
    fi
}

# sandbox_lock: serialise up/down on this sandbox (fd 9, released on exit).
sandbox_lock() {
    mkdir -p "$SANDBOX"
    exec 9>"$SANDBOX/.lock"
    flock -w 120 9 || die "could not lock $SANDBOX/.lock within 120 s"
}

# proc_start PID: the process start time (pids get reused; this does not).
proc_start() {
    [ -r "/proc/$1/stat" ] || return 1
    sed 's/^.*) //' "/proc/$1/stat" | awk '{print $20}'
}

# lease_add: record $LEASE (a pid) as a user of the node.
lease_add() {
    [ -n "$LEASE" ] || return 0
    [[ "$LEASE" =~ ^[0-9]+$ ]] || die "HERALD_EJABBERD_LEASE must be a pid"
    mkdir -p "$LEASE_DIR"
    proc_start "$LEASE" >"$LEASE_DIR/$LEASE" || die "lease pid $LEASE is not running"
}

# live_leases: drop leases whose process is gone; print how many remain.
live_leases() {
    local f n=0
    for f in "$LEASE_DIR"/*; do
        [ -f "$f" ] || continue
        if [ "$(proc_start "$(basename "$f")" 2>/dev/null)" = "$(cat "$f")" ]; then
            n=$((n + 1))
        else
            rm -f "$f"
        fi
    done
    echo "$n"
}
