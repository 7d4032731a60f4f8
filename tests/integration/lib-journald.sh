# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# A private systemd-journald and a notify socket for integration tests.
# Source this file from a test that already runs as root inside a private
# mount namespace, e.g.
#
#   exec unshare --net --mount --propagation private "$0" "$@"
#
# (see tests/integration/journald-selftest.sh). Every function refuses to
# touch mounts in the machine's own mount namespace.
#
# Journal:
#   journald_start               tmpfs on /run/systemd, /run/log (and
#                                /var/log/journal when it exists), start
#                                systemd-journald, wait <= 5 s for its socket
#   journald_stop                stop it (its files stay)
#   journald_restart             stop, then start on the same files
#   journal_catalog FILE...      compile catalog files and make them the
#                                catalog journalctl -x uses (this namespace)
#   journal_json IDENT [MATCH...]  --sync, then every entry of
#                                SYSLOG_IDENTIFIER=IDENT as JSON, one a line
#   journal_count IDENT [MATCH...] how many such entries
#   journal_wait N IDENT [MATCH...]  wait (<= 15 s, less if $DAEMON, when
#                                set, exits) until at least N entries match;
#                                on timeout print the journal and exit 1
#   journal_field IDENT FIELD [MATCH...]  the values of FIELD, one a line
#                                (needs python3; $PYTHON overrides)
# Notify:
#   notify_start PATH OUTFILE [TIMEOUT]  listen on PATH (helper exits after
#                                TIMEOUT s, default 300), export
#                                NOTIFY_SOCKET=PATH; OUTFILE gets one line
#                                per field: SEQ<TAB>PID<TAB>FIELD=VALUE
#                                (SEQ numbers datagrams, PID is the sender)
#   notify_wait_for REGEX [TIMEOUT]  wait (default 5 s) until a field
#                                FIELD=VALUE matches REGEX (grep -E, whole
#                                field); 1 and a dump of OUTFILE on timeout
#   notify_wait_count REGEX N [TIMEOUT]  the same until N fields match: a
#                                field seen before (READY=1 after a reload)
#                                does not satisfy the wait again
#   notify_fields                the FIELD=VALUE parts received so far
#   notify_stop
#
# Globals: JOURNALD_PID, JOURNALD_LOG, NOTIFY_PID, NOTIFY_OUT.
# Never runs `journalctl --flush`: that would move entries to the machine's
# persistent journal.

JOURNALD_BIN=${JOURNALD_BIN:-/lib/systemd/systemd-journald}
JOURNAL_DIR=/run/log/journal
JOURNAL_SOCKET=/run/systemd/journal/socket
JOURNALD_PID=
JOURNALD_LOG=
NOTIFY_PID=
NOTIFY_OUT=
LIB_JOURNALD_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NOTIFY_LISTEN=${NOTIFY_LISTEN:-$LIB_JOURNALD_DIR/../helpers/notify-listen.py}
# The system's python starts fast and runs for any user (a pyenv shim does not).
if [ -z "${PYTHON:-}" ]; then
        if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi

_lj_err() {
        echo "lib-journald: $*" >&2
}

# True when this process runs in a mount namespace of its own: not that of
# PID 1 or, where PID 1's is unreadable (containers), not that of one of its
# ancestors (meson, the shell that ran unshare).
_lj_private_mounts() {
        local self other pid i
        self=$(readlink /proc/self/ns/mnt) || return 1
        if other=$(readlink /proc/1/ns/mnt 2>/dev/null); then
                [ "$self" != "$other" ]
                return
        fi
        pid=$$
        for ((i = 0; i < 64; i++)); do
                pid=$(awk '$1 == "PPid:" { print $2 }' "/proc/$pid/status" 2>/dev/null)
                [ -n "$pid" ] && [ "$pid" -gt 1 ] || return 1
                other=$(readlink "/proc/$pid/ns/mnt" 2>/dev/null) || return 1
                [ "$self" != "$other" ] && return 0
        done
        return 1
}

# Waits up to $2 tenths of a second for path $1 to be a socket.
_lj_wait_socket() {
        local i
        for ((i = 0; i < $2; i++)); do
                [ -S "$1" ] && return 0
                sleep 0.1
        done
        return 1
}

_journald_spawn() {
        "$JOURNALD_BIN" >>"$JOURNALD_LOG" 2>&1 &
        JOURNALD_PID=$!
        if ! _lj_wait_socket "$JOURNAL_SOCKET" 50; then
                _lj_err "journald did not create $JOURNAL_SOCKET within 5 s:"
                cat "$JOURNALD_LOG" >&2
                journald_stop
                return 1
        fi
}

journald_start() {
        if ! _lj_private_mounts; then
                _lj_err "refusing to mount over /run/systemd outside a private mount namespace"
                return 1
        fi
        if [ -n "$JOURNALD_PID" ]; then
                _lj_err "journald already running (pid $JOURNALD_PID)"
                return 1
        fi
        mount -t tmpfs -o mode=0755 tmpfs /run/systemd || return 1
        mount -t tmpfs -o mode=0755 tmpfs /run/log || return 1
        if [ -d /var/log/journal ]; then
                mount -t tmpfs -o mode=0755 tmpfs /var/log/journal || return 1
        fi
        mkdir -p /run/systemd/journal "$JOURNAL_DIR" || return 1
        JOURNALD_LOG=/run/systemd/journald.log
        : >"$JOURNALD_LOG"
        _journald_spawn
}

journald_stop() {
        local i
        [ -n "$JOURNALD_PID" ] || return 0
        kill -TERM "$JOURNALD_PID" 2>/dev/null
        for ((i = 0; i < 50; i++)); do
                kill -0 "$JOURNALD_PID" 2>/dev/null || break
                sleep 0.1
        done
        if kill -0 "$JOURNALD_PID" 2>/dev/null; then
                _lj_err "journald (pid $JOURNALD_PID) ignored SIGTERM for 5 s, killing it"
                kill -KILL "$JOURNALD_PID" 2>/dev/null
        fi
        wait "$JOURNALD_PID" 2>/dev/null
        JOURNALD_PID=
        rm -f "$JOURNAL_SOCKET"
        return 0
}

journald_restart() {
        [ -n "$JOURNALD_LOG" ] || { _lj_err "journald_start first"; return 1; }
        journald_stop
        _journald_spawn
}

# Compiles the given catalog files into a database in a temporary root and
# mounts it over /var/lib/systemd/catalog, in this mount namespace only, so
# that `journalctl -x` explains the entries. The machine's catalog is not
# touched.
journal_catalog() {
        local root
        _lj_private_mounts || { _lj_err "not in a private mount namespace"; return 1; }
        root=/run/systemd/catalog-root
        mkdir -p "$root/usr/lib/systemd/catalog" "$root/var/lib/systemd/catalog" || return 1
        cp "$@" "$root/usr/lib/systemd/catalog/" || return 1
        journalctl --root="$root" --update-catalog || return 1
        mkdir -p /var/lib/systemd/catalog 2>/dev/null
        mount --bind "$root/var/lib/systemd/catalog" /var/lib/systemd/catalog
}

journal_sync() {
        journalctl --sync || return 1
}

journal_json() {
        local ident=$1
        shift
        journal_sync || return 1
        journalctl -D "$JOURNAL_DIR" -o json --no-pager -q \
                SYSLOG_IDENTIFIER="$ident" "$@"
}

journal_count() {
        local n
        n=$(journal_json "$@") || return 1
        if [ -z "$n" ]; then
                echo 0
        else
                printf '%s\n' "$n" | wc -l
        fi
}

journal_wait() {
        local want=$1 ident=$2 i c=0
        shift 2
        for ((i = 0; i < 150; i++)); do
                c=$(journal_count "$ident" "$@")
                [ "$c" -ge "$want" ] && return 0
                if [ -n "${DAEMON:-}" ] && ! kill -0 "$DAEMON" 2>/dev/null; then
                        break
                fi
                sleep 0.1
        done
        journal_json "$ident" >&2
        echo "FAIL: fewer than $want journal entries of $ident match $* (got $c)"
        exit 1
}

journal_field() {
        local ident=$1 field=$2
        shift 2
        journal_json "$ident" "$@" | "$PYTHON" -c '
import json, sys
field = sys.argv[1]
for line in sys.stdin:
    v = json.loads(line).get(field)
    if v is None:
        continue
    if isinstance(v, list):  # the field repeats in this entry
        v = " ".join(str(x) for x in v)
    print(v)
' "$field"
}

notify_start() {
        local path=$1 out=$2 timeout=${3:-300} i
        [ -z "$NOTIFY_PID" ] || { _lj_err "notify listener already running"; return 1; }
        rm -f "$path"
        : >"$out" || return 1
        "$PYTHON" "$NOTIFY_LISTEN" "$path" "$timeout" >>"$out" &
        NOTIFY_PID=$!
        NOTIFY_OUT=$out
        if ! _lj_wait_socket "$path" 50; then
                _lj_err "notify listener did not bind $path within 5 s"
                notify_stop
                return 1
        fi
        export NOTIFY_SOCKET=$path
}

notify_wait_for() {
        notify_wait_count "$1" 1 "${2:-5}"
}

notify_wait_count() {
        local pattern=$1 want=$2 timeout=${3:-5} i n c tab=$'\t'
        n=$((timeout * 10))
        for ((i = 0; i <= n; i++)); do
                c=$(grep -Ec -- "^[0-9]+${tab}-?[0-9]+${tab}(${pattern})\$" "$NOTIFY_OUT")
                [ "${c:-0}" -ge "$want" ] && return 0
                sleep 0.1
        done
        _lj_err "fewer than $want notify messages matching '$pattern' within ${timeout} s; got:"
        cat "$NOTIFY_OUT" >&2
        return 1
}

notify_fields() {
        cut -f3- "$NOTIFY_OUT"
}

notify_stop() {
        [ -n "$NOTIFY_PID" ] || return 0
        kill -TERM "$NOTIFY_PID" 2>/dev/null
        wait "$NOTIFY_PID" 2>/dev/null
        NOTIFY_PID=
        unset NOTIFY_SOCKET
        return 0
}
