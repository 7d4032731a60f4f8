#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Whose queue, and every queue: a listener started inside a transient cgroup
# (a scope at the top of the hierarchy) is attributed to it, with its process,
# in --once and in the journal, and a `unit` watch entry selects it; a UNIX
# listener that never accepts raises `full`; the metrics file passes
# `promtool check metrics` and holds the exact depths.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
command -v promtool >/dev/null || fail "missing tool: promtool (Debian package prometheus; CI installs it)"
enter_netns "$@"
setup_tmp
# shellcheck source=lib-journald.sh
. "$(dirname "$0")/lib-journald.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
DRAIN=$SRC/tests/helpers/drain-server.py

# The unified hierarchy; the transient unit at its top, where systemd's
# naming rule (the first component that is not a slice) makes it the unit.
CG_ROOT=$(cgroup2_root)
[ -n "$CG_ROOT" ] || fail "no cgroup2 hierarchy at /sys/fs/cgroup"
SCOPE=backlogd-test-$$.scope
CG_PATH=/$SCOPE
CG_DIR=$CG_ROOT$CG_PATH
mkdir "$CG_DIR" || fail "cannot create the transient cgroup $CG_DIR"

journald_start || fail "cannot start a private journald"
trap 'cleanup; journald_stop; rmdir "$CG_DIR" 2>/dev/null' EXIT

mkdir "$TEST_TMP/metrics"
cat >"$TEST_TMP/backlogd.conf" <<CONF
interval = 0.1;
unix = true;
syn_interval = 2;
metrics_file = "$TEST_TMP/metrics/backlogd.prom";
metrics_interval = 0.1;
watch = ( { port = 8080; name = "api"; }, { unit = "$SCOPE"; name = "scoped"; } );
CONF

# The API server joins the transient cgroup before it creates its socket:
# the kernel records the creator's cgroup in the socket.
mkfifo "$TEST_TMP/api.in"
sh -c 'echo $$ >"$1/cgroup.procs" && exec python3 "$2" 127.0.0.1 8080 2' sh "$CG_DIR" "$DRAIN" \
        <"$TEST_TMP/api.in" >"$TEST_TMP/api.out" 2>&1 &
API=$!
TEST_PIDS+=("$API")
exec {API_FD}>"$TEST_TMP/api.in"
wait_lines "$TEST_TMP/api.out" '^ready$' 1 10 "$API"
echo "connect 3" >&"$API_FD"
wait_lines "$TEST_TMP/api.out" '^ok$' 1 10 "$API"

# Two more full listeners: 8081 in the transient cgroup, selected by the
# `unit` entry; 8082 outside it, selected by no entry, so never reported.
for port in 8081 8082; do
        mkfifo "$TEST_TMP/s$port.in"
        if [ "$port" = 8081 ]; then
                sh -c 'echo $$ >"$1/cgroup.procs" && exec python3 "$2" 127.0.0.1 8081 2' sh "$CG_DIR" "$DRAIN" \
                        <"$TEST_TMP/s$port.in" >"$TEST_TMP/s$port.out" 2>&1 &
        else
                python3 "$DRAIN" 127.0.0.1 8082 2 <"$TEST_TMP/s$port.in" >"$TEST_TMP/s$port.out" 2>&1 &
        fi
        pid=$!
        TEST_PIDS+=("$pid")
        exec {fd}>"$TEST_TMP/s$port.in"
        wait_lines "$TEST_TMP/s$port.out" '^ready$' 1 10 "$pid"
        echo "connect 3" >&"$fd"
        wait_lines "$TEST_TMP/s$port.out" '^ok$' 1 10 "$pid"
done

# A UNIX listener with backlog 1 that never accepts: two connections fill it.
python3 -c '
import socket, sys, time
u = socket.socket(socket.AF_UNIX); u.bind(sys.argv[1]); u.listen(1)
c = [socket.socket(socket.AF_UNIX) for _ in range(2)]
for x in c: x.connect(sys.argv[1])
print("ready", flush=True); time.sleep(60)' "$TEST_TMP/php.sock" >"$TEST_TMP/php.out" 2>&1 &
PHP=$!
TEST_PIDS+=("$PHP")
wait_lines "$TEST_TMP/php.out" '^ready$' 1 10 "$PHP"

run_backlogd "$TEST_TMP/once.json" --once --json --processes -c "$TEST_TMP/backlogd.conf"
check "--once: unit of 8080" "$(json_get "$TEST_TMP/once.json" '[l.get("unit") for l in j["listeners"] if l["port"] == 8080][0]')" "$SCOPE"
check "--once: cgroup of 8080" "$(json_get "$TEST_TMP/once.json" '[l.get("cgroup") for l in j["listeners"] if l["port"] == 8080][0]')" "$CG_PATH"
check "--once: pid of 8080" "$(json_get "$TEST_TMP/once.json" '[l.get("pid") for l in j["listeners"] if l["port"] == 8080][0]')" "$API"
check "--once: comm of 8080" "$(json_get "$TEST_TMP/once.json" '[l.get("comm") for l in j["listeners"] if l["port"] == 8080][0]')" python3
# Without --processes, no scan of /proc (as ss without -p): no pid.
run_backlogd "$TEST_TMP/once-np.json" --once --json -c "$TEST_TMP/backlogd.conf"
check "--once without --processes: no pid" \
        "$(json_get "$TEST_TMP/once-np.json" '[l.get("pid") for l in j["listeners"] if l["port"] == 8080][0]')" None
check "--once: user of 8080" "$(json_get "$TEST_TMP/once.json" '[l.get("user") for l in j["listeners"] if l["port"] == 8080][0]')" root
check "--once: the UNIX listener" \
        "$(json_get "$TEST_TMP/once.json" '[(l["family"], l["depth"], l["backlog"], l["state"]) for l in j["listeners"] if l["address"] == "'"$TEST_TMP/php.sock"'"][0]')" \
        "('unix', 2, 1, 'full')"

"$BACKLOGD" -c "$TEST_TMP/backlogd.conf" --log-target=journal 2>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")

wait_full() {
        local i
        for ((i = 0; i < 100; i++)); do
                [ "$(journal_count backlogd BACKLOGD_EVENT=full "$@")" -ge 1 ] && return 0
                sleep 0.1
        done
        journal_json backlogd >&2
        fail "no full entry for $*"
}
field() {
        local f=$1
        shift
        journal_field backlogd "$f" BACKLOGD_EVENT=full "$@" | head -n 1
}

wait_full BACKLOGD_PORT=8080
check "journal: unit" "$(field BACKLOGD_UNIT BACKLOGD_PORT=8080)" "$SCOPE"
check "journal: cgroup" "$(field BACKLOGD_CGROUP BACKLOGD_PORT=8080)" "$CG_PATH"
check "journal: pid" "$(field BACKLOGD_PID BACKLOGD_PORT=8080)" "$API"
check "journal: comm" "$(field BACKLOGD_COMM BACKLOGD_PORT=8080)" python3
check "journal: uid" "$(field BACKLOGD_UID BACKLOGD_PORT=8080)" 0
check "journal: sentence names the owner" \
        "$(field MESSAGE BACKLOGD_PORT=8080 | grep -c "^Listen queue of 127.0.0.1:8080 (api) of $SCOPE (python3, pid $API) is full: 3 of 3 ")" 1

wait_full BACKLOGD_PORT=8081
check "journal: selected by unit" "$(field BACKLOGD_NAME BACKLOGD_PORT=8081)" scoped
check "journal: its unit" "$(field BACKLOGD_UNIT BACKLOGD_PORT=8081)" "$SCOPE"

wait_full BACKLOGD_PATH="$TEST_TMP/php.sock"
check "journal: UNIX depth" "$(field BACKLOGD_DEPTH BACKLOGD_PATH="$TEST_TMP/php.sock")" 2
check "journal: UNIX backlog" "$(field BACKLOGD_BACKLOG BACKLOGD_PATH="$TEST_TMP/php.sock")" 1
check "journal: UNIX has no port" "$(field BACKLOGD_PORT BACKLOGD_PATH="$TEST_TMP/php.sock")" ""
check "journal: UNIX pid" "$(field BACKLOGD_PID BACKLOGD_PATH="$TEST_TMP/php.sock")" "$PHP"

PROM=$TEST_TMP/metrics/backlogd.prom
for ((i = 0; i < 50; i++)); do [ -s "$PROM" ] && break; sleep 0.1; done
promtool check metrics <"$PROM" >"$TEST_TMP/promtool.out" 2>&1
check "promtool check metrics" "$? $(cat "$TEST_TMP/promtool.out")" "0 "
check "metrics: depth of 8080" \
        "$(grep -c "^backlogd_listen_queue_depth{address=\"127.0.0.1\",port=\"8080\",family=\"inet\",netns=\"host\",name=\"api\",unit=\"$SCOPE\"} 3$" "$PROM")" 1
check "metrics: backlog of 8080" "$(grep -c '^backlogd_listen_queue_backlog{address="127.0.0.1",port="8080",.*} 2$' "$PROM")" 1
check "metrics: depth of the UNIX listener" \
        "$(grep -c "^backlogd_listen_queue_depth{address=\"$TEST_TMP/php.sock\",family=\"unix\",.*} 2$" "$PROM")" 1
# SYN queues are counted every 2 s here, polls come every 0.1 s: the file
# carries the last count in between. TCP listeners have one, UNIX ones not.
check "metrics: SYN depth of 8080" \
        "$(grep -c '^backlogd_syn_queue_depth{address="127.0.0.1",port="8080",.*} 0$' "$PROM")" 1
check "metrics: no SYN depth for UNIX listeners" "$(grep -c '^backlogd_syn_queue_depth{.*family="unix"' "$PROM")" 0
check "metrics: mode" "$(stat -c %a "$PROM")" 644
check "metrics: no temporary file left" "$(find "$TEST_TMP/metrics" -name '.*tmp' | wc -l)" 0

check "journal: 8082 (outside the unit) is not watched" "$(journal_count backlogd BACKLOGD_PORT=8082)" 0
check "metrics: 8082 is not watched" "$(grep -c 'port="8082"' "$PROM")" 0
check "metrics: 8081 by its entry's name" \
        "$(grep -c "^backlogd_listen_queue_depth{address=\"127.0.0.1\",port=\"8081\",family=\"inet\",netns=\"host\",name=\"scoped\",unit=\"$SCOPE\"} 3$" "$PROM")" 1

kill -TERM "$DAEMON"
wait "$DAEMON"
check "exit status on SIGTERM" "$?" 0
check "daemon stderr" "$(cat "$TEST_TMP/daemon.err")" ""
finish
