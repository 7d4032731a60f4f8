#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Listeners bound to a device (SO_BINDTODEVICE) are named with it, in their
# own network namespace: `--once --netns` shows another namespace's device
# names (whose indexes mean nothing, or something else, here), and an alert
# about one of two listeners on the same address:port bound to different
# devices says which (in the sentence and BACKLOGD_INTERFACE).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
enter_netns "$@"
setup_tmp

# Another namespace, as `ip netns add` makes it, in a private /run/netns.
mount -t tmpfs tmpfs /run || fail "cannot mount a private /run"
ip netns add web1 || fail "ip netns add"
ip -n web1 link set lo up
ip -n web1 link add d0 type veth peer name d1 || fail "veth devices"
ip -n web1 link set d0 up && ip -n web1 link set d1 up
d0=$(ip -n web1 -o link show d0 | cut -d: -f1)
note "web1: d0 is index $d0; here: $(ip -o link show | cut -d: -f2 | tr -d ' ' | tr '\n' ' ')"

listen_bound='
import socket, sys, time
socks = []
for dev in sys.argv[1:]:
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
    s.bind(("0.0.0.0", 8080)); s.listen(5); socks.append(s)
print("ready", flush=True)
time.sleep(60)'
ip netns exec web1 "$PYTHON" -c "$listen_bound" d0 d1 >"$TEST_TMP/web1.out" 2>&1 &
TEST_PIDS+=("$!")
wait_lines "$TEST_TMP/web1.out" '^ready$' 1 10 "$!"

run_backlogd "$TEST_TMP/once.json" --once --json --port 8080 --netns /run/netns/web1
check "web1: two listeners" "$(json_get "$TEST_TMP/once.json" 'len(j["listeners"])')" 2
check "web1: named in their namespace" \
        "$(json_get "$TEST_TMP/once.json" '" ".join(sorted(l["interface"] for l in j["listeners"]))')" "d0 d1"
check "web1: ifindex" "$(json_get "$TEST_TMP/once.json" \
        '[l["ifindex"] for l in j["listeners"] if l["interface"] == "d0"][0]')" "$d0"
run_backlogd "$TEST_TMP/once.txt" --once --port 8080 --netns /run/netns/web1
check "table: endpoints" "$(awk 'NR > 1 && /8080/ { print $1 }' "$TEST_TMP/once.txt" | sort | tr '\n' ' ')" \
        "*%d0:8080 *%d1:8080 "

# Here: 127.0.0.1:8080 twice, bound to lo (filled: backlog 0, one client)
# and to d2 (empty). The alert names the full one's device.
{ ip link add d2 type veth peer name d3 && ip link set d2 up; } || fail "veth devices"
"$PYTHON" -c '
import socket, time
a = socket.socket(); a.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"lo")
a.bind(("127.0.0.1", 8080)); a.listen(0)
b = socket.socket(); b.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"d2")
b.bind(("127.0.0.1", 8080)); b.listen(0)
c = socket.create_connection(("127.0.0.1", 8080))
print("ready", flush=True)
time.sleep(60)' >"$TEST_TMP/here.out" 2>&1 &
TEST_PIDS+=("$!")
wait_lines "$TEST_TMP/here.out" '^ready$' 1 10 "$!"
printf 'interval = 0.1;\nwatch = ( { port = 8080; } );\n' >"$TEST_TMP/c.conf"
"$BACKLOGD" -c "$TEST_TMP/c.conf" --log-target=console 2>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
wait_lines "$TEST_TMP/daemon.err" '^full: ' 1 10 "$DAEMON"
check "full names the device" "$(grep '^full: ' "$TEST_TMP/daemon.err" | head -n 1 | cut -d' ' -f1-6)" \
        "full: Listen queue of 127.0.0.1%lo:8080 of"
check "one alert" "$(grep -c '^full: ' "$TEST_TMP/daemon.err")" 1
kill -TERM "$DAEMON"
wait "$DAEMON"
check "exit status" "$?" 0
ip netns delete web1
finish
