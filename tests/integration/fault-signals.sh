#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Signals at awkward moments.  A SIGHUP storm (100 reloads within a second,
# the file rewritten before each): the daemon lives, keeps polling and runs
# the last file's configuration.  SIGTERM while 5,000 listeners are polled
# every 0.01 s (so a poll is most likely in progress): exit 0 within a
# second, 20 times.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
enter_netns "$@"
setup_tmp

CONF=$TEST_TMP/backlogd.conf
# gen N PORT: a configuration that watches PORT only, named genN.
gen() {
        printf 'interval = 0.1;\nwatch = ( { port = %s; name = "gen%s"; } );\n' "$2" "$1" >"$CONF.tmp"
        mv -f "$CONF.tmp" "$CONF"
}
count() {
        grep -c -E -- "$1" "$TEST_TMP/daemon.err"
}

# --- SIGHUP storm ---
gen 0 8080
"$BACKLOGD" -c "$CONF" --log-target console 2>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
wait_lines "$TEST_TMP/daemon.err" '^backlogd started' 1 10 "$DAEMON"
t0=$(date +%s%N)
for ((i = 1; i <= 100; i++)); do
        gen "$i" 8081
        kill -HUP "$DAEMON" || fail "kill -HUP failed at $i"
done
storm_ms=$((($(date +%s%N) - t0) / 1000000))
note "100 SIGHUPs in $storm_ms ms"
check "storm within one second" "$([ "$storm_ms" -lt 1000 ] && echo yes || echo "no: $storm_ms ms")" yes
# Let the reloads settle: no new line for 0.5 s (bounded: 10 s).
prev=-1
for ((i = 0; i < 20; i++)); do
        n=$(wc -l <"$TEST_TMP/daemon.err")
        [ "$n" -eq "$prev" ] && break
        prev=$n
        sleep 0.5
done
reloads=$(count '^Reloaded the configuration from ')
note "$reloads reloads done (pending SIGHUPs coalesce)"
kill -0 "$DAEMON" 2>/dev/null
check "alive after the storm" "$?" 0
check "reloads done, 1..100" "$([ "$reloads" -ge 1 ] && [ "$reloads" -le 100 ] && echo yes || echo "no: $reloads")" yes
check "failed reloads" "$(count '^Reload failed')" 0
# The last file is in effect: 8081 is watched as gen100, 8080 is not.
qfill_start a 127.0.0.1:8080:2:c=3 127.0.0.1:8081:2:c=3
wait_lines "$TEST_TMP/daemon.err" '^full: Listen queue of 127\.0\.0\.1:8081 ' 1 5 "$DAEMON"
sleep 0.5
check "alert after the storm" "$(grep '^full: ' "$TEST_TMP/daemon.err" | cut -d' ' -f1-6)" \
        "full: Listen queue of 127.0.0.1:8081 (gen100)"
check "no alert for 8080 (watched only by gen0)" "$(count '127\.0\.0\.1:8080')" 0
kill -TERM "$DAEMON"
wait "$DAEMON"
check "storm: exit status on SIGTERM" "$?" 0
# shellcheck disable=SC2154 # set by qfill_start
kill -TERM "$QFILL_PID_a"

# --- SIGTERM during polls of 5,000 listeners ---
specs=()
for ((p = 30000; p < 35000; p++)); do
        specs+=("127.0.0.1:$p:1")
done
mkfifo "$TEST_TMP/big.in" || fail "mkfifo"
"$QFILL" -t 100 "${specs[@]}" <"$TEST_TMP/big.in" >"$TEST_TMP/big.out" 2>"$TEST_TMP/big.err" &
TEST_PIDS+=("$!")
# shellcheck disable=SC2034 # held open: qfill exits at EOF
exec {BIG_FD}>"$TEST_TMP/big.in"
wait_lines "$TEST_TMP/big.out" '^ready$' 1 30 "$!"
note "qfill: $(grep -c '^listener' "$TEST_TMP/big.out") listeners ready"
printf 'interval = 0.01;\n' >"$CONF"

ok_rc=0 ok_fast=0 ok_words=0 worst=0 ticks=0 life_ms=0
hz=$(getconf CLK_TCK)
for ((run = 1; run <= 20; run++)); do
        "$BACKLOGD" -c "$CONF" --log-target console 2>"$TEST_TMP/term.err" &
        pid=$!
        TEST_PIDS+=("$pid")
        born=$(date +%s%N)
        wait_lines "$TEST_TMP/term.err" '^backlogd started: watching 5000 listeners' 1 10 "$pid"
        sleep "0.$((RANDOM % 3 + 1))$((RANDOM % 10))"
        t=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
        start=$(date +%s%N)
        kill -TERM "$pid"
        wait "$pid"
        rc=$?
        now=$(date +%s%N)
        ms=$(((now - start) / 1000000))
        ticks=$((ticks + t))
        life_ms=$((life_ms + (start - born) / 1000000))
        [ "$rc" -eq 0 ] && ok_rc=$((ok_rc + 1))
        [ "$ms" -lt 1000 ] && ok_fast=$((ok_fast + 1))
        [ "$ms" -gt "$worst" ] && worst=$ms
        [ "$(tail -n 1 "$TEST_TMP/term.err")" = "Stopping on Terminated." ] && ok_words=$((ok_words + 1))
        if [ "$rc" -ne 0 ] || [ "$ms" -ge 1000 ]; then
                echo "run $run: exit $rc after $ms ms:"
                cat "$TEST_TMP/term.err"
        fi
done
note "slowest exit: $worst ms; the daemons were busy $((ticks * 1000 * 100 / hz / life_ms))% of their lifetime"
check "runs that exited 0" "$ok_rc" 20
check "runs that exited within 1 s" "$ok_fast" 20
check "runs whose last words were 'Stopping on Terminated.'" "$ok_words" 20
finish
