#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Proves the harness of lib-journald.sh against a real systemd-journald in a
# private namespace: structured fields come back exactly, the catalog
# explains backlogd's message ids, journald survives a restart, and the
# notify listener reports what sd_notify sends.
#
# usage: journald-selftest.sh SOURCE_ROOT
set -u

if [ "$(id -u)" -ne 0 ]; then
        echo "SKIP: needs root (mounts tmpfs and runs systemd-journald in a private mount namespace)"
        exit 77
fi
if [ -z "${LIB_JOURNALD_SELFTEST_INNER:-}" ]; then
        export LIB_JOURNALD_SELFTEST_INNER=1
        exec unshare --net --mount --propagation private "$0" "$@"
fi

SRC=${1:?usage: journald-selftest.sh SOURCE_ROOT}
# shellcheck source=lib-journald.sh
. "$SRC/tests/integration/lib-journald.sh"

failures=0
checks=0
check_eq() { # DESCRIPTION EXPECTED ACTUAL
        checks=$((checks + 1))
        if [ "$2" == "$3" ]; then
                echo "ok - $1"
        else
                echo "FAIL - $1: expected '$2', got '$3'"
                failures=$((failures + 1))
        fi
}
check_rc() { # DESCRIPTION EXPECTED_RC COMMAND...
        local desc=$1 want=$2 rc
        shift 2
        "$@"
        rc=$?
        check_eq "$desc" "$want" "$rc"
}
cleanup() {
        notify_stop
        journald_stop
}
trap cleanup EXIT

ip link set lo up

# The ids the daemon will send, from the header it is compiled with.
msgid() {
        sed -n "s/^#define MESSAGE_ID_$1 *\"\([0-9a-f]\{32\}\)\".*/\1/p" "$SRC/include/message-ids.h"
}
ID_FULL=$(msgid FULL)
ID_LIFECYCLE=$(msgid LIFECYCLE)
check_eq "MESSAGE_ID_FULL is 32 hex digits" 32 "${#ID_FULL}"

check_rc "journald_start" 0 journald_start
# Everything below writes under /run/systemd: stop unless it is our tmpfs.
[ -n "$JOURNALD_PID" ] || { echo "journald did not start, giving up"; exit 1; }
check_eq "journald socket" yes "$([ -S "$JOURNAL_SOCKET" ] && echo yes)"
check_eq "no entries yet" 0 "$(journal_count backlogd-selftest)"

ident=backlogd-selftest
send_full() { # DEPTH
        logger --journald <<-EOT
	MESSAGE=Listen queue of 127.0.0.1:8080 is full (depth $1)
	MESSAGE_ID=$ID_FULL
	PRIORITY=3
	SYSLOG_IDENTIFIER=$ident
	BACKLOGD_EVENT=full
	BACKLOGD_ADDRESS=127.0.0.1
	BACKLOGD_PORT=8080
	BACKLOGD_DEPTH=$1
	BACKLOGD_BACKLOG=4
	BACKLOGD_FILL=100
	EOT
}
check_rc "logger --journald" 0 send_full 5
logger --journald <<-EOT
	MESSAGE=started
	MESSAGE_ID=$ID_LIFECYCLE
	PRIORITY=6
	SYSLOG_IDENTIFIER=$ident
	EOT

check_eq "two entries" 2 "$(journal_count $ident)"
check_eq "one FULL entry" 1 "$(journal_count $ident MESSAGE_ID="$ID_FULL")"
check_eq "MESSAGE" "Listen queue of 127.0.0.1:8080 is full (depth 5)" \
        "$(journal_field $ident MESSAGE MESSAGE_ID="$ID_FULL")"
check_eq "BACKLOGD_ADDRESS" "127.0.0.1" "$(journal_field $ident BACKLOGD_ADDRESS)"
check_eq "BACKLOGD_PORT" 8080 "$(journal_field $ident BACKLOGD_PORT)"
check_eq "BACKLOGD_DEPTH" 5 "$(journal_field $ident BACKLOGD_DEPTH)"
check_eq "BACKLOGD_BACKLOG" 4 "$(journal_field $ident BACKLOGD_BACKLOG)"
check_eq "PRIORITY" "3
6" "$(journal_field $ident PRIORITY)"
check_eq "other identifiers are not mixed in" 0 "$(journal_count backlogd-other)"

# journalctl -x: the catalog explains the entry, with its fields filled in.
check_rc "journal_catalog" 0 journal_catalog "$SRC/systemd/backlogd.catalog"
explained=$(journalctl -D "$JOURNAL_DIR" -x --no-pager -q SYSLOG_IDENTIFIER=$ident MESSAGE_ID="$ID_FULL")
check_eq "catalog subject, substituted" 1 \
        "$(grep -c 'Subject: Listen queue of 127.0.0.1 port 8080 is full$' <<<"$explained")"
check_eq "catalog text, substituted" 1 \
        "$(grep -c 'full: 5 connections wait for accept(),$' <<<"$explained")"
# Every id of the header has a catalog entry, and no other id does.
header_ids=$(sed -n 's/^#define MESSAGE_ID_[A-Z_]* *"\([0-9a-f]\{32\}\)".*/\1/p' \
        "$SRC/include/message-ids.h" | sort)
catalog_ids=$(journalctl --root=/run/systemd/catalog-root --list-catalog | \
        awk '$2 == "backlogd:" { print $1 }' | sort)
check_eq "sixteen message ids" 16 "$(wc -l <<<"$header_ids")"
check_eq "catalog ids == header ids" "$header_ids" "$catalog_ids"

# Restart: entries written before are kept, new ones are accepted.
check_rc "journald_restart" 0 journald_restart
send_full 6
check_eq "FULL entries after restart" "5
6" "$(journal_field $ident BACKLOGD_DEPTH MESSAGE_ID="$ID_FULL")"

# Notify.
out=/run/systemd/notify.out
check_rc "notify_start" 0 notify_start /run/systemd/test-notify "$out" 30
check_eq "NOTIFY_SOCKET exported" /run/systemd/test-notify "$NOTIFY_SOCKET"
check_rc "systemd-notify" 0 systemd-notify --ready --status="test status"
check_rc "READY=1 seen" 0 notify_wait_for 'READY=1' 5
check_rc "STATUS seen" 0 notify_wait_for 'STATUS=test status' 5
# Fields sent together share a datagram number.
"$PYTHON" - <<'EOT'
import os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"RELOADING=1\nMONOTONIC_USEC=123456", os.environ["NOTIFY_SOCKET"])
s.sendto(b"STOPPING=1", os.environ["NOTIFY_SOCKET"])
EOT
check_rc "STOPPING=1 seen" 0 notify_wait_for 'STOPPING=1' 5
# Both fields with the same datagram number (and both there at all: two
# empty answers would compare equal too).
check_eq "RELOADING and MONOTONIC_USEC in one datagram" yes \
        "$(awk -F'\t' '$3 == "RELOADING=1" { r = $1 } $3 == "MONOTONIC_USEC=123456" { m = $1 }
                END { print (r != "" && r == m) ? "yes" : "no: " r "/" m }' "$out")"
check_eq "sender pid reported" 1 \
        "$(awk -F'\t' '$3 == "STOPPING=1" && $2 > 1' "$out" | wc -l)"
check_eq "all fields, in order" "READY=1
STATUS=test status
RELOADING=1
MONOTONIC_USEC=123456
STOPPING=1" "$(notify_fields | grep -v "^BARRIER=")"
# A message that never comes: notify_wait_for must fail, and in time.
start=$SECONDS
check_rc "notify_wait_for times out" 1 notify_wait_for 'WATCHDOG=1' 1 2>/dev/null
check_eq "timeout bounded" yes "$([ $((SECONDS - start)) -le 3 ] && echo yes)"
# A partial match is not a match.
check_rc "whole-field match" 1 notify_wait_for 'READY' 0 2>/dev/null
check_rc "notify_wait_count: one READY=1 is not two" 1 notify_wait_count 'READY=1' 2 0 2>/dev/null
check_rc "notify_wait_count: one READY=1 is one" 0 notify_wait_count 'READY=1' 1 0
notify_stop
check_eq "listener removed its socket" no "$([ -e /run/systemd/test-notify ] && echo yes || echo no)"

echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]
