#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Running out of file descriptors is not a namespace going away: with a low
# `ulimit -n`, namespaces that appear and cannot be opened are reported once
# each ("Too many open files"), while the namespaces already watched stay
# watched: no "is gone", no `gone` for their raised listeners and no second
# `full` for them, however many rescans (one a second) fail.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
enter_netns "$@"
setup_tmp

mount -t tmpfs -o mode=0755 tmpfs /run || fail "cannot mount a private /run"
mkdir -p /run/netns
trap 'cleanup; for n in $(ls /run/netns); do ip netns delete "$n" 2>/dev/null; done' EXIT

full_listener='
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 8080)); s.listen(0)
c = socket.create_connection(("127.0.0.1", 8080))
print("ready", flush=True)
time.sleep(60)'
for n in web1 web2 web3; do
        { ip netns add "$n" && ip -n "$n" link set lo up; } || fail "ip netns add $n"
        ip netns exec "$n" "$PYTHON" -c "$full_listener" >"$TEST_TMP/$n.out" 2>&1 &
        TEST_PIDS+=("$!")
        wait_lines "$TEST_TMP/$n.out" '^ready$' 1 10 "$!"
done

printf 'interval = 0.1;\nhost = false;\nnamespaces = [ "/run/netns/*" ];\n' >"$TEST_TMP/c.conf"
# 3 namespaces take 3 descriptors each; 24 leaves no room for 5 more.
(ulimit -n 24 && exec "$BACKLOGD" -c "$TEST_TMP/c.conf" --log-target=console) 2>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
wait_lines "$TEST_TMP/daemon.err" '^full: ' 3 10 "$DAEMON"

for n in web4 web5 web6 web7 web8; do
        ip netns add "$n" || fail "ip netns add $n"
done
sleep 4 # four rescans
note "$(grep -c 'Too many open files' "$TEST_TMP/daemon.err") EMFILE line(s)"
check "EMFILE was met" "$([ "$(grep -c 'Too many open files' "$TEST_TMP/daemon.err")" -ge 1 ] && echo yes)" yes
check "each failure is said once, not at every rescan" \
        "$(grep 'Too many open files' "$TEST_TMP/daemon.err" | sort | uniq -d | wc -l)" 0
check "no watched namespace taken for gone" "$(grep -cE 'is gone|not in .namespaces. any more' "$TEST_TMP/daemon.err")" 0
check "no gone event" "$(grep -c '^gone: ' "$TEST_TMP/daemon.err")" 0
check "one full alert per namespace" "$(grep -c '^full: ' "$TEST_TMP/daemon.err")" 3
check "alive" "$(kill -0 "$DAEMON" && echo yes)" yes
kill -TERM "$DAEMON"
wait "$DAEMON"
check "exit status" "$?" 0
finish
