#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# BACKLOGD_CAUSE against the real kernel: each scenario makes a listener drop
# for one reason, in a network namespace of its own (fresh counters), with a
# daemon of its own writing to a private journald:
#   accept_queue  a full accept queue (SYNs dropped, ListenOverflows)
#   syn_queue     a full SYN queue, net.ipv4.tcp_syncookies = 0
#                 (TCPReqQFullDrop)
#   syn_flood     the same with tcp_syncookies = 1 (TCPReqQFullDoCookies:
#                 cookies sent, nothing dropped)
#   defer_accept  TCP_DEFER_ACCEPT and clients that send nothing
#                 (TCPDeferAcceptDrop: the listener's drops rise, ListenDrops
#                 does not; a FIN, taken as data, then ends them without
#                 a drop)
# Every drops and counter entry must carry the scenario's cause and no
# other, and what the daemon reported in all (summed over its entries, up
# to the flush at SIGTERM) must equal the kernel's counts: nstat's in that
# namespace, and the listener's own drop count (ss d<N>).
#
# To fill a SYN queue the clients' final ACK must never come: SYNs are sent
# from a raw socket with source addresses of a /24 routed into a veth pair
# (ARP off) whose other end drops them as martians, so the SYN-ACKs go
# nowhere and no RST comes back. Needs iproute2, python3 and CAP_NET_RAW.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
command -v nsenter >/dev/null || fail "missing tool: nsenter"
enter_netns "$@"
setup_tmp
# shellcheck source=lib-journald.sh
. "$(dirname "$0")/lib-journald.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
TRAFFIC=$SRC/tests/helpers/cause-traffic.py
LIFECYCLE=0565ceedc5744a2db6570af63dd3d8d5
export NSTAT_HISTORY=$TEST_TMP/nstat.history

journald_start || fail "cannot start a private journald"
trap 'cleanup; journald_stop' EXIT

printf 'interval = 0.1;\nwatch = ( { port = 8400; }, { port = 8401; }, { port = 8402; }, { port = 8403; } );\n' \
        >"$TEST_TMP/backlogd.conf"

# ns_new: a network namespace held by a sleeping process (NS_PID), lo up.
ns_new() {
        local i here
        here=$(readlink /proc/self/ns/net)
        unshare --net -- sleep 300 &
        NS_PID=$!
        TEST_PIDS+=("$NS_PID")
        for ((i = 0; i < 100; i++)); do
                [ "$(readlink "/proc/$NS_PID/ns/net" 2>/dev/null)" != "$here" ] && break
                sleep 0.05
        done
        [ "$(readlink "/proc/$NS_PID/ns/net")" != "$here" ] || fail "no namespace of its own for the scenario"
        in_ns ip link set lo up || fail "cannot bring lo up"
}

in_ns() {
        nsenter --net="/proc/$NS_PID/ns/net" -- "$@"
}

# daemon_start: backlogd in the scenario's namespace (DAEMON), after its
# first poll: every counter's baseline is read before any traffic.
daemon_start() {
        local n
        n=$(journal_count backlogd MESSAGE_ID=$LIFECYCLE)
        # nsenter itself, not in_ns: $! must be the daemon (nsenter execs it).
        nsenter --net="/proc/$NS_PID/ns/net" -- "$BACKLOGD" -c "$TEST_TMP/backlogd.conf" --log-target=journal \
                2>"$TEST_TMP/daemon.err" &
        DAEMON=$!
        TEST_PIDS+=("$DAEMON")
        journal_wait $((n + 1)) backlogd MESSAGE_ID=$LIFECYCLE
        check "the daemon's pid ($DAEMON) is the one writing" \
                "$(journal_count backlogd MESSAGE_ID=$LIFECYCLE _PID="$DAEMON")" 1
}

daemon_stop() {
        kill -TERM "$DAEMON"
        wait "$DAEMON"
        check "$1: exit status" "$?" 0
        check "$1: daemon stderr" "$(cat "$TEST_TMP/daemon.err")" ""
}

# traffic_start NAME ARGS...: the helper in the namespace, its stdin on a
# FIFO held open (TRAFFIC_FD); waits for "ready".
traffic_start() {
        local name=$1 pid
        shift
        mkfifo "$TEST_TMP/$name.in"
        nsenter --net="/proc/$NS_PID/ns/net" -- "$PYTHON" "$TRAFFIC" "$@" <"$TEST_TMP/$name.in" \
                >"$TEST_TMP/$name.out" 2>&1 &
        pid=$!
        TEST_PIDS+=("$pid")
        exec {TRAFFIC_FD}>"$TEST_TMP/$name.in"
        wait_lines "$TEST_TMP/$name.out" '^ready$' 1 15 "$pid"
}

traffic_close() {
        echo close >&"$TRAFFIC_FD"
        wait_lines "$TEST_TMP/$1.out" '^closed$' 1 15
}

# The daemon's entries (this scenario's: its pid).
sum_field() {
        local f=$1
        shift
        journal_field backlogd "$f" _PID="$DAEMON" "$@" | awk '{ s += $1 } END { print s + 0 }'
}
causes() {
        journal_field backlogd BACKLOGD_CAUSE _PID="$DAEMON" "$@" | sort -u | tr '\n' ' ' | sed 's/ $//'
}
entries() {
        journal_count backlogd _PID="$DAEMON" "$@"
}

# nstat_read: the namespace's counters now (absolute: it starts at zero).
nstat_read() {
        in_ns nstat -azs --json >"$TEST_TMP/nstat.json" || fail "nstat failed"
}
nstat_value() {
        "$PYTHON" -c '
import json, sys
print(json.load(sys.stdin)["kernel"]["TcpExt" + sys.argv[1]])
' "$1" <"$TEST_TMP/nstat.json" || fail "no $1 in nstat output"
}

# ss_listener_drops PORT: the listener's own drop count (d<N>).
ss_listener_drops() {
        in_ns ss -ltnmH "( sport = :$1 )" | tr -d '\n' | grep -oE '\bd[0-9]+\)' | tr -dc 0-9
}

# The sentence of the daemon's first drops entry, without what varies with
# timing: the owner, the count and period ("dropped N"), the clients' wait.
drops_sentence() {
        journal_field backlogd MESSAGE _PID="$DAEMON" BACKLOGD_EVENT=drops | head -n 1 |
                sed -E 's/ of [^ ]+, pid [0-9]+ dropped/ dropped/
                        s/dropped [0-9]+ connection attempts? (since the previous poll|in the last [0-9]+ s)/dropped N/
                        s/; clients have waited up to [0-9.]+ s[^)]*//'
}

# The daemon's counter entries for COUNTER: their sum, or 0.
reported() {
        sum_field BACKLOGD_INCREASE BACKLOGD_COUNTER="$1"
}

# ---- 1. accept_queue: backlog 1 (capacity 2) filled, 2 more clients -------
ns_new
daemon_start
traffic_start accept accept 8400 1 2
journal_wait 1 backlogd _PID="$DAEMON" BACKLOGD_EVENT=drops
journal_wait 1 backlogd _PID="$DAEMON" BACKLOGD_COUNTER=ListenOverflows
journal_wait 1 backlogd _PID="$DAEMON" BACKLOGD_COUNTER=ListenDrops
check "accept: first drops entry's cause" \
        "$(journal_field backlogd BACKLOGD_CAUSE _PID="$DAEMON" BACKLOGD_EVENT=drops | head -n 1)" accept_queue
check "accept: its sentence" \
        "$(drops_sentence)" \
        "127.0.0.1:8400 dropped N (queue 2 of 2): its accept queue overflowed. Raise the application's listen backlog (now 1) or make it accept connections faster."
# Let a retransmitted SYN be dropped too (1 s), then stop the drops.
sleep 1.2
traffic_close accept
sleep 0.5
nstat_read
d=$(ss_listener_drops 8400)
daemon_stop accept
check "accept: causes of drops entries" "$(causes BACKLOGD_EVENT=drops)" accept_queue
check "accept: causes of ListenOverflows entries" "$(causes BACKLOGD_COUNTER=ListenOverflows)" accept_queue
check "accept: causes of ListenDrops entries" "$(causes BACKLOGD_COUNTER=ListenDrops)" accept_queue
check "accept: other counters' entries" \
        "$(entries BACKLOGD_COUNTER=TCPReqQFullDrop)/$(entries BACKLOGD_COUNTER=TCPReqQFullDoCookies)" 0/0
lo=$(nstat_value ListenOverflows)
check "accept: ListenOverflows dropped the 2 clients' SYNs and a retransmission (>= 4)" \
        "$([ "$lo" -ge 4 ] && echo yes)" yes
check "accept: ListenOverflows reported = nstat" "$(reported ListenOverflows)" "$lo"
check "accept: ListenDrops reported = nstat" "$(reported ListenDrops)" "$(nstat_value ListenDrops)"
check "accept: drops reported = ss d<N>" "$(sum_field BACKLOGD_DROPS BACKLOGD_EVENT=drops)" "$d"
check "accept: ss d<N> = ListenDrops" "$d" "$(nstat_value ListenDrops)"
check "accept: nstat TCPReqQFullDrop/TCPReqQFullDoCookies/TCPDeferAcceptDrop" \
        "$(nstat_value TCPReqQFullDrop)/$(nstat_value TCPReqQFullDoCookies)/$(nstat_value TCPDeferAcceptDrop)" 0/0/0
note "accept: ListenOverflows $lo, ListenDrops $(nstat_value ListenDrops), listener d$d"

# ---- 2 and 3. a full SYN queue, without and with SYN cookies ---------------
# 9 SYNs to backlog 4: 5 wait in the SYN queue, 4 find it full.
syn_scenario() {
        local cookies=$1 port=$2 name=$3
        ns_new
        in_ns ip link add v0 type veth peer name v1 || fail "cannot make a veth pair"
        in_ns ip link set v0 arp off
        in_ns ip link set v0 up
        in_ns ip link set v1 up
        in_ns ip addr add 10.9.9.254/24 dev v0 || fail "cannot address v0"
        in_ns sysctl -qw net.ipv4.tcp_syncookies="$cookies" || fail "cannot set tcp_syncookies"
        daemon_start
        traffic_start "$name" syn 10.9.9.254 "$port" 4 9
        check "$name: half-open connections (ss)" \
                "$(in_ns ss -tnH state syn-recv "( sport = :$port )" | wc -l)" 5
}

syn_scenario 0 8401 synq
journal_wait 1 backlogd _PID="$DAEMON" BACKLOGD_EVENT=drops
journal_wait 1 backlogd _PID="$DAEMON" BACKLOGD_COUNTER=TCPReqQFullDrop
journal_wait 1 backlogd _PID="$DAEMON" BACKLOGD_COUNTER=ListenDrops
check "syn_queue: its sentence" \
        "$(drops_sentence)" \
        "10.9.9.254:8401 dropped N (queue 0 of 5): its SYN queue overflowed and SYN cookies are off. Raise the listen backlog and net.ipv4.tcp_max_syn_backlog, or turn net.ipv4.tcp_syncookies on."
sleep 0.3
nstat_read
d=$(ss_listener_drops 8401)
daemon_stop syn_queue
check "syn_queue: causes of drops entries" "$(causes BACKLOGD_EVENT=drops)" syn_queue
check "syn_queue: causes of TCPReqQFullDrop entries" "$(causes BACKLOGD_COUNTER=TCPReqQFullDrop)" syn_queue
check "syn_queue: causes of ListenDrops entries" "$(causes BACKLOGD_COUNTER=ListenDrops)" syn_queue
check "syn_queue: other counters' entries" \
        "$(entries BACKLOGD_COUNTER=ListenOverflows)/$(entries BACKLOGD_COUNTER=TCPReqQFullDoCookies)" 0/0
check "syn_queue: nstat TCPReqQFullDrop" "$(nstat_value TCPReqQFullDrop)" 4
check "syn_queue: nstat ListenDrops" "$(nstat_value ListenDrops)" 4
check "syn_queue: ss d<N>" "$d" 4
check "syn_queue: TCPReqQFullDrop reported" "$(reported TCPReqQFullDrop)" 4
check "syn_queue: ListenDrops reported" "$(reported ListenDrops)" 4
check "syn_queue: drops reported" "$(sum_field BACKLOGD_DROPS BACKLOGD_EVENT=drops)" 4
check "syn_queue: nstat ListenOverflows/TCPReqQFullDoCookies/SyncookiesSent" \
        "$(nstat_value ListenOverflows)/$(nstat_value TCPReqQFullDoCookies)/$(nstat_value SyncookiesSent)" 0/0/0

syn_scenario 1 8402 synflood
journal_wait 1 backlogd _PID="$DAEMON" BACKLOGD_COUNTER=TCPReqQFullDoCookies
check "syn_flood: its sentence" \
        "$(journal_field backlogd MESSAGE _PID="$DAEMON" BACKLOGD_COUNTER=TCPReqQFullDoCookies | head -n 1 |
                sed -E 's/rose by [0-9]+ (since the previous poll|in the last [0-9]+ s)/rose by N/')" \
        "Host counter TCPReqQFullDoCookies rose by N: a SYN queue was full and SYN cookies were sent instead. An attack or a burst that SYN cookies are coping with: connections still get through; look for a SYN flood if it lasts."
check "syn_flood: its priority" \
        "$(journal_field backlogd PRIORITY _PID="$DAEMON" BACKLOGD_COUNTER=TCPReqQFullDoCookies | head -n 1)" 4
sleep 0.3
nstat_read
d=$(ss_listener_drops 8402)
daemon_stop syn_flood
check "syn_flood: causes of TCPReqQFullDoCookies entries" "$(causes BACKLOGD_COUNTER=TCPReqQFullDoCookies)" syn_flood
check "syn_flood: TCPReqQFullDoCookies reported" "$(reported TCPReqQFullDoCookies)" 4
check "syn_flood: nstat TCPReqQFullDoCookies/SyncookiesSent" \
        "$(nstat_value TCPReqQFullDoCookies)/$(nstat_value SyncookiesSent)" 4/4
check "syn_flood: nothing dropped (ss d<N>, ListenDrops, TCPReqQFullDrop)" \
        "$d/$(nstat_value ListenDrops)/$(nstat_value TCPReqQFullDrop)" 0/0/0
check "syn_flood: drops and other counters' entries" \
        "$(entries BACKLOGD_EVENT=drops)/$(entries BACKLOGD_COUNTER=ListenDrops)/$(entries BACKLOGD_COUNTER=TCPReqQFullDrop)/$(entries BACKLOGD_COUNTER=ListenOverflows)" \
        0/0/0/0

# ---- 4. defer_accept: 3 clients that connect and say nothing --------------
ns_new
daemon_start
traffic_start defer defer 8403 3
journal_wait 1 backlogd _PID="$DAEMON" BACKLOGD_EVENT=drops
check "defer_accept: first drops entry's cause" \
        "$(journal_field backlogd BACKLOGD_CAUSE _PID="$DAEMON" BACKLOGD_EVENT=drops | head -n 1)" defer_accept
check "defer_accept: its sentence" \
        "$(drops_sentence)" \
        "127.0.0.1:8403 dropped N (queue 0 of 17): TCP_DEFER_ACCEPT dropped the handshake ACKs of clients that sent no data. These are clients that connect and say nothing (idle pools, health checks, scanners): they wait half open until they send data or the TCP_DEFER_ACCEPT time runs out."
# No SYN-ACK is sent again before the deferring period (30 s) ends, so
# each client's ACK is dropped once.
sleep 0.3
traffic_close defer
sleep 0.5
nstat_read
d=$(ss_listener_drops 8403)
daemon_stop defer_accept
dad=$(nstat_value TCPDeferAcceptDrop)
check "defer_accept: causes of drops entries" "$(causes BACKLOGD_EVENT=drops)" defer_accept
check "defer_accept: counter entries" "$(entries BACKLOGD_EVENT=counter)" 0
check "defer_accept: nstat TCPDeferAcceptDrop (the 3 clients' ACKs)" "$dad" 3
check "defer_accept: ss d<N> = TCPDeferAcceptDrop" "$d" "$dad"
check "defer_accept: drops reported = ss d<N>" "$(sum_field BACKLOGD_DROPS BACKLOGD_EVENT=drops)" "$d"
check "defer_accept: nstat ListenDrops/ListenOverflows/TCPReqQFullDrop" \
        "$(nstat_value ListenDrops)/$(nstat_value ListenOverflows)/$(nstat_value TCPReqQFullDrop)" 0/0/0
note "defer_accept: TCPDeferAcceptDrop $dad, listener d$d"

# The catalog explains the causes (journalctl -x): its words, not the
# sentence's.
journal_catalog "$SRC/systemd/backlogd.catalog" || fail "cannot compile the catalog"
journalctl --sync
explained() {
        journalctl -D "$JOURNAL_DIR" -x --no-pager -q "$1" | grep -c -F -- "$2"
}
check "catalog explains defer_accept on each drops entry" \
        "$(explained BACKLOGD_CAUSE=defer_accept '(idle connection pools, health checks, port scanners)')" \
        "$(journal_count backlogd BACKLOGD_CAUSE=defer_accept)"
check "catalog explains syn_flood on each counter entry" \
        "$(explained BACKLOGD_CAUSE=syn_flood 'were sent instead; nothing was dropped.')" \
        "$(journal_count backlogd BACKLOGD_CAUSE=syn_flood)"
finish
