#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The service manager's side: READY, STATUS, WATCHDOG, RELOADING and
# STOPPING on a notify socket the test owns; SIGHUP with a changed config
# takes effect, SIGHUP with a broken one keeps the running config and logs
# the error with file and line; SIGTERM exits 0 within a second.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
enter_netns "$@"
setup_tmp
# shellcheck source=lib-journald.sh
. "$(dirname "$0")/lib-journald.sh"
trap 'cleanup; notify_stop' EXIT

CONF=$TEST_TMP/backlogd.conf
printf 'interval = 0.1;\nwatch = ( { port = 8080; } );\n' >"$CONF"

# 8080: backlog 4, 4 queued = 80%; 8081: backlog 9, empty.
qfill_start q 127.0.0.1:8080:4:c=4 127.0.0.1:8081:9

notify_start "$TEST_TMP/notify.sock" "$TEST_TMP/notify.out" 100 || fail "notify listener"
export WATCHDOG_USEC=400000
"$BACKLOGD" -c "$CONF" --log-target=console 2>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
export -n WATCHDOG_USEC

notify_wait_for 'READY=1' || fail "no READY=1"
notify_wait_for 'STATUS=watching 1 listener, 1 above 80%' || fail "STATUS"
notify_wait_for 'WATCHDOG=1' || fail "no WATCHDOG=1"
check "READY before the first STATUS" \
        "$(notify_fields | grep -E '^(READY|STATUS)=' | head -n 1)" "READY=1"
check "sender is the daemon" "$(awk -F'\t' '$3 == "READY=1" { print $2; exit }' "$NOTIFY_OUT")" "$DAEMON"

# A changed config: watch 8081 only.
printf 'interval = 0.1;\nwatch = ( { port = 8081; name = "idle"; } );\n' >"$CONF"
kill -HUP "$DAEMON"
notify_wait_for 'RELOADING=1' || fail "no RELOADING=1"
notify_wait_for 'MONOTONIC_USEC=[0-9]+' || fail "no MONOTONIC_USEC with RELOADING"
notify_wait_for 'STATUS=watching 1 listener, 0 above 80%' || fail "the new config did not take effect"
check "READY=1 count after a reload" "$(notify_fields | grep -c '^READY=1$')" 2
check "RELOADING and MONOTONIC_USEC in one datagram" \
        "$(awk -F'\t' '$3 == "RELOADING=1" { r = $1 } $3 ~ /^MONOTONIC_USEC=/ && $1 == r { print "yes"; exit }' "$NOTIFY_OUT")" yes
wait_lines "$TEST_TMP/daemon.err" "^Reloaded the configuration from $CONF\\.$" 1 5 "$DAEMON"

# A broken config: the running one stays, the error names file, line, key.
printf 'interval = 0.1;\nwarn = 120;\nwatch = ( { port = 8080; } );\n' >"$CONF"
kill -HUP "$DAEMON"
wait_lines "$TEST_TMP/daemon.err" 'Reload failed' 1 5 "$DAEMON"
check "reload error" "$(grep 'Reload failed' "$TEST_TMP/daemon.err")" \
        "Reload failed, keeping the running configuration: $CONF:2: warn: must be between 2 and 100, not 120"
# The failed reload ends its RELOADING=1 with a third READY=1 (a plain
# notify_wait_for 'READY=1' would be satisfied by the first one).
notify_wait_count 'READY=1' 3 || fail "no READY=1 after the failed reload"
sleep 0.5
check "READY=1 count after the failed reload" "$(notify_fields | grep -c '^READY=1$')" 3
check "still watching 8081 only" "$(notify_fields | grep '^STATUS=' | tail -n 1)" "STATUS=watching 1 listener, 0 above 80%"
kill -0 "$DAEMON" 2>/dev/null
check "daemon alive after a broken reload" "$?" 0

# A deleted config file is an error too, not a switch to the defaults.
rm -f "$CONF"
kill -HUP "$DAEMON"
wait_lines "$TEST_TMP/daemon.err" 'Reload failed' 2 5 "$DAEMON"
check "reload error for a deleted file" "$(grep 'Reload failed' "$TEST_TMP/daemon.err" | tail -n 1)" \
        "Reload failed, keeping the running configuration: $CONF: No such file or directory"

start=$(date +%s%N)
kill -TERM "$DAEMON"
wait "$DAEMON"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
check "exit status on SIGTERM" "$rc" 0
check "exit within a second" "$([ "$ms" -lt 1000 ] && echo yes || echo "no: $ms ms")" yes
notify_wait_for 'STOPPING=1' 1 || fail "no STOPPING=1"
check "last words" "$(tail -n 1 "$TEST_TMP/daemon.err")" "Stopping on Terminated."
finish
