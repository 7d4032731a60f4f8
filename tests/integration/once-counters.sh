#!/bin/bash
# SPDX-License-Identifier: MIT
# Host counters: provoke accept-queue overflows (full listeners, clients held
# pending for over 2 s so SYN retransmissions count too), close the pending
# clients, and then ListenOverflows and ListenDrops in
# `backlogd --once --json` must be > 0 and equal to `nstat -az` in the same
# (fresh) namespace, and to the sum of the listeners' own drop counts.
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"

require_root
require_tools
enter_netns "$@"
setup_tmp

# nstat keeps a history file: point it at our own and never update it (-s);
# -a prints absolute values, -z zeros too.
export NSTAT_HISTORY=$TEST_TMP/nstat.history
nstat_value() {
        "$PYTHON" -c '
import json, sys
print(json.load(sys.stdin)["kernel"][sys.argv[1]])
' "$1" <"$TEST_TMP/nstat.json" || fail "no $1 in nstat output"
}

# These sysctls belong to the network namespace: values no kernel defaults
# to prove they are read from this one, not assumed.
{ echo 1234 >/proc/sys/net/core/somaxconn &&
        echo 777 >/proc/sys/net/ipv4/tcp_max_syn_backlog &&
        echo 4 >/proc/sys/net/ipv4/tcp_synack_retries; } ||
        fail "cannot set the namespace's sysctls"

out=$TEST_TMP/before.json
run_backlogd "$out" --once --json
check "ListenOverflows in a fresh namespace" "$(json_get "$out" 'j["counters"]["ListenOverflows"]')" 0
check "ListenDrops in a fresh namespace" "$(json_get "$out" 'j["counters"]["ListenDrops"]')" 0
check "sysctls of this namespace" \
        "$(json_get "$out" '" ".join(str(j["sysctl"][k]) for k in ("net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog", "net.ipv4.tcp_syncookies", "net.ipv4.tcp_abort_on_overflow", "net.ipv4.tcp_synack_retries"))')" \
        "1234 777 $(cat /proc/sys/net/ipv4/tcp_syncookies) 0 4"

qfill_start q "127.0.0.1:8200:1:c=4" "[::1]:8201:0:c=3" "[::]:8202:2:c=5:to=127.0.0.1"
pending=$(awk '$1 == "listener" { s += $8 } END { print s }' "$TEST_TMP/q.out")
check "pending clients" "$pending" 6
sleep 2.2
qfill_cmd q close-pending '^closed 6$'
sleep 0.3

out=$TEST_TMP/after.json
run_backlogd "$out" --once --json
nstat -azs --json TcpExtListenOverflows TcpExtListenDrops >"$TEST_TMP/nstat.json" ||
        fail "nstat failed"
echo "--- nstat: $(cat "$TEST_TMP/nstat.json")"
echo "--- backlogd counters: $(json_get "$out" 'j["counters"]')"
[ ! -e "$NSTAT_HISTORY" ] || fail "nstat -s wrote a history file"

ov=$(json_get "$out" 'j["counters"]["ListenOverflows"]')
dr=$(json_get "$out" 'j["counters"]["ListenDrops"]')
check "ListenOverflows (nstat)" "$ov" "$(nstat_value TcpExtListenOverflows)"
check "ListenDrops (nstat)" "$dr" "$(nstat_value TcpExtListenDrops)"
check "ListenOverflows counts every SYN and retransmission (> pending $pending)" \
        "$([ "$ov" -gt "$pending" ] && echo yes || echo "no ($ov)")" yes
check "ListenDrops > 0" "$([ "$dr" -gt 0 ] && echo yes || echo "no ($dr)")" yes
check "sum of the listeners' drops = ListenDrops" \
        "$(json_get "$out" 'sum(l["drops"] for l in j["listeners"])')" "$dr"
check "sum of the listeners' drops (ss) = ListenDrops" \
        "$(ss -ltnmH | grep -oE 'd[0-9]+\)' | tr -dc '0-9\n' | awk '{ s += $1 } END { print s }')" "$dr"

# Settled: a second look a moment later shows the same numbers.
sleep 0.5
again=$TEST_TMP/again.json
run_backlogd "$again" --once --json
check "ListenOverflows stable" "$(json_get "$again" 'j["counters"]["ListenOverflows"]')" "$ov"
check "ListenDrops stable" "$(json_get "$again" 'j["counters"]["ListenDrops"]')" "$dr"
finish
