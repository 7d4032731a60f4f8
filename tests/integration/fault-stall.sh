#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# journald stalls (SIGSTOP) for longer than the watchdog period while 30
# queues fill: backlogd never blocks on it. Polls go on (the metrics file
# shows the full queues and keeps being rewritten), STATUS= and WATCHDOG=1
# go on, and after SIGCONT every alert raised meanwhile is in the journal.
# (Before: blocked in sendmsg once journald's socket queue of 10 was full.)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
enter_netns "$@"
setup_tmp
# shellcheck source=lib-journald.sh
. "$(dirname "$0")/lib-journald.sh"

journald_start || fail "cannot start a private journald"
trap 'kill -CONT "$JOURNALD_PID" 2>/dev/null; cleanup; notify_stop; journald_stop' EXIT
notify_start "$TEST_TMP/notify.sock" "$TEST_TMP/notify.out" 120 || fail "notify listener"

PROM=$TEST_TMP/m.prom
printf 'interval = 0.1;\nmetrics_interval = 0.1;\nmetrics_file = "%s";\nwatch = ( { ports = "9100-9129"; } );\n' "$PROM" \
        >"$TEST_TMP/backlogd.conf"
export WATCHDOG_USEC=1000000
"$BACKLOGD" -c "$TEST_TMP/backlogd.conf" --log-target=journal 2>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
export -n WATCHDOG_USEC
notify_wait_for 'READY=1' || fail "no READY=1"
journal_wait 1 backlogd MESSAGE_ID=0565ceedc5744a2db6570af63dd3d8d5

mkfifo "$TEST_TMP/fill.in"
"$PYTHON" -c '
import socket, sys
ls = []
for p in range(9100, 9130):
    s = socket.socket(); s.bind(("127.0.0.1", p)); s.listen(0); ls.append(s)
print("ready", flush=True)
sys.stdin.readline()
cs = [socket.create_connection(("127.0.0.1", p)) for p in range(9100, 9130)]
print("filled", flush=True)
sys.stdin.readline()' <"$TEST_TMP/fill.in" >"$TEST_TMP/fill.out" 2>&1 &
TEST_PIDS+=("$!")
exec {FILL_FD}>"$TEST_TMP/fill.in"
wait_lines "$TEST_TMP/fill.out" '^ready$' 1 10

kill -STOP "$JOURNALD_PID"
w0=$(notify_fields | grep -c '^WATCHDOG=1$')
echo fill >&"$FILL_FD"
wait_lines "$TEST_TMP/fill.out" '^filled$' 1 10
sleep 0.5
m0=$(stat -c %Y.%y "$PROM" | cut -d' ' -f2)
sleep 3
m1=$(stat -c %Y.%y "$PROM" | cut -d' ' -f2)
w1=$(notify_fields | grep -c '^WATCHDOG=1$')
note "during 3.5 s of a stopped journald: $((w1 - w0)) WATCHDOG=1, metrics rewritten ($m0 -> $m1), wchan $(cat /proc/"$DAEMON"/wchan)"
check "alive" "$(kill -0 "$DAEMON" && echo yes)" yes
check "WATCHDOG=1 went on (1 s watchdog)" "$([ $((w1 - w0)) -ge 6 ] && echo yes)" yes
check "metrics file rewritten" "$([ "$m0" != "$m1" ] && echo yes)" yes
check "metrics file shows the full queues" "$(grep -c '^backlogd_listen_queue_depth{address="127.0.0.1",port="91[0-2][0-9]".* 1$' "$PROM")" 30
kill -CONT "$JOURNALD_PID"
journal_wait 30 backlogd BACKLOGD_EVENT=full
check "every alert raised meanwhile is in the journal" "$(journal_count backlogd BACKLOGD_EVENT=full)" 30
check "no entry lost" "$(journal_count backlogd MESSAGE_ID=f33cd505bb6d4dfcbee0a81050b5ff4b)" 0
kill -TERM "$DAEMON"
wait "$DAEMON"
check "exit status" "$?" 0
finish
