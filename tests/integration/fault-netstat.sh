#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The host counters become unreadable while the daemon runs (a proc root of
# our own, --proc-root): the file missing, then malformed, then empty.  Each
# fault logs exactly one line however many polls fail, the polls go on
# (listener alerts still arrive), and when a valid file returns, one "readable
# again" line and a counter alert with the exact increase follow.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
enter_netns "$@"
setup_tmp

ROOT=$TEST_TMP/proc
NETSTAT=$ROOT/net/netstat
mkdir -p "$ROOT/net" "$ROOT/sys/net/core" "$ROOT/sys/net/ipv4" || fail "mkdir"
for s in net/core/somaxconn net/ipv4/tcp_max_syn_backlog net/ipv4/tcp_syncookies \
        net/ipv4/tcp_abort_on_overflow net/ipv4/tcp_synack_retries; do
        cat "/proc/sys/$s" >"$ROOT/sys/$s" || fail "cannot copy /proc/sys/$s"
done
cp /proc/net/netstat "$TEST_TMP/netstat.base" || fail "cannot copy /proc/net/netstat"

# netstat_write OVERFLOWS DROPS: the base copy with ListenOverflows and
# ListenDrops raised by these amounts, written in place (same inode).
netstat_write() {
        "$PYTHON" - "$TEST_TMP/netstat.base" "$1" "$2" >"$TEST_TMP/netstat.new" <<'PY' ||
import sys
lines = open(sys.argv[1]).read().splitlines()
add = {"ListenOverflows": int(sys.argv[2]), "ListenDrops": int(sys.argv[3])}
for i in range(0, len(lines), 2):
    names, values = lines[i].split(), lines[i + 1].split()
    if names[0] == "TcpExt:":
        for k, v in add.items():
            j = names.index(k)
            values[j] = str(int(values[j]) + v)
    print(lines[i])
    print(" ".join(values))
PY
                fail "cannot rewrite the netstat copy"
        cat "$TEST_TMP/netstat.new" >"$NETSTAT"
}
# grep_count REGEX: lines of the daemon's stderr matching.
grep_count() {
        grep -c -E -- "$1" "$TEST_TMP/daemon.err"
}

ERR_RE="^Cannot read the host's listen counters: "
AGAIN="The host's listen counters are readable again."

# Phase 0: the file is missing from the start.
"$BACKLOGD" --interval 0.1 --log-target console --proc-root "$ROOT" 2>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
wait_lines "$TEST_TMP/daemon.err" '^backlogd started' 1 10 "$DAEMON"
sleep 1 # ~10 failing polls
check "missing: error lines after ~10 polls" "$(grep_count "$ERR_RE")" 1
check "missing: error text" "$(grep -E "$ERR_RE" "$TEST_TMP/daemon.err")" \
        "Cannot read the host's listen counters: $NETSTAT: No such file or directory; retrying every poll."
netstat_write 0 0
wait_lines "$TEST_TMP/daemon.err" "^$AGAIN\$" 1 5 "$DAEMON"
sleep 0.5
check "missing: readable-again lines" "$(grep_count "^$AGAIN\$")" 1
check "missing: counter alerts (a first reading is only a baseline)" "$(grep_count '^counter: ')" 0

# Phase A: malformed content; a queue fills meanwhile.
printf 'TcpExt: SyncookiesSent ListenOverflows\nTcpExt: 0 many\n' >"$NETSTAT"
wait_lines "$TEST_TMP/daemon.err" "$ERR_RE" 2 5 "$DAEMON"
qfill_start a 127.0.0.1:8080:2:c=3
wait_lines "$TEST_TMP/daemon.err" '^full: Listen queue of 127\.0\.0\.1:8080 .*is full' 1 5 "$DAEMON"
sleep 1
check "malformed: error lines" "$(grep_count "$ERR_RE")" 2
note "malformed: $(grep -E "$ERR_RE" "$TEST_TMP/daemon.err" | tail -n 1)"
check "malformed: error names the file" \
        "$(grep -E "$ERR_RE" "$TEST_TMP/daemon.err" | tail -n 1 | grep -c -F "$NETSTAT: ")" 1
check "malformed: full alert for 8080 while counters are broken" \
        "$(grep_count '^full: Listen queue of 127\.0\.0\.1:8080 .*is full')" 1
netstat_write 7 0
wait_lines "$TEST_TMP/daemon.err" "^$AGAIN\$" 2 5 "$DAEMON"
wait_lines "$TEST_TMP/daemon.err" '^counter: ' 1 5 "$DAEMON"
sleep 0.5
check "malformed: readable-again lines" "$(grep_count "^$AGAIN\$")" 2
check "malformed: counter alert" "$(grep '^counter: ' "$TEST_TMP/daemon.err" | sed -E 's/ rose by ([0-9]+) .*/ rose by \1/')" \
        "counter: Host counter ListenOverflows rose by 7"

# Phase B: an empty file; another queue fills meanwhile.
: >"$NETSTAT"
wait_lines "$TEST_TMP/daemon.err" "$ERR_RE" 3 5 "$DAEMON"
qfill_start b 127.0.0.1:8081:2:c=3
wait_lines "$TEST_TMP/daemon.err" '^full: Listen queue of 127\.0\.0\.1:8081 .*is full' 1 5 "$DAEMON"
sleep 1
check "empty: error lines" "$(grep_count "$ERR_RE")" 3
note "empty: $(grep -E "$ERR_RE" "$TEST_TMP/daemon.err" | tail -n 1)"
check "empty: full alert for 8081 while counters are broken" \
        "$(grep_count '^full: Listen queue of 127\.0\.0\.1:8081 .*is full')" 1
netstat_write 7 5
wait_lines "$TEST_TMP/daemon.err" "^$AGAIN\$" 3 5 "$DAEMON"
wait_lines "$TEST_TMP/daemon.err" '^counter: ' 2 5 "$DAEMON"
sleep 0.5
check "empty: readable-again lines" "$(grep_count "^$AGAIN\$")" 3
check "empty: counter alerts" "$(grep '^counter: ' "$TEST_TMP/daemon.err" | sed -E 's/ rose by ([0-9]+) .*/ rose by \1/' | tr '\n' '|')" \
        "counter: Host counter ListenOverflows rose by 7|counter: Host counter ListenDrops rose by 5|"

kill -TERM "$DAEMON"
wait "$DAEMON"
check "exit status on SIGTERM" "$?" 0
check "full alerts in all" "$(grep_count '^full: ')" 2
check "last words" "$(tail -n 1 "$TEST_TMP/daemon.err")" "Stopping on Terminated."
echo "--- daemon stderr:"
cat "$TEST_TMP/daemon.err"
finish
