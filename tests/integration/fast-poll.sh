#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fast polls: with `interval = 5` and watch entries of `interval = 0.05`,
# the daemon reads those entries' listeners between its full polls with
# exact sock_diag lookups. A queue on 8443 that fills after a full poll is
# reported within a fraction of a second (not at the next full poll, 5 s
# later), with the depth and backlog `ss -ltn` shows, and no dump ran for
# it (the debug lines: "Looked up ..." per fast poll, "Dumped ..." per full
# poll). The two members of an SO_REUSEPORT group on 8444 cannot be looked
# up one by one: their port is read with a port-filtered dump instead, and
# the member that fills is reported with its own numbers. A raised
# listener (8445) closed between full polls is not said gone by the fast
# polls, only by the next full poll.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
enter_netns "$@"
setup_tmp

# The listeners exist before the daemon starts (full polls find them; fast
# polls only read what they found). 8443: backlog 4 (capacity 5); 8444:
# two SO_REUSEPORT members, backlogs 2 and 64; 8445: backlog 1, full.
mkfifo "$TEST_TMP/drv.in"
"$PYTHON" -c '
import socket, subprocess, sys, time
def listener(port, backlog, reuseport=False):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", port)); s.listen(backlog); return s
def connect(port):
    c = socket.socket(); c.setblocking(False); c.connect_ex(("127.0.0.1", port)); return c
def depth(backlog, port):
    out = subprocess.run(["ss", "-ltnH", "sport = :%d" % port], capture_output=True, text=True).stdout
    for line in out.splitlines():
        f = line.split()
        if int(f[2]) == backlog:
            return int(f[1])
    return -1
log = sys.argv[1]
def wait_for(text, since):
    # Polls the daemon log for text after offset since; the time it took.
    t0 = time.monotonic()
    while time.monotonic() - t0 < 10:
        data = open(log).read()
        if text in data[since:]:
            return time.monotonic() - t0
        time.sleep(0.005)
    return -1
a, c = listener(8443, 4), listener(8445, 1)
r1, r2 = listener(8444, 2, True), listener(8444, 64, True)
clients = [socket.create_connection(("127.0.0.1", 8445)) for _ in range(2)]
print("ready", flush=True)
for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "fill8443":
        since = len(open(log).read())
        clients += [socket.create_connection(("127.0.0.1", 8443)) for _ in range(5)]
        print("alert8443 %d" % (wait_for("full: Listen queue of 127.0.0.1:8443", since) * 1000), flush=True)
    elif cmd[0] == "fill8444":
        since = len(open(log).read())
        n = 0
        while depth(2, 8444) < 3 and n < 60:
            clients.append(connect(8444)); n += 1; time.sleep(0.01)
        print("alert8444 %d %d %d" % (wait_for("full: Listen queue of 127.0.0.1:8444", since) * 1000,
              depth(2, 8444), depth(64, 8444)), flush=True)
    elif cmd[0] == "close8445":
        c.close(); print("closed", flush=True)
' "$TEST_TMP/daemon.err" <"$TEST_TMP/drv.in" >"$TEST_TMP/drv.out" 2>&1 &
DRV=$!
TEST_PIDS+=("$DRV")
exec {DRV_FD}>"$TEST_TMP/drv.in"
wait_lines "$TEST_TMP/drv.out" '^ready$' 1 15 "$DRV"

cat >"$TEST_TMP/c.conf" <<'CONF'
interval = 5;
watch = (
        { port = 8443; interval = 0.05; },
        { port = 8444; interval = 0.05; },
        { port = 8445; interval = 0.05; },
        { port = 9000; }
);
CONF
: >"$TEST_TMP/daemon.err"
"$BACKLOGD" -c "$TEST_TMP/c.conf" --log-target=console --debug 2>>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
wait_lines "$TEST_TMP/daemon.err" '^backlogd started' 1 10 "$DAEMON"
check "first full poll" "$(grep -m1 '^Dumped ' "$TEST_TMP/daemon.err")" "Dumped 4 listeners."
check "8445 raised by the full poll" "$(grep -c '^full: Listen queue of 127.0.0.1:8445' "$TEST_TMP/daemon.err")" 1
wait_lines "$TEST_TMP/daemon.err" '^Looked up ' 1 5 "$DAEMON"
# Each fast poll looks up 8443 and 8445; the group on 8444 is dumped.
check "fast poll lookups" "$(grep -m1 '^Looked up ' "$TEST_TMP/daemon.err")" \
        "Looked up 2 listeners: 2 found, 0 left to the next full poll."
check "SO_REUSEPORT fallback" "$(grep -m1 '^Read .*SO_REUSEPORT' "$TEST_TMP/daemon.err")" \
        "Read 2 SO_REUSEPORT listeners with a port-filtered dump of port 8444 (exact lookups cannot address a group's members): 2 found."

# Right after the second full poll (t = 5 s), so that the next is 5 s away.
wait_lines "$TEST_TMP/daemon.err" '^Dumped ' 2 10 "$DAEMON"
dumps=$(grep -c '^Dumped ' "$TEST_TMP/daemon.err")
echo fill8443 >&"$DRV_FD"
wait_lines "$TEST_TMP/drv.out" '^alert8443 ' 1 15 "$DRV"
ms=$(awk '/^alert8443 / { print $2 }' "$TEST_TMP/drv.out")
note "8443 filled; reported after $ms ms"
check "8443 reported by a fast poll, well before the next full poll" \
        "$([ "$ms" -ge 0 ] && [ "$ms" -lt 1000 ] && echo yes)" yes
check "no dump between the fill and the alert" "$(grep -c '^Dumped ' "$TEST_TMP/daemon.err")" "$dumps"
read -r ss_depth ss_backlog < <(ss -ltnH 'sport = :8443' | awk '{ print $2, $3 }')
line=$(grep -m1 '^full: Listen queue of 127.0.0.1:8443' "$TEST_TMP/daemon.err")
note "$line"
check "depth and capacity as ss shows" "$(echo "$line" | grep -oE '[0-9]+ of [0-9]+ connections')" \
        "$ss_depth of $((ss_backlog + 1)) connections"
check "ss depth" "$ss_depth" 5
check "backlog as ss shows" "$(echo "$line" | grep -oE 'backlog \(now [0-9]+\)')" "backlog (now $ss_backlog)"

# The SO_REUSEPORT member of backlog 2 fills (the kernel's hash spreads the
# clients over both members); only it is full.
dumps=$(grep -c '^Dumped ' "$TEST_TMP/daemon.err")
echo fill8444 >&"$DRV_FD"
wait_lines "$TEST_TMP/drv.out" '^alert8444 ' 1 20 "$DRV"
read -r _ ms d2 d64 < <(grep '^alert8444 ' "$TEST_TMP/drv.out")
note "8444 member (backlog 2) at $d2, the other at $d64; reported after $ms ms"
line=$(grep '^full: Listen queue of 127.0.0.1:8444' "$TEST_TMP/daemon.err" | head -n 1)
note "$line"
check "8444 member reported by a fast poll" "$([ "$ms" -ge 0 ] && [ "$ms" -lt 1000 ] && echo yes)" yes
check "the full member's numbers" "$(echo "$line" | grep -oE '[0-9]+ of [0-9]+ connections')" "3 of 3 connections"
check "one 8444 member full" "$(grep -c '^full: Listen queue of 127.0.0.1:8444' "$TEST_TMP/daemon.err")" 1
fulldumps=$(grep -c '^Dumped ' "$TEST_TMP/daemon.err")
[ "$fulldumps" -eq "$dumps" ] || note "a full poll ran meanwhile ($dumps -> $fulldumps dumps)"

# 8445 (raised since the first poll) closes between full polls.
wait_lines "$TEST_TMP/daemon.err" '^Dumped ' $((fulldumps + 1)) 10 "$DAEMON"
echo close8445 >&"$DRV_FD"
wait_lines "$TEST_TMP/drv.out" '^closed$' 1 5 "$DRV"
closed_at=$(wc -l <"$TEST_TMP/daemon.err")
wait_lines "$TEST_TMP/daemon.err" '^Looked up 2 listeners: 1 found, 1 left to the next full poll\.$' 1 5 "$DAEMON"
check "no gone from fast polls" "$(tail -n +"$closed_at" "$TEST_TMP/daemon.err" | grep -c '^gone: ')" 0
wait_lines "$TEST_TMP/daemon.err" '^gone: ' 1 10 "$DAEMON"
after=$(tail -n +"$closed_at" "$TEST_TMP/daemon.err")
check "gone after the next full poll" \
        "$(echo "$after" | grep -E '^(Dumped |gone: )' | head -n 2 | cut -c1-6 | tr '\n' ' ')" "Dumped gone:  "
check "gone names 8445" "$(echo "$after" | grep -c '^gone: .*127.0.0.1:8445')" 1

kill -TERM "$DAEMON"
wait "$DAEMON"
check "exit status" "$?" 0
finish
