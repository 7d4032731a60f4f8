#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Idle polls: a namespace in which no connection entered a queue (Tcp
# PassiveOpens of /proc/net/snmp) and no listen counter moved since its last
# dump, whose watched queues were all empty, is not dumped; it is dumped
# at least every 10 polls. Checked on the daemon's debug lines, poll by
# poll ("Dumped N listeners." then "Poll: N listeners seen, ..." for a
# dump; "Poll: 0 listeners seen (idle: ...)" for an idle poll):
#   - idle: runs of 9 idle polls between dumps (8 to 10 when a poll fires
#     late);
#   - a connection that enters a queue is seen by the next poll's dump, and
#     every poll dumps while a queue holds one; the queue that fills is
#     reported full with the numbers ss shows, and cleared once drained;
#   - a listener that appears while all is idle is found within 10 polls;
#   - with UNIX listeners watched, or counters off, every poll dumps.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
enter_netns "$@"
setup_tmp

mkfifo "$TEST_TMP/drv.in"
"$PYTHON" -c '
import socket, sys
def listener(port, backlog):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port)); s.listen(backlog); return s
ls = {8500: listener(8500, 1)}
clients, accepted = [], []
print("ready", flush=True)
for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "connect":
        clients.append(socket.create_connection(("127.0.0.1", int(cmd[1]))))
    elif cmd[0] == "drain":
        while True:
            ls[8500].setblocking(False)
            try:
                accepted.append(ls[8500].accept()[0])
            except BlockingIOError:
                break
    elif cmd[0] == "listen":
        ls[int(cmd[1])] = listener(int(cmd[1]), 8)
    print("done " + cmd[0], flush=True)
' <"$TEST_TMP/drv.in" >"$TEST_TMP/drv.out" 2>&1 &
DRV=$!
TEST_PIDS+=("$DRV")
exec {DRV_FD}>"$TEST_TMP/drv.in"
wait_lines "$TEST_TMP/drv.out" '^ready$' 1 15 "$DRV"
N_DONE=0
drv() {
        echo "$*" >&"$DRV_FD"
        N_DONE=$((N_DONE + 1))
        wait_lines "$TEST_TMP/drv.out" '^done ' "$N_DONE" 10 "$DRV"
}

# The poll lines of a log from line $2 on, one letter each: D a poll that
# dumped, I an idle one.
polls() {
        tail -n +"$2" "$1" | awk '/^Poll: .*\(idle: / { printf "I"; next } /^Poll: / { printf "D" } END { print "" }'
}

# start_daemon NAME CONFIG: the daemon at a 0.1 s interval, its debug lines
# in $TEST_TMP/NAME.err.
start_daemon() {
        printf '%s\n' "$2" >"$TEST_TMP/$1.conf"
        : >"$TEST_TMP/$1.err"
        "$BACKLOGD" -c "$TEST_TMP/$1.conf" --interval 0.1 --log-target=console --debug 2>>"$TEST_TMP/$1.err" &
        DAEMON=$!
        TEST_PIDS+=("$DAEMON")
        wait_lines "$TEST_TMP/$1.err" '^backlogd started' 1 10 "$DAEMON"
}

stop_daemon() {
        kill "$DAEMON"
        wait "$DAEMON" 2>/dev/null || true
}

# No SYN counts (each would dump) and no stall watch: only the idle rule.
start_daemon idle 'syn_interval = 0;'
wait_lines "$TEST_TMP/idle.err" '^Poll: ' 35 15 "$DAEMON"
p=$(polls "$TEST_TMP/idle.err" 1)
note "polls: $p"
check "the first poll dumps" "${p:0:1}" D
check "first dump" "$(grep -m1 '^Dumped ' "$TEST_TMP/idle.err")" "Dumped 1 listener."
check "idle poll line" "$(grep -m1 '(idle: ' "$TEST_TMP/idle.err")" \
        "Poll: 0 listeners seen (idle: no connection came and no counter moved, not dumped), watching 1 listener, 0 above 80%; 0 events."
# Runs of idle polls between two dumps (the last run, cut short, is not
# one): 9 each, 8 to 10 when a poll fires late (a dump is due within half
# an interval of 10 intervals).
between() {
        echo "${1%D*}" | tr -s D '\n' | grep -E '^I+$'
}
note "idle runs between dumps: $(between "$p" | awk '{ print length($0) }' | sort -u | tr '\n' ' ')"
check "every idle run between dumps is 8 to 10 polls" \
        "$(between "$p" | awk '{ n = length($0); if (n < 8 || n > 10) bad++ } END { print bad + 0 }')" 0
check "idle runs between dumps" "$([ "$(between "$p" | wc -l)" -ge 2 ] && echo yes)" yes
check "at least 2 dumps after the first" "$([ "$(echo "$p" | grep -o D | wc -l)" -ge 3 ] && echo yes)" yes
check "no run of more than 10 idle polls" "$(echo "$p" | grep -cE 'I{11}')" 0

# One connection (of capacity 2): the next poll dumps, and every poll
# after it while the queue holds it. Marked once it is made.
drv connect 8500
mark=$(($(wc -l <"$TEST_TMP/idle.err") + 1))
wait_lines "$TEST_TMP/idle.err" '^Poll: ' $(($(grep -c '^Poll: ' "$TEST_TMP/idle.err") + 8)) 10 "$DAEMON"
p=$(polls "$TEST_TMP/idle.err" "$mark")
note "polls after the connection: $p"
# The poll running while the connection was made may be idle (it read the
# counters before); the one after it dumps.
check "a dump at the first or second poll" "$(echo "$p" | grep -cE '^I?D')" 1
check "then every poll dumps" "$(echo "$p" | sed -E 's/^I?D//' | grep -c I)" 0
check "the dumps see the listener" "$(tail -n +"$mark" "$TEST_TMP/idle.err" | grep -m1 '^Poll: 1 listener seen,')" \
        "Poll: 1 listener seen, watching 1 listener, 0 above 80%; 0 events."
check "ss: one connection queued" "$(ss -ltnH 'sport = :8500' | awk '{ print $2 }')" 1

# The second fills it: full at once, as ss shows it.
mark=$(($(wc -l <"$TEST_TMP/idle.err") + 1))
drv connect 8500
wait_lines "$TEST_TMP/idle.err" '^full: Listen queue of 127.0.0.1:8500' 1 5 "$DAEMON"
read -r ss_depth ss_backlog < <(ss -ltnH 'sport = :8500' | awk '{ print $2, $3 }')
check "ss depth and backlog" "$ss_depth $ss_backlog" "2 1"
check "full, with ss's numbers" \
        "$(grep -m1 '^full: Listen queue of 127.0.0.1:8500' "$TEST_TMP/idle.err" | grep -oE '[0-9]+ of [0-9]+ connections')" \
        "$ss_depth of $((ss_backlog + 1)) connections"
check "reported within 2 polls of the fill" \
        "$(tail -n +"$mark" "$TEST_TMP/idle.err" | awk '/^Poll: / { n++ } /^full: / { print (n <= 2 ? "yes" : "no after " n); exit }')" yes

# Drained (accept() moves no counter): the dump that follows sees the empty
# queue and clears it; then the polls are idle again.
drv drain
wait_lines "$TEST_TMP/idle.err" '^cleared: Listen queue of 127.0.0.1:8500' 1 5 "$DAEMON"
mark=$(($(wc -l <"$TEST_TMP/idle.err") + 1))
wait_lines "$TEST_TMP/idle.err" '^Poll: ' $(($(grep -c '^Poll: ' "$TEST_TMP/idle.err") + 12)) 10 "$DAEMON"
p=$(polls "$TEST_TMP/idle.err" "$mark")
note "polls after the drain: $p"
check "idle again after the drain" "$(echo "$p" | grep -cE 'I{8}')" 1

# A listener that appears while all is idle: found within 10 polls of the
# listen() (the polls that ran while the driver made it do not count).
mark=$(($(wc -l <"$TEST_TMP/idle.err") + 1))
drv listen 8501
before=$(tail -n +"$mark" "$TEST_TMP/idle.err" | grep -c '^Poll: ')
wait_lines "$TEST_TMP/idle.err" '^Dumped 2 listeners\.$' 1 5 "$DAEMON"
n=$(tail -n +"$mark" "$TEST_TMP/idle.err" | awk '/^Poll: / { n++ } /^Dumped 2 listeners/ { print n + 1; exit }')
note "the new listener was dumped at poll $n after the mark, $before poll(s) ran while it was made"
check "new listener found within 10 polls" "$([ "${n:-0}" -ge 1 ] && [ $((n - before)) -le 10 ] && echo yes)" yes
stop_daemon

# UNIX listeners watched, or no counters: every poll dumps.
for conf in 'unix = true; syn_interval = 0;' 'counters = false; syn_interval = 0;'; do
        start_daemon other "$conf"
        wait_lines "$TEST_TMP/other.err" '^Poll: ' 15 10 "$DAEMON"
        check "no idle poll with: $conf" "$(grep -c '(idle: ' "$TEST_TMP/other.err")" 0
        check "a dump every poll with: $conf" \
                "$([ "$(grep -c '^Dumped ' "$TEST_TMP/other.err")" -ge 15 ] && echo yes)" yes
        stop_daemon
done
finish
