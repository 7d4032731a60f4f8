#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# How long the queued connections have waited, and how many gave up: a
# listener that never accepts gets three clients a second apart; --once
# reports the oldest one's age (wait_ms) within a second of the truth, and,
# after one accept(), the second client's (the queue is FIFO). Two clients
# that close before being accepted count as gave_up, as `ss` shows them
# (CLOSE_WAIT, inode 0). The daemon's full entry says how long clients
# have waited, in its sentence and in BACKLOGD_WAIT_MS (within a poll of
# the truth at the entry's time), and the metrics file has the gauge.
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

# 127.0.0.1:8081, backlog 2 (capacity 3): clients at t0, t0+1 s, t0+2 s.
# 127.0.0.1:8082: two clients that close at once. Times are CLOCK_MONOTONIC,
# taken when connect() returns (the handshake is complete then).
mkfifo "$TEST_TMP/srv.in"
"$PYTHON" -c '
import socket, sys, time
def now(): return time.clock_gettime(time.CLOCK_MONOTONIC)
def listener(port, backlog):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port)); s.listen(backlog); return s
a, b = listener(8081, 2), listener(8082, 8)
clients, accepted = [], []
for i in range(3):
    if i:
        time.sleep(max(0, t[0] + i - now()))
    clients.append(socket.create_connection(("127.0.0.1", 8081)))
    t = (t if i else []) + [now()]
for _ in range(2):
    socket.create_connection(("127.0.0.1", 8082)).close()
print("connected", *("%.6f" % x for x in t), flush=True)
for line in sys.stdin:
    if line.strip() == "now":
        print("now %.6f" % now(), flush=True)
    elif line.strip() == "accept":
        accepted.append(a.accept()[0]); print("accepted", flush=True)
' <"$TEST_TMP/srv.in" >"$TEST_TMP/srv.out" 2>&1 &
SRV=$!
TEST_PIDS+=("$SRV")
exec {SRV_FD}>"$TEST_TMP/srv.in"
wait_lines "$TEST_TMP/srv.out" '^connected ' 1 15 "$SRV"
read -r _ T0 T1 T2 < <(grep '^connected ' "$TEST_TMP/srv.out")
note "clients connected at $T0 $T1 $T2"

# now_ms: CLOCK_MONOTONIC in ms, from the driver (the same clock).
now_ms() {
        local n
        n=$(grep -c '^now ' "$TEST_TMP/srv.out")
        echo now >&"$SRV_FD"
        wait_lines "$TEST_TMP/srv.out" '^now ' $((n + 1)) 5 "$SRV"
        grep '^now ' "$TEST_TMP/srv.out" | tail -n 1 | awk '{ printf "%d", $2 * 1000 }'
}

# within NAME GOT_MS FROM_MS TO_MS: the age got was read between two
# instants whose true ages are FROM and TO; it must lie within a second of
# that interval. Prints the error against the interval's middle.
within() {
        local name=$1 got=$2 lo=$3 hi=$4 mid err
        mid=$(((lo + hi) / 2))
        err=$((got - mid))
        note "$name: $got ms, truth $lo..$hi ms, error ${err} ms"
        if [ "$got" -ge $((lo - 1000)) ] && [ "$got" -le $((hi + 1000)) ]; then
                check "$name within 1 s" yes yes
        else
                check "$name within 1 s" "$got ms, truth $lo..$hi ms" "within 1 s"
        fi
}

ms() { awk -v t="$1" 'BEGIN { printf "%d", t * 1000 }'; }

# wait_of FILE PORT FIELD: a field of the listener on 127.0.0.1:PORT.
wait_of() {
        json_get "$1" "[l for l in j['listeners'] if l['port'] == $2][0].get('$3', 'absent')"
}

sleep 1
before=$(now_ms)
run_backlogd "$TEST_TMP/once.json" --once --json --port 8081 --port 8082
after=$(now_ms)
check "8081: depth" "$(wait_of "$TEST_TMP/once.json" 8081 depth)" 3
check "8081: gave_up" "$(wait_of "$TEST_TMP/once.json" 8081 gave_up)" 0
within "8081: wait_ms (oldest = first client)" "$(wait_of "$TEST_TMP/once.json" 8081 wait_ms)" \
        $((before - $(ms "$T0"))) $((after - $(ms "$T0")))

# The clients of 8082 closed: their connections wait in CLOSE_WAIT.
ss_gave_up=$(ss -tnHe state close-wait '( sport = :8082 )' | grep -c ' ino:0 ')
check "ss: 8082 close-wait children" "$ss_gave_up" 2
check "8082: depth" "$(wait_of "$TEST_TMP/once.json" 8082 depth)" 2
check "8082: gave_up" "$(wait_of "$TEST_TMP/once.json" 8082 gave_up)" "$ss_gave_up"

# The table shows the wait in the WAIT column; an empty queue shows "-".
"$PYTHON" -c '
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 8083)); s.listen(4); time.sleep(30)' &
TEST_PIDS+=("$!")
for _ in $(seq 50); do ss -ltnH '( sport = :8083 )' | grep -q . && break; sleep 0.1; done
run_backlogd "$TEST_TMP/once.txt" --once --port 8081 --port 8083
check "table header" "$(grep -m1 -E '^LISTEN ' "$TEST_TMP/once.txt" | tr -s ' ')" \
        "LISTEN DEPTH BACKLOG FILL STATE DROPS WAIT UID OWNER"
check "table: 8081 WAIT" "$(awk '$1 == "127.0.0.1:8081" { print $7 }' "$TEST_TMP/once.txt" | grep -cE '^[0-9]+\.[0-9]s$')" 1
check "table: 8083 WAIT" "$(awk '$1 == "127.0.0.1:8083" { print $7 }' "$TEST_TMP/once.txt")" -
run_backlogd "$TEST_TMP/once2.json" --once --json --port 8083
check "json: no wait_ms for an empty queue" "$(wait_of "$TEST_TMP/once2.json" 8083 wait_ms)" absent
check "json: no gave_up for an empty queue" "$(wait_of "$TEST_TMP/once2.json" 8083 gave_up)" absent

# --- the daemon: the full entry and the metrics file ---------------------
printf 'interval = 0.2;\nmetrics_file = "%s";\nmetrics_interval = 0.2;\nwatch = ( { port = 8081; }, { port = 8082; } );\n' \
        "$TEST_TMP/m.prom" >"$TEST_TMP/c.conf"
"$BACKLOGD" -c "$TEST_TMP/c.conf" --log-target=journal 2>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
journal_wait 1 backlogd BACKLOGD_EVENT=full BACKLOGD_PORT=8081
for _ in $(seq 50); do grep -q '^backlogd_listen_queue_wait_seconds' "$TEST_TMP/m.prom" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$DAEMON"
wait "$DAEMON"
check "daemon exit status" "$?" 0
message=$(journal_field backlogd MESSAGE BACKLOGD_EVENT=full BACKLOGD_PORT=8081 | head -n 1)
note "full: $message"
check "full: says how long clients waited" \
        "$(printf '%s\n' "$message" | grep -cE '^Listen queue of 127\.0\.0\.1:8081 (of [^ ]+, pid [0-9]+ )?is full: 3 of 3 connections wait for accept\(\) \(clients have waited up to [0-9]+\.[0-9] s\), new connections are dropped or delayed\. ')" 1
got=$(journal_field backlogd BACKLOGD_WAIT_MS BACKLOGD_EVENT=full BACKLOGD_PORT=8081 | head -n 1)
at=$(journal_field backlogd __MONOTONIC_TIMESTAMP BACKLOGD_EVENT=full BACKLOGD_PORT=8081 | head -n 1)
check "full: BACKLOGD_GAVE_UP" "$(journal_field backlogd BACKLOGD_GAVE_UP BACKLOGD_EVENT=full BACKLOGD_PORT=8081 | head -n 1)" 0
# The entry is written at the end of the poll that read the age: the truth
# at its receipt, less at most one poll (0.2 s).
truth=$((at / 1000 - $(ms "$T0")))
note "full: BACKLOGD_WAIT_MS $got ms, truth at the entry $truth ms, error $((got - truth)) ms"
if [ "$got" -le $((truth + 50)) ] && [ "$got" -ge $((truth - 200 - 50)) ]; then
        check "full: BACKLOGD_WAIT_MS within a poll of the truth" yes yes
else
        check "full: BACKLOGD_WAIT_MS within a poll of the truth" "$got (truth $truth)" "within 200 ms"
fi
check "metrics: 8081 wait gauge" \
        "$(grep -cE '^backlogd_listen_queue_wait_seconds\{address="127\.0\.0\.1",port="8081",family="inet",netns="host"\} [0-9]+\.[0-9]{3}$' "$TEST_TMP/m.prom")" 1
check "metrics: 8082 wait gauge" \
        "$(grep -cE '^backlogd_listen_queue_wait_seconds\{address="127\.0\.0\.1",port="8082",' "$TEST_TMP/m.prom")" 1
if command -v promtool >/dev/null; then
        promtool check metrics <"$TEST_TMP/m.prom" >"$TEST_TMP/promtool.out" 2>&1
        check "promtool check metrics" "$? $(cat "$TEST_TMP/promtool.out")" "0 "
fi
check "metrics: no other wait gauge" "$(grep -c '^backlogd_listen_queue_wait_seconds{' "$TEST_TMP/m.prom")" 2

# Without a metrics file, the connections are walked only on a poll with an
# alert, or to follow the heads of the non-empty queues for the stall watch
# (every syn_interval, 10 s): 8081 (full) alerts on the first poll, for which
# its port is read with 8082's (2 of 3, never alerts), then 8081 stays full
# with no alert, and no walk.
printf 'interval = 0.2;\nwatch = ( { port = 8081; }, { port = 8082; } );\n' >"$TEST_TMP/c2.conf"
"$BACKLOGD" -c "$TEST_TMP/c2.conf" --log-target=console --log-level=debug >"$TEST_TMP/d2.out" 2>&1 &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
wait_lines "$TEST_TMP/d2.out" 'Dumped ' 8 10 "$DAEMON"
kill -TERM "$DAEMON"
wait "$DAEMON"
check "walks: daemon exit status" "$?" 0
check "walks: one walk in $(grep -c 'Dumped ' "$TEST_TMP/d2.out") polls" \
        "$(grep -cE '^Read [0-9]+ queued connections? on' "$TEST_TMP/d2.out")" 1
check "walks: the walk" "$(grep -E '^Read ' "$TEST_TMP/d2.out")" "Read 5 queued connections on 2 ports."
check "walks: the full alert has the wait" \
        "$(grep -cE '^full: Listen queue of 127\.0\.0\.1:8081 .*is full: 3 of 3 connections wait for accept\(\) \(clients have waited up to [0-9]+\.[0-9] s\)' "$TEST_TMP/d2.out")" 1

# One accept(): the first client leaves, the second is the oldest now.
echo accept >&"$SRV_FD"
wait_lines "$TEST_TMP/srv.out" '^accepted$' 1 5 "$SRV"
before=$(now_ms)
run_backlogd "$TEST_TMP/once3.json" --once --json --port 8081
after=$(now_ms)
check "8081 after accept: depth" "$(wait_of "$TEST_TMP/once3.json" 8081 depth)" 2
within "8081 after accept: wait_ms (oldest = second client)" "$(wait_of "$TEST_TMP/once3.json" 8081 wait_ms)" \
        $((before - $(ms "$T1"))) $((after - $(ms "$T1")))
finish
