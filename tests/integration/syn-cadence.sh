#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Under load the SYN-queue count (a walk of every connection) comes sooner
# than its cadence, but not on every poll: while SYNs keep being dropped at
# a full queue for 3 s, a daemon polling every 0.1 s with syn_interval = 4
# counts at most every second (syn_interval / 4), not 30 times.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
enter_netns "$@"
setup_tmp

printf 'interval = 0.1;\nsyn_interval = 4;\nwatch = ( { port = 8090; } );\n' >"$TEST_TMP/c.conf"
"$BACKLOGD" -c "$TEST_TMP/c.conf" --log-target=console --debug 2>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
wait_lines "$TEST_TMP/daemon.err" '^backlogd started' 1 10 "$DAEMON"

# A full queue (backlog 0, one client), then a SYN every 20 ms for 3 s: each
# is dropped (ListenOverflows, ListenDrops), bounded in count and time.
"$PYTHON" -c '
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 8090)); s.listen(0)
c = [socket.create_connection(("127.0.0.1", 8090))]
print("full", flush=True)
end = time.monotonic() + 3
while time.monotonic() < end and len(c) < 200:
    x = socket.socket(); x.setblocking(False); x.connect_ex(("127.0.0.1", 8090)); c.append(x)
    time.sleep(0.02)
print("done", flush=True)
time.sleep(30)' >"$TEST_TMP/load.out" 2>&1 &
TEST_PIDS+=("$!")
wait_lines "$TEST_TMP/load.out" '^full$' 1 10 "$!"
before=$(grep -c '^Counted ' "$TEST_TMP/daemon.err")
wait_lines "$TEST_TMP/load.out" '^done$' 1 10
after=$(grep -c '^Counted ' "$TEST_TMP/daemon.err")
moved=$(grep -c '^Counted .*(listen counters moved)' "$TEST_TMP/daemon.err")
note "SYN counts during 3 s of drops: $((after - before)) ($moved because counters moved)"
check "counted sooner because counters moved" "$([ "$moved" -ge 1 ] && echo yes)" yes
check "at most once a second (syn_interval / 4)" "$([ $((after - before)) -le 5 ] && echo yes)" yes
check "polls went on" "$([ "$(grep -c '^Poll: ' "$TEST_TMP/daemon.err")" -ge 25 ] && echo yes)" yes
kill -TERM "$DAEMON"
wait "$DAEMON"
check "exit status" "$?" 0
finish
