#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Listener churn: tests/helpers/churn opens and closes listeners as fast as
# it can (64 open at a time, never connected to) for CHURN_SECONDS (default
# 60) while some queues are full and one is drained; the daemon polls every
# 0.05 s.  No crash, no alert for a listener that never filled, every full
# alert followed by cleared or gone, and the daemon's RSS at the end within
# 10% of its RSS after a warm-up.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
[ -x "${CHURN:-}" ] || fail "CHURN is not set to the churn helper (run through meson test)"
enter_netns "$@"
setup_tmp
# shellcheck source=lib-journald.sh
. "$(dirname "$0")/lib-journald.sh"
trap 'cleanup; notify_stop' EXIT
SRC=$(cd "$(dirname "$0")/../.." && pwd)
DRAIN=$SRC/tests/helpers/drain-server.py
SECONDS_CHURN=${CHURN_SECONDS:-60}
WARMUP=3
[ "$SECONDS_CHURN" -gt $((WARMUP + 2)) ] || fail "CHURN_SECONDS must be more than $((WARMUP + 2))"

printf 'interval = 0.05;\n' >"$TEST_TMP/backlogd.conf"

# Full from the start to the end: 8080-8083; full then drained: 8084.
qfill_start q 127.0.0.1:8080:2:c=3 127.0.0.1:8081:2:c=3 127.0.0.1:8082:2:c=3 127.0.0.1:8083:2:c=3
mkfifo "$TEST_TMP/drain.in"
"$PYTHON" "$DRAIN" 127.0.0.1 8084 2 <"$TEST_TMP/drain.in" >"$TEST_TMP/drain.out" 2>&1 &
TEST_PIDS+=("$!")
exec {DRAIN_FD}>"$TEST_TMP/drain.in"
wait_lines "$TEST_TMP/drain.out" '^ready$' 1 10
drain() {
        local n
        n=$(grep -c -E '^(ok|error)' "$TEST_TMP/drain.out")
        echo "$1" >&"$DRAIN_FD"
        wait_lines "$TEST_TMP/drain.out" '^(ok|error)' $((n + 1)) 15
}
drain "connect 3"

# STATUS= on a notify socket shows how many listeners each poll saw.
notify_start "$TEST_TMP/notify.sock" "$TEST_TMP/notify.out" $((SECONDS_CHURN + 60)) || fail "notify listener"
"$BACKLOGD" -c "$TEST_TMP/backlogd.conf" --log-target console 2>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
wait_lines "$TEST_TMP/daemon.err" '^full: ' 5 10 "$DAEMON"

rss() {
        awk '$1 == "VmRSS:" { print $2 }' "/proc/$DAEMON/status"
}
cpu_ticks() {
        awk '{ print $14 + $15 }' "/proc/$DAEMON/stat"
}

"$CHURN" "$SECONDS_CHURN" 40000 44999 >"$TEST_TMP/churn.out" 2>"$TEST_TMP/churn.err" &
CHURN_PID=$!
TEST_PIDS+=("$CHURN_PID")
sleep "$WARMUP"
rss_warm=$(rss)
ticks_warm=$(cpu_ticks)
note "RSS after ${WARMUP} s of churn: $rss_warm kB"
# Midway: drain 8084, its alert clears.
sleep $(((SECONDS_CHURN - WARMUP) / 2))
drain accept
wait "$CHURN_PID"
check "churn helper exit status" "$?" 0
rss_end=$(rss)
ticks_end=$(cpu_ticks)
note "$(cat "$TEST_TMP/churn.out")"
note "RSS at the end: $rss_end kB (after warm-up $rss_warm kB)"
note "daemon CPU during churn: $(((ticks_end - ticks_warm) * 100 / $(getconf CLK_TCK) / (SECONDS_CHURN - WARMUP)))% of a core"
seen=$(notify_fields | sed -nE 's/^STATUS=watching ([0-9]+) listeners?, .*/\1/p' | sort -n | tail -n 1)
note "most listeners the daemon saw in one poll: $seen"
check "the daemon saw the churned listeners (more than 5 at once)" \
        "$([ "${seen:-0}" -gt 5 ] && echo yes || echo "no: $seen")" yes
rate=$(awk '{ print $NF }' "$TEST_TMP/churn.out")
check "churn rate at least 1000 listeners opened+closed per second" \
        "$([ "${rate:-0}" -ge 1000 ] && echo yes || echo "no: $rate")" yes
check "RSS at the end within 10% of RSS after warm-up" \
        "$([ $((rss_end * 100)) -le $((rss_warm * 110)) ] && [ $((rss_end * 100)) -ge $((rss_warm * 90)) ] && echo yes ||
                echo "no: $rss_warm kB -> $rss_end kB")" yes

# The full queues go away: each full alert ends in gone.
# shellcheck disable=SC2154 # set by qfill_start
kill -TERM "$QFILL_PID_q" # (its FIFO is open in the daemon too: no EOF)
wait_lines "$TEST_TMP/daemon.err" '^gone: ' 4 10 "$DAEMON"
sleep 0.3
kill -0 "$DAEMON" 2>/dev/null
check "daemon alive after the churn" "$?" 0
kill -TERM "$DAEMON"
wait "$DAEMON"
check "exit status on SIGTERM" "$?" 0

# Every alert's port, in order: "EVENT PORT".
grep -E '^(high|full|cleared|drops|gone)( \(reminder\))?: ' "$TEST_TMP/daemon.err" |
        sed -E 's/^([a-z]+)( \(reminder\))?: .*127\.0\.0\.1:([0-9]+)[ )].*/\1 \3/' >"$TEST_TMP/alerts"
check "alerts about ports never filled" "$(awk '$2 < 8080 || $2 > 8084' "$TEST_TMP/alerts" | wc -l)" 0
check "alert lines that name no port" "$(grep -cvE '^[a-z]+ [0-9]+$' "$TEST_TMP/alerts")" 0
check "counter alerts" "$(grep -c '^counter: ' "$TEST_TMP/daemon.err")" 0
for p in 8080 8081 8082 8083 8084; do
        seq=$(awk -v p="$p" '$2 == p { printf "%s ", $1 }' "$TEST_TMP/alerts")
        if [ "$p" = 8084 ]; then want="full cleared "; else want="full gone "; fi
        check "alerts for $p" "$seq" "$want"
done
# 8080-8083 never accept: each is stalled once (after 10 s), and gone.
for p in 8080 8081 8082 8083; do
        check "stalled $p once" "$(grep -c "^stalled: Listen queue of 127\.0\.0\.1:$p " "$TEST_TMP/daemon.err")" 1
done
check "daemon stderr lines other than alerts and lifecycle" \
        "$(grep -cvE '^(full|gone|cleared|stalled|accepting): |^backlogd started|^Stopping on Terminated\.$' "$TEST_TMP/daemon.err")" 0
finish
