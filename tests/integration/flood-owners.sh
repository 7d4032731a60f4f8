#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A local user cannot flood the journal nor starve other owners' alerts:
# uid 65534 fills and churns listeners as fast as it can (OWNER_FLOOD_SECONDS,
# 10 by default; bounded in count too) while root's own listener fills and
# drains twice. The journal gets at most the documented budget (100 at
# once, then 5 a second, plus one summary per owner), every alert about
# root's listener arrives within a second, and what nobody's listeners did
# is summed in a summary entry (BACKLOGD_EVENT=summary).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
enter_netns "$@"
setup_tmp
# shellcheck source=lib-journald.sh
. "$(dirname "$0")/lib-journald.sh"

SECS=${OWNER_FLOOD_SECONDS:-10}
journald_start || fail "cannot start a private journald"
trap 'cleanup; journald_stop' EXIT

printf 'interval = 0.1;\n' >"$TEST_TMP/backlogd.conf"
"$BACKLOGD" -c "$TEST_TMP/backlogd.conf" --log-target=journal 2>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
journal_wait 1 backlogd MESSAGE_ID=0565ceedc5744a2db6570af63dd3d8d5

# nobody: listeners with backlog 0 and one client each (full), at most 2000
# open, the oldest closed for each new one (gone): as fast as it goes.
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
        "$PYTHON" -c '
import socket, sys, time
end = time.monotonic() + float(sys.argv[1])
open_, n = [], 0
while time.monotonic() < end and n < 60000:
    port = 20000 + n % 10000
    n += 1
    try:
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port)); s.listen(0)
        c = socket.create_connection(("127.0.0.1", port))
    except OSError:
        continue
    open_.append((s, c))
    if len(open_) > 2000:
        a, b = open_.pop(0); b.close(); a.close()
print("churned", n, flush=True)
time.sleep(5)' "$SECS" >"$TEST_TMP/flood.out" 2>&1 &
FLOOD=$!
TEST_PIDS+=("$FLOOD")
start=$(date +%s.%N)

# root: 127.0.0.1:9000, backlog 0, filled and drained twice meanwhile.
mkfifo "$TEST_TMP/root.in"
"$PYTHON" -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 9000)); s.listen(0)
c = None
for line in sys.stdin:
    if line.strip() == "fill":
        c = socket.create_connection(("127.0.0.1", 9000)); print("filled", flush=True)
    elif line.strip() == "drain":
        a, _ = s.accept(); a.close(); c.close(); print("drained", flush=True)' \
        <"$TEST_TMP/root.in" >"$TEST_TMP/root.out" 2>&1 &
TEST_PIDS+=("$!")
exec {ROOT_FD}>"$TEST_TMP/root.in"
late=0
for round in 1 2; do
        sleep 3
        echo fill >&"$ROOT_FD"
        wait_lines "$TEST_TMP/root.out" '^filled$' "$round" 5
        t0=$(date +%s%N)
        journal_wait "$round" backlogd BACKLOGD_EVENT=full BACKLOGD_PORT=9000
        ms=$((($(date +%s%N) - t0) / 1000000))
        note "root's full alert $round arrived after $ms ms"
        [ "$ms" -le 1000 ] || late=$((late + 1))
        echo drain >&"$ROOT_FD"
        wait_lines "$TEST_TMP/root.out" '^drained$' "$round" 5
        journal_wait "$round" backlogd BACKLOGD_EVENT=cleared BACKLOGD_PORT=9000
done
check "root's alerts within a second of the change, while the flood goes on" "$late" 0
check "root's full alerts" "$(journal_count backlogd BACKLOGD_EVENT=full BACKLOGD_PORT=9000)" 2
wait_lines "$TEST_TMP/flood.out" '^churned ' 1 $((SECS + 30))
elapsed=$("$PYTHON" -c "import time; print(round(time.time() - $start, 1))")
kill -TERM "$DAEMON"
wait "$DAEMON"
check "exit status" "$?" 0
note "nobody: $(cat "$TEST_TMP/flood.out") listeners in ${elapsed} s"

alerts=$(journal_count backlogd BACKLOGD_UID=65534)
all=$(journal_count backlogd)
bound=$("$PYTHON" -c "print(int(100 + 5 * $elapsed) + 2)")
note "journal entries: $all in ${elapsed} s ($alerts about nobody's listeners); budget bound $bound"
check "entries within the budget (100 + 5/s)" "$([ "$alerts" -le "$bound" ] && echo yes)" yes
check "summary of nobody's held-back alerts" "$(journal_count backlogd BACKLOGD_EVENT=summary BACKLOGD_UID=65534)" 1
suppressed=$(journal_field backlogd BACKLOGD_SUPPRESSED BACKLOGD_EVENT=summary BACKLOGD_UID=65534)
note "summary: $(journal_field backlogd MESSAGE BACKLOGD_EVENT=summary BACKLOGD_UID=65534)"
check "the summary counts what was held back" "$([ "${suppressed:-0}" -ge 100 ] && echo yes)" yes
finish
