#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Stalls: a server that accepts every connection under steady load (20 a
# second) is never stalled; SIGSTOPed, its queue holds a few connections
# whose head stays: `stalled` names its pid and state "T (stopped)" long
# before the queue is full; after SIGCONT it drains: `accepting`, with the
# length of the stall. A UNIX listener that never accepts, with two waiting
# clients, is stalled too. stall = 2 s, syn_interval = 1 s (the cadence of
# reading the heads of non-empty queues), polls every 0.2 s: a stall is
# reported within stall + syn_interval + a poll of its start.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
enter_netns "$@"
setup_tmp
# shellcheck source=lib-journald.sh
. "$(dirname "$0")/lib-journald.sh"
journald_start || fail "cannot start a private journald"
trap 'cleanup; journald_stop' EXIT

# The server: accepts and closes, in its own process (its pid is the one
# the entries must name).
"$PYTHON" -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8090)); s.listen(128)
print("listening", flush=True)
while True:
    s.accept()[0].close()
' >"$TEST_TMP/srv.out" 2>&1 &
SRV=$!
TEST_PIDS+=("$SRV")
wait_lines "$TEST_TMP/srv.out" '^listening$' 1 10 "$SRV"

# The UNIX listener: never accepts; two clients from a process of their own.
"$PYTHON" -c '
import socket, time
s = socket.socket(socket.AF_UNIX); s.bind("'"$TEST_TMP"'/u.sock"); s.listen(8)
print("listening", flush=True); time.sleep(120)' >"$TEST_TMP/usrv.out" 2>&1 &
USRV=$!
TEST_PIDS+=("$USRV")
wait_lines "$TEST_TMP/usrv.out" '^listening$' 1 10 "$USRV"

# Steady load, bounded: 20 connections a second for at most 60 s; each
# client waits for its connection to be accepted and closed, with a
# timeout (the server may be stopped).
"$PYTHON" -c '
import socket, time
end = time.monotonic() + 60
while time.monotonic() < end:
    c = socket.socket(); c.settimeout(0.5)
    try:
        c.connect(("127.0.0.1", 8090))
    except OSError:
        pass
    c.close()
    time.sleep(0.05)
' &
LOAD=$!
TEST_PIDS+=("$LOAD")

cat >"$TEST_TMP/c.conf" <<EOF
interval = 0.2;
syn_interval = 1;
stall = 2;
metrics_file = "$TEST_TMP/m.prom";
metrics_interval = 0.2;
watch = ( { port = 8090; name = "api"; }, { unix = "$TEST_TMP/u.sock"; } );
EOF
"$BACKLOGD" -c "$TEST_TMP/c.conf" --log-target=journal 2>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")

# Accepting under load: no stall in 4 s (twice the stall time).
sleep 4
check "under load: no stall" "$(journal_count backlogd BACKLOGD_EVENT=stalled BACKLOGD_PORT=8090)" 0

# The UNIX clients: two sockets of one process, then one of another (that
# gives up later); the head stays from the first poll on.
"$PYTHON" -c '
import socket, time
c = [socket.socket(socket.AF_UNIX) for _ in range(2)]
for x in c: x.connect("'"$TEST_TMP"'/u.sock")
print("connected", flush=True); time.sleep(120)' >"$TEST_TMP/ucli.out" 2>&1 &
UCLI=$!
TEST_PIDS+=("$UCLI")
wait_lines "$TEST_TMP/ucli.out" '^connected$' 1 10 "$UCLI"
"$PYTHON" -c '
import socket, time
c = socket.socket(socket.AF_UNIX); c.connect("'"$TEST_TMP"'/u.sock")
print("connected", flush=True); time.sleep(120)' >"$TEST_TMP/ucli2.out" 2>&1 &
UCLI2=$!
TEST_PIDS+=("$UCLI2")
wait_lines "$TEST_TMP/ucli2.out" '^connected$' 1 10 "$UCLI2"

kill -STOP "$SRV"
stopped=$(date +%s%N)
journal_wait 1 backlogd BACKLOGD_EVENT=stalled BACKLOGD_PORT=8090 || fail "no stalled entry for 8090"
seen=$(date +%s%N)
after=$(((seen - stopped) / 1000000))
note "stalled reported ${after} ms after SIGSTOP"
if [ "$after" -ge 2000 ] && [ "$after" -le $((2000 + 1000 + 200 + 800)) ]; then
        check "stalled within stall + syn_interval + a poll" yes yes
else
        check "stalled within stall + syn_interval + a poll" "$after ms" "2000..4000 ms"
fi
field() { journal_field backlogd "$1" BACKLOGD_EVENT="$2" "${@:3}" | head -n 1; }
check "stalled: BACKLOGD_PID" "$(field BACKLOGD_PID stalled BACKLOGD_PORT=8090)" "$SRV"
check "stalled: BACKLOGD_PROCESS_STATE" "$(field BACKLOGD_PROCESS_STATE stalled BACKLOGD_PORT=8090)" "T (stopped)"
check "stalled: BACKLOGD_NAME" "$(field BACKLOGD_NAME stalled BACKLOGD_PORT=8090)" api
stalled_s=$(field BACKLOGD_STALLED_S stalled BACKLOGD_PORT=8090)
check "stalled: BACKLOGD_STALLED_S is the stall time or more" "$([ "$stalled_s" -ge 2 ] && [ "$stalled_s" -le 4 ] && echo yes)" yes
depth=$(field BACKLOGD_DEPTH stalled BACKLOGD_PORT=8090)
check "stalled: a few connections, far from full" "$([ "$depth" -ge 1 ] && [ "$depth" -lt 129 ] && echo yes)" yes
wait_ms=$(field BACKLOGD_WAIT_MS stalled BACKLOGD_PORT=8090)
check "stalled: the head waited at least the stall" "$([ "$wait_ms" -ge 2000 ] && echo yes)" yes
check "stalled: priority warning" "$(field PRIORITY stalled BACKLOGD_PORT=8090)" 4
check "stalled: MESSAGE_ID" "$(field MESSAGE_ID stalled BACKLOGD_PORT=8090)" 0d01394eebf1482099fb722657c03337
message=$(field MESSAGE stalled BACKLOGD_PORT=8090)
note "stalled: $message"
check "stalled: sentence" "$(printf '%s\n' "$message" | grep -cE "^Listen queue of 127\.0\.0\.1:8090 \(api\) of python3, pid $SRV has not moved for [0-9]+ s: nothing was accepted while [0-9]+ connections? waits? \(clients have waited up to [0-9.]+ s(; [0-9]+ gave up)?\)\. Its process is stopped \(state T\): resume it \(kill -CONT\), or let its debugger go on\.$")" 1
check "full not reached" "$(journal_count backlogd BACKLOGD_EVENT=full BACKLOGD_PORT=8090)" 0
# The metrics file has the stall too, within a write (0.2 s).
sleep 0.5
gauge=$(sed -n 's/^backlogd_listen_queue_stalled_seconds{address="127\.0\.0\.1",port="8090",family="inet",netns="host",name="api"} \([0-9]*\)$/\1/p' "$TEST_TMP/m.prom")
check "metrics: the stalled gauge, the stall time or more" "$([ -n "$gauge" ] && [ "$gauge" -ge 2 ] && echo yes)" yes
# Its wait, the only non-empty TCP queue and stalled: written without a walk
# (the head's first reading plus the time since), at least the stall and
# growing with the clock, a second later by about a second.
wait_of() {
        sed -n 's/^backlogd_listen_queue_wait_seconds{address="127\.0\.0\.1",port="8090",family="inet",netns="host",name="api"} \([0-9.]*\)$/\1/p' "$TEST_TMP/m.prom"
}
w1=$(wait_of)
sleep 1
w2=$(wait_of)
note "metrics: wait of the stalled queue $w1 s, then $w2 s"
check "metrics: stalled wait, at least the stall" "$(awk -v w="$w1" -v g="$gauge" 'BEGIN { print (w != "" && w >= g) ? "yes" : "no" }')" yes
check "metrics: stalled wait grows with the clock" \
        "$(awk -v a="$w1" -v b="$w2" 'BEGIN { d = b - a; print (a != "" && b != "" && d >= 0.6 && d <= 1.6) ? "yes" : "no " d }')" yes

# The UNIX listener stalled too, named by its holder.
journal_wait 1 backlogd BACKLOGD_EVENT=stalled "BACKLOGD_PATH=$TEST_TMP/u.sock" || fail "no stalled entry for the UNIX listener"
check "unix stalled: BACKLOGD_DEPTH" "$(field BACKLOGD_DEPTH stalled "BACKLOGD_PATH=$TEST_TMP/u.sock")" 3
check "unix stalled: BACKLOGD_PID" "$(field BACKLOGD_PID stalled "BACKLOGD_PATH=$TEST_TMP/u.sock")" "$USRV"
check "unix stalled: BACKLOGD_PROCESS_STATE" "$(field BACKLOGD_PROCESS_STATE stalled "BACKLOGD_PATH=$TEST_TMP/u.sock")" "S (sleeping)"
# ... and the waiting clients' processes, the first named once for its two
# sockets, in queue order.
check "unix stalled: BACKLOGD_CLIENT_PIDS" "$(field BACKLOGD_CLIENT_PIDS stalled "BACKLOGD_PATH=$TEST_TMP/u.sock")" "$UCLI $UCLI2"
check "unix stalled: the sentence names the clients" \
        "$(field MESSAGE stalled "BACKLOGD_PATH=$TEST_TMP/u.sock" | grep -c " Waiting clients: python3 (pid $UCLI), python3 (pid $UCLI2)\.$")" 1
# --once names them with --processes, as ss -xp would.
run_backlogd "$TEST_TMP/once.json" --once --json --unix --processes
clients=$(json_get "$TEST_TMP/once.json" "[l for l in j['listeners'] if l.get('address') == '$TEST_TMP/u.sock'][0].get('clients')")
check "--once: clients" "$clients" "[{\"pid\": $UCLI, \"comm\": \"python3\"}, {\"pid\": $UCLI2, \"comm\": \"python3\"}]"
ss_peer=$(ss -xpH | grep -c "pid=$UCLI,")
check "ss: the client process holds 2 sockets" "$ss_peer" 2
run_backlogd "$TEST_TMP/once.txt" --once --unix --processes
check "--once: the hint names the clients" \
        "$(grep -c "^  $TEST_TMP/u\.sock: 3 connections wait; their clients: python3 (pid $UCLI), python3 (pid $UCLI2)\.$" "$TEST_TMP/once.txt")" 1
# Clients that give up stay in the queue, unnamed: not an accept. The
# first process goes: no accepting entry in the next second (5 polls).
kill "$UCLI"
wait "$UCLI" 2>/dev/null
sleep 1
check "unix: clients that gave up are not an accept" \
        "$(journal_count backlogd BACKLOGD_EVENT=accepting "BACKLOGD_PATH=$TEST_TMP/u.sock")" 0

# Resumed: it drains the queue.
sleep 1
kill -CONT "$SRV"
resumed=$(date +%s%N)
journal_wait 1 backlogd BACKLOGD_EVENT=accepting BACKLOGD_PORT=8090 || fail "no accepting entry"
note "accepting reported $((($(date +%s%N) - resumed) / 1000000)) ms after SIGCONT"
stall_s=$(((resumed - stopped) / 1000000000))
got=$(field BACKLOGD_STALLED_S accepting BACKLOGD_PORT=8090)
note "accepting: BACKLOGD_STALLED_S $got, stopped for $stall_s s"
check "accepting: the stall's length, within syn_interval" \
        "$([ "$got" -le "$stall_s" ] && [ "$got" -ge $((stall_s - 2)) ] && echo yes)" yes
check "accepting: priority notice" "$(field PRIORITY accepting BACKLOGD_PORT=8090)" 5
check "accepting: MESSAGE_ID" "$(field MESSAGE_ID accepting BACKLOGD_PORT=8090)" bf0df11a9202435f9d6bba761fae6e44
check "one stalled entry per stall" "$(journal_count backlogd BACKLOGD_EVENT=stalled BACKLOGD_PORT=8090)" 1
sleep 0.5
check "metrics: no stalled gauge for 8090 once it accepts" \
        "$(grep -c '^backlogd_listen_queue_stalled_seconds{address="127\.0\.0\.1",port="8090"' "$TEST_TMP/m.prom")" 0

kill -TERM "$DAEMON"
wait "$DAEMON"
check "daemon exit status" "$?" 0
check "daemon stderr" "$(cat "$TEST_TMP/daemon.err")" ""
finish
