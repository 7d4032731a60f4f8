#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# An SO_REUSEPORT group with one hung worker: 8 listeners on
# 127.0.0.1:8443, 7 in one process that accepts and closes every
# connection, 1 in a process of its own that never accepts and is then
# stopped (SIGSTOP). Clients connect from many source ports (bounded count
# and time) until the kernel's hash has filled the hung member's queue.
# --once shows the group (JSON: members 8, full 1, its depth and capacity;
# the table: one line for the group); the daemon writes one `imbalance`
# entry naming the hung member's process and its state, and, once that
# process is gone, one `imbalance_cleared`.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
enter_netns "$@"
setup_tmp
# shellcheck source=lib-journald.sh
. "$(dirname "$0")/lib-journald.sh"
journald_start || fail "cannot start a private journald"
HUNG=
trap '[ -n "$HUNG" ] && kill -CONT "$HUNG" 2>/dev/null; cleanup; journald_stop' EXIT

PORT=8443
BACKLOG=8 # capacity 9

# The hung member: its own process, so that its pid is the one to name.
"$PYTHON" -c '
import os, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(int(sys.argv[2]))
print("listening", os.fstat(s.fileno()).st_ino, flush=True)
time.sleep(110)
' "$PORT" "$BACKLOG" >"$TEST_TMP/hung.out" 2>&1 &
HUNG=$!
TEST_PIDS+=("$HUNG")
wait_lines "$TEST_TMP/hung.out" '^listening ' 1 10 "$HUNG"
HUNG_INODE=$(awk '$1 == "listening" { print $2 }' "$TEST_TMP/hung.out")

# The 7 workers that accept, and a plain listener on 8444 (no group).
"$PYTHON" -c '
import select, socket, sys, time
port, backlog = int(sys.argv[1]), int(sys.argv[2])
ls = []
for _ in range(7):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", port))
    s.listen(backlog)
    s.setblocking(False)
    ls.append(s)
alone = socket.socket()
alone.bind(("127.0.0.1", port + 1))
alone.listen(4)
print("listening", flush=True)
end = time.monotonic() + 110
while time.monotonic() < end:
    for s in select.select(ls, [], [], 1)[0]:
        try:
            while True:
                s.accept()[0].close()
        except BlockingIOError:
            pass
' "$PORT" "$BACKLOG" >"$TEST_TMP/workers.out" 2>&1 &
WORKERS=$!
TEST_PIDS+=("$WORKERS")
wait_lines "$TEST_TMP/workers.out" '^listening$' 1 10 "$WORKERS"
check "ss: members on $PORT" "$(ss -ltnH "( sport = :$PORT )" | wc -l)" 8

kill -STOP "$HUNG" || fail "cannot stop the hung member's process"

# hung_depth: the hung member's Recv-Q, as ss shows it.
hung_depth() {
        ss -ltnHe "( sport = :$PORT )" | awk -v ino="ino:$HUNG_INODE" '{ for (i = 1; i <= NF; i++) if ($i == ino) print $2 }'
}

# Rounds of 64 non-blocking connects, each from its own source port; the
# kernel sends about 1 in 8 to the hung member. At most 25 rounds.
for round in $(seq 25); do
        [ "$(hung_depth)" = $((BACKLOG + 1)) ] && break
        "$PYTHON" -c '
import socket, sys, time
cs = []
for _ in range(64):
    c = socket.socket()
    c.setblocking(False)
    c.connect_ex(("127.0.0.1", int(sys.argv[1])))
    cs.append(c)
time.sleep(0.2)
for c in cs:
    c.close()
' "$PORT" || fail "client round $round failed"
done
note "hung member full after $round round(s) of 64 connections"
check "ss: hung member's depth" "$(hung_depth)" $((BACKLOG + 1))
# The workers have taken everything else.
for _ in $(seq 50); do
        [ "$(ss -ltnH "( sport = :$PORT )" | awk '{ s += $2 } END { print s }')" = $((BACKLOG + 1)) ] && break
        sleep 0.1
done
check "ss: the group's depth" "$(ss -ltnH "( sport = :$PORT )" | awk '{ s += $2 } END { print s }')" $((BACKLOG + 1))

# --- --once ----------------------------------------------------------------
run_backlogd "$TEST_TMP/once.json" --once --json --port "$PORT" --port $((PORT + 1))
group_of() {
        json_get "$TEST_TMP/once.json" "[l.get('group', 'absent') for l in j['listeners'] if l['inode'] == $1][0]"
}
want='{"members": 8, "full": 1, "depth": 9, "capacity": 72}'
check "json: the hung member's group" "$(group_of "$HUNG_INODE")" "$want"
check "json: the hung member is full" \
        "$(json_get "$TEST_TMP/once.json" "[l['state'] for l in j['listeners'] if l['inode'] == $HUNG_INODE][0]")" full
check "json: members showing that group" \
        "$(json_get "$TEST_TMP/once.json" "len([l for l in j['listeners'] if l['port'] == $PORT and l.get('group') == $want])")" 8
check "json: a listener alone has no group" \
        "$(json_get "$TEST_TMP/once.json" "[l.get('group', 'absent') for l in j['listeners'] if l['port'] == $((PORT + 1))]")" \
        '["absent"]'
run_backlogd "$TEST_TMP/once.txt" --once --port "$PORT" --port $((PORT + 1))
check "table: the group's line" "$(sed -n '/^SO_REUSEPORT groups:$/,/^$/p' "$TEST_TMP/once.txt")" \
        "SO_REUSEPORT groups:
  127.0.0.1:$PORT: 8 sockets, 1 full, 9 of 72 connections waiting"
check "table: member rows" "$(grep -c "^127\.0\.0\.1:$PORT " "$TEST_TMP/once.txt")" 8

# --- the daemon ---------------------------------------------------------------
printf 'interval = 0.2;\nwatch = ( { port = %s; name = "web"; } );\n' "$PORT" >"$TEST_TMP/c.conf"
"$BACKLOGD" -c "$TEST_TMP/c.conf" --log-target=journal 2>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
journal_wait 1 backlogd BACKLOGD_EVENT=imbalance
field() {
        journal_field backlogd "$1" BACKLOGD_EVENT=imbalance | head -n 1
}
comm=$(cat "/proc/$HUNG/comm")
check "imbalance: BACKLOGD_GROUP_SIZE" "$(field BACKLOGD_GROUP_SIZE)" 8
check "imbalance: BACKLOGD_GROUP_FULL" "$(field BACKLOGD_GROUP_FULL)" 1
check "imbalance: BACKLOGD_PID (the hung member's process)" "$(field BACKLOGD_PID)" "$HUNG"
check "imbalance: BACKLOGD_COMM" "$(field BACKLOGD_COMM)" "$comm"
check "imbalance: BACKLOGD_PROCESS_STATE" "$(field BACKLOGD_PROCESS_STATE)" "T (stopped)"
check "imbalance: BACKLOGD_ADDRESS" "$(field BACKLOGD_ADDRESS)" 127.0.0.1
check "imbalance: BACKLOGD_PORT" "$(field BACKLOGD_PORT)" "$PORT"
check "imbalance: BACKLOGD_DEPTH" "$(field BACKLOGD_DEPTH)" $((BACKLOG + 1))
check "imbalance: BACKLOGD_BACKLOG" "$(field BACKLOGD_BACKLOG)" "$BACKLOG"
check "imbalance: BACKLOGD_NAME" "$(field BACKLOGD_NAME)" web
check "imbalance: PRIORITY" "$(field PRIORITY)" 3
check "imbalance: MESSAGE_ID" "$(field MESSAGE_ID)" 1a275d45d6ec4708aa11ce3e05c09665
check "imbalance: MESSAGE" "$(field MESSAGE)" \
        "1 of 8 sockets on 127.0.0.1:$PORT (web) is full, the others are nearly empty: one worker is not accepting ($comm, pid $HUNG, state T). New connections are spread over the sockets by a hash of the client's address and port: those sent to a full one are dropped or delayed while the others idle. Find out why its process does not accept() (stopped, blocked, or stuck in a loop)."
# It stays unbalanced: said once (5 more polls).
sleep 1
check "imbalance: entries while it lasts" "$(journal_count backlogd BACKLOGD_EVENT=imbalance)" 1

# The hung worker goes: 7 members, none full. Said once.
kill -CONT "$HUNG"
kill -TERM "$HUNG"
wait "$HUNG" 2>/dev/null
journal_wait 1 backlogd BACKLOGD_EVENT=imbalance_cleared
cleared() {
        journal_field backlogd "$1" BACKLOGD_EVENT=imbalance_cleared | head -n 1
}
check "imbalance_cleared: BACKLOGD_GROUP_SIZE" "$(cleared BACKLOGD_GROUP_SIZE)" 7
check "imbalance_cleared: BACKLOGD_GROUP_FULL" "$(cleared BACKLOGD_GROUP_FULL)" 0
check "imbalance_cleared: PRIORITY" "$(cleared PRIORITY)" 5
check "imbalance_cleared: MESSAGE_ID" "$(cleared MESSAGE_ID)" 183fb71d021d4939ba36e4fde18de02b
check "imbalance_cleared: MESSAGE" "$(cleared MESSAGE)" \
        "Sockets on 127.0.0.1:$PORT (web) are no longer unbalanced: none of the 7 is full anymore; imbalance alert cleared."
sleep 1
kill -TERM "$DAEMON"
wait "$DAEMON"
check "daemon exit status" "$?" 0
check "entries imbalance/imbalance_cleared" \
        "$(journal_count backlogd BACKLOGD_EVENT=imbalance)/$(journal_count backlogd BACKLOGD_EVENT=imbalance_cleared)" 1/1
check "daemon stderr" "$(cat "$TEST_TMP/daemon.err")" ""
finish
