#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Containers: with `namespaces = [ "/run/netns/*" ]` the daemon picks up two
# network namespaces created by `ip netns add` while it runs, alerts on their
# full queues and their own counters with BACKLOGD_NETNS, writes them to the
# metrics file with their netns label, and drops each namespace when
# `ip netns delete` removes its file, holding nothing of it afterwards. The
# test's own namespace plays the host. --once shows all three. A reload to
# `host = false` drops the host; without CAP_SYS_ADMIN a namespace cannot be
# entered, which is said once.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
command -v nsenter >/dev/null || fail "missing tool: nsenter"
command -v promtool >/dev/null || fail "missing tool: promtool (Debian package prometheus; CI installs it)"
enter_netns "$@"
setup_tmp

# A /run of our own (this is a private mount namespace): ip netns, journald
# and the daemon use it, the machine's /run is never touched.
mount -t tmpfs -o mode=0755 tmpfs /run || fail "cannot mount a private /run"
mkdir -p /run/systemd /run/log /run/netns || fail "mkdir in the private /run"
# shellcheck source=lib-journald.sh
. "$(dirname "$0")/lib-journald.sh"
journald_start || fail "cannot start a private journald"
trap 'cleanup; journald_stop; for n in web1 web2 web3; do ip netns delete $n 2>/dev/null; done' EXIT

mkdir "$TEST_TMP/metrics"
PROM=$TEST_TMP/metrics/backlogd.prom
cat >"$TEST_TMP/backlogd.conf" <<CONF
interval = 0.1;
namespaces = [ "/run/netns/*" ];
metrics_file = "$PROM";
metrics_interval = 0.1;
CONF

# The host: 127.0.0.1:8080, backlog 1, full with 2 connections.
qfill_start host 127.0.0.1:8080:1:c=2

"$BACKLOGD" -c "$TEST_TMP/backlogd.conf" --log-target=journal 2>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")

field() {
        local f=$1
        shift
        journal_field backlogd "$f" "$@" | head -n 1
}

journal_wait 1 backlogd BACKLOGD_EVENT=full BACKLOGD_NETNS=host
check "host: full 8080, netns field" "$(field BACKLOGD_PORT BACKLOGD_EVENT=full BACKLOGD_NETNS=host)" 8080
check "host: the sentence" \
        "$(field MESSAGE BACKLOGD_EVENT=full BACKLOGD_NETNS=host | grep -cE '^Listen queue of 127.0.0.1:8080 (of .*)?is full: 2 of 2 ')" 1
check "host: the sentence names no namespace" \
        "$(field MESSAGE BACKLOGD_EVENT=full BACKLOGD_NETNS=host | grep -c 'namespace')" 0

# Two namespaces appear while the daemon runs.
ip netns add web1 || fail "ip netns add web1"
ip netns add web2 || fail "ip netns add web2"
{ ip -n web1 link set lo up && ip -n web2 link set lo up; } || fail "lo up in the namespaces"
INODE1=$(stat -L -c %i /run/netns/web1)
INODE2=$(stat -L -c %i /run/netns/web2)
journal_wait 1 backlogd MESSAGE="Watching network namespace web1 (/run/netns/web1)."
journal_wait 1 backlogd MESSAGE="Watching network namespace web2 (/run/netns/web2)."

# web1: the same address and port as the host's listener, backlog 1, full.
# web2: 127.0.0.1:9090, backlog 2, full, and 2 more clients whose SYNs are
# dropped: web2's own ListenOverflows rises, the host's does not.
REAL_QFILL=$QFILL
for ns in web1 web2; do
        printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s "%s" "$@"\n' "$ns" "$REAL_QFILL" >"$TEST_TMP/qfill-$ns"
        chmod +x "$TEST_TMP/qfill-$ns"
done
QFILL=$TEST_TMP/qfill-web1 qfill_start web1 127.0.0.1:8080:1:c=2
QFILL=$TEST_TMP/qfill-web2 qfill_start web2 127.0.0.1:9090:2:c=5

journal_wait 1 backlogd BACKLOGD_EVENT=full BACKLOGD_NETNS=web1
check "web1: full on port" "$(field BACKLOGD_PORT BACKLOGD_EVENT=full BACKLOGD_NETNS=web1)" 8080
# The process inside the namespace is found in the daemon's own /proc.
# shellcheck disable=SC2154 # QFILL_PID_web1 is set by qfill_start (printf -v)
check "web1: pid of the listener" "$(field BACKLOGD_PID BACKLOGD_EVENT=full BACKLOGD_NETNS=web1)" "$QFILL_PID_web1"
check "web1: the sentence names the namespace" \
        "$(field MESSAGE BACKLOGD_EVENT=full BACKLOGD_NETNS=web1 | grep -c '^Listen queue of 127.0.0.1:8080 in network namespace web1 .*is full: 2 of 2 ')" 1
journal_wait 1 backlogd BACKLOGD_EVENT=full BACKLOGD_NETNS=web2
check "web2: full on port" "$(field BACKLOGD_PORT BACKLOGD_EVENT=full BACKLOGD_NETNS=web2)" 9090
check "web2: depth" "$(field BACKLOGD_DEPTH BACKLOGD_EVENT=full BACKLOGD_NETNS=web2)" 3
journal_wait 1 backlogd BACKLOGD_EVENT=counter BACKLOGD_NETNS=web2 BACKLOGD_COUNTER=ListenOverflows
check "web2: the counter sentence names the namespace" \
        "$(field MESSAGE BACKLOGD_EVENT=counter BACKLOGD_NETNS=web2 BACKLOGD_COUNTER=ListenOverflows | grep -c 'network namespace web2')" 1
check "host: no counter moved" "$(journal_count backlogd BACKLOGD_EVENT=counter BACKLOGD_NETNS=host)" 0
check "web1: no counter moved" "$(journal_count backlogd BACKLOGD_EVENT=counter BACKLOGD_NETNS=web1)" 0

# The metrics file: one series per namespace, labelled (no name: that
# label is left out, and unit too when unknown).
for ((i = 0; i < 50; i++)); do
        grep -q 'netns="web2"' "$PROM" 2>/dev/null && break
        sleep 0.1
done
promtool check metrics <"$PROM" >"$TEST_TMP/promtool.out" 2>&1
check "promtool check metrics" "$? $(cat "$TEST_TMP/promtool.out")" "0 "
check "metrics: host 8080" \
        "$(grep -cE '^backlogd_listen_queue_depth\{address="127.0.0.1",port="8080",family="inet",netns="host"(,unit="[^"]*")?\} 2$' "$PROM")" 1
check "metrics: web1 8080" \
        "$(grep -cE '^backlogd_listen_queue_depth\{address="127.0.0.1",port="8080",family="inet",netns="web1"(,unit="[^"]*")?\} 2$' "$PROM")" 1
check "metrics: web2 9090" \
        "$(grep -cE '^backlogd_listen_queue_depth\{address="127.0.0.1",port="9090",family="inet",netns="web2"(,unit="[^"]*")?\} 3$' "$PROM")" 1
check "metrics: web2's ListenOverflows is web2's own" \
        "$(awk '/^backlogd_tcpext_total\{counter="ListenOverflows",netns="web2"\}/ { print ($2 > 0) }' "$PROM")" 1
check "metrics: the host's ListenOverflows" \
        "$(awk '/^backlogd_tcpext_total\{counter="ListenOverflows",netns="host"\}/ { print $2 }' "$PROM")" 0

# --once sees the same three listeners, each in its namespace.
run_backlogd "$TEST_TMP/once.json" --once --json -c "$TEST_TMP/backlogd.conf"
check "--once: listeners by namespace" \
        "$(json_get "$TEST_TMP/once.json" 'sorted((l["netns"], l["port"], l["depth"], l["state"]) for l in j["listeners"])')" \
        '[["host", 8080, 2, "full"], ["web1", 8080, 2, "full"], ["web2", 9090, 3, "full"]]'
run_backlogd "$TEST_TMP/once-netns.json" --once --json --netns /run/netns/web2
check "--once --netns: web2 and the host" \
        "$(json_get "$TEST_TMP/once-netns.json" 'sorted((l["netns"], l["port"]) for l in j["listeners"])')" \
        '[["host", 8080], ["web2", 9090]]'

# foreign_sockets: how many of the daemon's sockets live in a namespace
# other than its own: /proc/PID/net/{netlink,unix} list the sockets of the
# daemon's own namespace by inode.
foreign_sockets() {
        local own n=0 fd link ino
        own=$(awk 'NR > 1 { print $NF }' /proc/"$DAEMON"/net/netlink; awk 'NR > 1 { print $7 }' /proc/"$DAEMON"/net/unix)
        for fd in /proc/"$DAEMON"/fd/*; do
                link=$(readlink "$fd") || continue
                case $link in socket:*) ;; *) continue ;; esac
                ino=${link#socket:[}
                ino=${ino%]}
                grep -qx -- "$ino" <<<"$own" || n=$((n + 1))
        done
        echo "$n"
}
# One sock_diag socket in each watched namespace.
check "sockets the daemon holds in web1 and web2" "$(foreign_sockets)" 2

# web1's server exits, then its namespace is deleted.
kill -TERM "$QFILL_PID_web1"
journal_wait 1 backlogd BACKLOGD_EVENT=gone BACKLOGD_NETNS=web1
ip netns delete web1 || fail "ip netns delete web1"
journal_wait 1 backlogd MESSAGE="Network namespace web1 (/run/netns/web1) is gone; no longer watching it."
# web2 is deleted while its server still runs: the namespace lives on in that
# process, but its file is gone, so it is not watched any more.
ip netns delete web2 || fail "ip netns delete web2"
journal_wait 1 backlogd MESSAGE="Network namespace web2 (/run/netns/web2) is gone; no longer watching it."
journal_wait 1 backlogd BACKLOGD_EVENT=gone BACKLOGD_NETNS=web2
check "web2: gone names the listener" "$(field BACKLOGD_PORT BACKLOGD_EVENT=gone BACKLOGD_NETNS=web2)" 9090
check "web2: gone says why" "$(field MESSAGE BACKLOGD_EVENT=gone BACKLOGD_NETNS=web2)" \
        "127.0.0.1:9090 in network namespace web2 is no longer watched, as its network namespace is not, while its queue alert was raised (last 3 of 3); alert withdrawn."
check "web1: gone after its server exited" "$(field MESSAGE BACKLOGD_EVENT=gone BACKLOGD_NETNS=web1 | grep -c 'stopped listening')" 1

# Nothing of the deleted namespaces is held: no namespace file and no socket
# of theirs stays open in the daemon.
sleep 0.3
held=0
for fd in /proc/"$DAEMON"/fd/*; do
        case $(readlink "$fd") in
        "net:[$INODE1]" | "net:[$INODE2]") held=$((held + 1)) ;;
        esac
done
check "namespace files held by the daemon" "$held" 0
check "sockets the daemon holds in other namespaces" "$(foreign_sockets)" 0
check "metrics: web1 and web2 are gone" "$(grep -c 'netns="web[12]"' "$PROM")" 0
check "still watching the host" "$(grep -c '^backlogd_listen_queue_depth{.*netns="host".*} 2$' "$PROM")" 1

# A reload to `host = false` stops watching the host: its listener goes
# from the metrics file, the namespaces stay.
ip netns add web3 || fail "ip netns add web3"
cat >"$TEST_TMP/backlogd.conf" <<CONF
interval = 0.1;
host = false;
namespaces = [ "/run/netns/*" ];
metrics_file = "$PROM";
metrics_interval = 0.1;
CONF
kill -HUP "$DAEMON"
journal_wait 1 backlogd MESSAGE="No longer watching the host's namespace."
for ((i = 0; i < 50; i++)); do
        grep -q 'netns="host"' "$PROM" || break
        sleep 0.1
done
check "metrics: no host series after host = false" "$(grep -c 'netns="host"' "$PROM")" 0
journal_wait 1 backlogd MESSAGE="Watching network namespace web3 (/run/netns/web3)."
# Another namespace under the same name: the old one goes, the new one comes.
{ ip netns delete web3 && ip netns add web3; } || fail "ip netns delete/add web3"
journal_wait 2 backlogd MESSAGE="Watching network namespace web3 (/run/netns/web3)."
check "web3 replaced: the old one is gone" \
        "$(journal_count backlogd MESSAGE="Network namespace web3 (/run/netns/web3) is gone; no longer watching it.")" 1

kill -TERM "$DAEMON"
wait "$DAEMON"
check "exit status on SIGTERM" "$?" 0
check "daemon stderr" "$(cat "$TEST_TMP/daemon.err")" ""

# Without CAP_SYS_ADMIN (nobody, no capabilities) a namespace cannot be
# entered: said once, with the reason, and the host is still watched.
printf 'interval = 0.1;\nnamespaces = [ "/run/netns/*" ];\n' >"$TEST_TMP/nobody.conf"
chmod 0755 "$TEST_TMP"
chmod 0644 "$TEST_TMP/nobody.conf"
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
        "$BACKLOGD" -c "$TEST_TMP/nobody.conf" --log-target=console 2>"$TEST_TMP/nobody.err" &
NOBODY=$!
TEST_PIDS+=("$NOBODY")
wait_lines "$TEST_TMP/nobody.err" '^full: Listen queue of 127.0.0.1:8080 ' 1 10 "$NOBODY"
sleep 2.5 # two more looks at the namespace files
kill -TERM "$NOBODY"
wait "$NOBODY"
check "nobody: exit status" "$?" 0
check "nobody: the refusal, once" \
        "$(grep -c '^Cannot watch network namespace /run/netns/web3: cannot enter the namespace: Operation not permitted (needs CAP_SYS_ADMIN' "$TEST_TMP/nobody.err")" 1
check "nobody: nothing else went wrong" \
        "$(grep -vcE '^(full: |Cannot watch network namespace |backlogd started|Stopping on )' "$TEST_TMP/nobody.err")" 0
finish
