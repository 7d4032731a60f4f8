#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A queue that stays full and keeps dropping for FLOOD_SECONDS (default 300)
# at interval 1 s: pending clients retransmit their SYNs and one more joins
# every 10 s, so drops rise all the time.  The messages about that listener
# and about the host counters stay within the bound that backlogd(8)
# documents ("Message bound"), computed for the measured run time T:
#   state changes   1 (the queue stays full; tokens would allow 4 + T/15)
#   stalls          1 (nothing is accepted: one stalled entry, after 10 s)
#   reminders       floor(T / repeat)       repeat = FLOOD_REPEAT (default 300)
#   drops           1 + floor(T / 60), + 1 held-back sum reported at stop
#   host counters   the same, each, for the 4 counters watched
# and above the lower bound the continuous drops force.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
enter_netns "$@"
setup_tmp

D=${FLOOD_SECONDS:-300}
R=${FLOOD_REPEAT:-300}
if [ "$D" -lt 20 ] || [ "$D" -gt 3600 ]; then
        fail "FLOOD_SECONDS must be 20..3600, not $D"
fi
[ "$R" -ge 1 ] || fail "FLOOD_REPEAT must be at least 1, not $R"
printf 'interval = 1;\nrepeat = %s;\n' "$R" >"$TEST_TMP/backlogd.conf"

# 8080: backlog 2 (capacity 3), 3 queued and 2 pending; qfill lives long
# enough for the run.
mkfifo "$TEST_TMP/q.in" || fail "mkfifo"
"$QFILL" -t $((D + 60)) 127.0.0.1:8080:2:c=5 <"$TEST_TMP/q.in" >"$TEST_TMP/q.out" 2>"$TEST_TMP/q.err" &
QFILL_PID_q=$!
TEST_PIDS+=("$QFILL_PID_q")
# shellcheck disable=SC2034 # qfill_cmd reads it
exec {QFILL_FD_q}>"$TEST_TMP/q.in"
wait_lines "$TEST_TMP/q.out" '^ready$' 1 15 "$QFILL_PID_q"
note "8080: $(qfill_field q 0 established) queued, $(qfill_field q 0 pending) pending"

start=$(date +%s%N)
"$BACKLOGD" -c "$TEST_TMP/backlogd.conf" --log-target console 2>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
note "flooding for $D s, repeat $R s"
for ((i = 10; i < D; i += 10)); do
        sleep $((i - ($(date +%s%N) - start) / 1000000000))
        kill -0 "$DAEMON" 2>/dev/null || fail "the daemon died after $i s: $(tail -n 3 "$TEST_TMP/daemon.err")"
        qfill_cmd q "pend 0 1" '^ready$'
done
while (((($(date +%s%N) - start) / 1000000) < D * 1000)); do
        sleep 0.1
done
kill -TERM "$DAEMON"
T_ms=$((($(date +%s%N) - start) / 1000000))
wait "$DAEMON"
check "exit status on SIGTERM" "$?" 0
T=$((T_ms / 1000))
note "T = $T_ms ms; drops ss shows now: $(ss_drops "$(qfill_field q 0 inode)")"

count() {
        grep -c -E -- "$1" "$TEST_TMP/daemon.err"
}
full=$(count '^full: Listen queue of 127\.0\.0\.1:8080 .*is full')
reminders=$(count '^full \(reminder\): Listen queue of 127\.0\.0\.1:8080 .*is still full')
drops=$(count '^drops: 127\.0\.0\.1:8080 (of [^ ]+, pid [0-9]+ )?dropped ')
stalls=$(count '^stalled: Listen queue of 127\.0\.0\.1:8080 ')
about=$(count '127\.0\.0\.1:8080')
counters=$(count '^counter: ')
total=$((about + counters))

bound_state=1
bound_rem=$((T / R))
bound_drops=$((2 + T / 60))
bound_counter=$((2 + T / 60))
bound=$((bound_state + 1 + bound_rem + bound_drops + 4 * bound_counter))
note "bound for T=$T s: $bound_state state + 1 stall + $bound_rem reminders + $bound_drops drops + 4 x $bound_counter counter = $bound (tokens alone would allow $((4 + T / 15)) state messages)"
note "got: $full full, $stalls stalled, $reminders reminders, $drops drops, $counters counter; $total in all"
for c in ListenOverflows ListenDrops TCPReqQFullDrop TCPReqQFullDoCookies; do
        n=$(count "^counter: Host counter $c rose by ")
        note "counter $c: $n"
        check "counter $c messages <= $bound_counter" "$([ "$n" -le "$bound_counter" ] && echo yes || echo "no: $n")" yes
done
check "messages about 8080 are full, stalled, reminders and drops only" "$about" $((full + stalls + reminders + drops))
check "full messages (the queue stays full)" "$full" 1
check "stalled messages (nothing is ever accepted)" "$stalls" 1
check "reminders <= $bound_rem" "$([ "$reminders" -le "$bound_rem" ] && echo yes || echo "no: $reminders")" yes
check "drops messages <= $bound_drops" "$([ "$drops" -le "$bound_drops" ] && echo yes || echo "no: $drops")" yes
check "all messages <= $bound" "$([ "$total" -le "$bound" ] && echo yes || echo "no: $total")" yes
check "all messages > 0" "$([ "$total" -gt 0 ] && echo yes)" yes
# Lower bounds: drops rise in every minute, and the queue stays full, so a
# report is due every 60 s (polls 1 s apart, first drops within 5 s) and a
# reminder every repeat s (each one up to a poll late).
min_drops=$((1 + (T - 5) / 61))
min_rem=$(((T - 2) / (R + 1)))
check "drops messages >= $min_drops" "$([ "$drops" -ge "$min_drops" ] && echo yes || echo "no: $drops")" yes
check "reminders >= $min_rem" "$([ "$reminders" -ge "$min_rem" ] && echo yes || echo "no: $reminders")" yes
check "ListenOverflows messages >= $min_drops" \
        "$([ "$(count '^counter: Host counter ListenOverflows ')" -ge "$min_drops" ] && echo yes)" yes
if [ "$D" -ge 300 ] && [ "$R" -eq 300 ]; then
        # backlogd(8): 8 entries about the listener in five minutes with the
        # defaults, and one more at stop for the drops held back.
        check "entries about the listener in 5 minutes with the defaults <= 9" \
                "$([ "$about" -le 9 ] && echo yes || echo "no: $about")" yes
fi
echo "--- daemon stderr:"
cat "$TEST_TMP/daemon.err"
finish
