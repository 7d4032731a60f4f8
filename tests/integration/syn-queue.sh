#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Half-open connections show in syn_depth and raise syn_high: a listener
# with TCP_DEFER_ACCEPT whose clients send nothing keeps them as request
# sockets (SYN_RECV). --once counts them exactly as ss does; the daemon,
# counting SYN queues every second here, raises syn_high and, when they go,
# syn_cleared.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
enter_netns "$@"
setup_tmp

# backlog 4 (capacity 5), 4 silent clients: 80 % of the SYN queue.
mkfifo "$TEST_TMP/srv.in"
python3 -c '
import socket, struct, sys, time
s = socket.socket(); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 30)
s.bind(("127.0.0.1", 8443)); s.listen(4)
c = []
for _ in range(4):
    x = socket.socket(); x.connect(("127.0.0.1", 8443)); c.append(x)
print("ready", flush=True)
sys.stdin.readline()                 # "close": the clients reset
for x in c:
    x.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); x.close()
print("closed", flush=True)
sys.stdin.readline()' <"$TEST_TMP/srv.in" >"$TEST_TMP/srv.out" 2>&1 &
SRV=$!
TEST_PIDS+=("$SRV")
exec {SRV_FD}>"$TEST_TMP/srv.in"
wait_lines "$TEST_TMP/srv.out" '^ready$' 1 10 "$SRV"

ss_syn=$(ss -tnH state syn-recv '( sport = :8443 )' | wc -l)
check "ss: half-open connections" "$ss_syn" 4
run_backlogd "$TEST_TMP/once.json" --once --json --port 8443
check "--once: syn_depth" "$(json_get "$TEST_TMP/once.json" 'j["listeners"][0]["syn_depth"]')" 4
check "--once: accept queue" "$(json_get "$TEST_TMP/once.json" 'j["listeners"][0]["depth"]')" 0

printf 'interval = 0.2;\nsyn_interval = 1;\nwatch = ( { port = 8443; name = "tls"; } );\n' >"$TEST_TMP/c.conf"
"$BACKLOGD" -c "$TEST_TMP/c.conf" --log-target=console 2>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
wait_lines "$TEST_TMP/daemon.err" '^syn_high: ' 1 10 "$DAEMON"
check "syn_high message" "$(grep '^syn_high: ' "$TEST_TMP/daemon.err" | head -n 1 | cut -d. -f1-4)" \
        "syn_high: SYN queue of 127.0.0.1:8443 (tls) is filling up: 4 half-open connections for a capacity of 5, the next ones may be dropped"

echo close >&"$SRV_FD"
wait_lines "$TEST_TMP/srv.out" '^closed$' 1 10 "$SRV"
wait_lines "$TEST_TMP/daemon.err" '^syn_cleared: ' 1 10 "$DAEMON"
check "syn_cleared message" "$(grep '^syn_cleared: ' "$TEST_TMP/daemon.err" | head -n 1)" \
        "syn_cleared: SYN queue of 127.0.0.1:8443 (tls) has drained to 0 half-open connections; alert cleared."
check "no accept-queue alert" "$(grep -cE '^(high|full): ' "$TEST_TMP/daemon.err")" 0
kill -TERM "$DAEMON"
wait "$DAEMON"
check "exit status" "$?" 0
finish
