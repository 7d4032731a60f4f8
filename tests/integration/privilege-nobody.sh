#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Least privilege: as nobody without any capability, `backlogd --once
# --json` lists exactly the listeners ss lists as root (by inode), including
# those of root and of other uids, and the daemon raises a full alert, a
# drops alert and a host counter alert.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
command -v setpriv >/dev/null || fail "missing tool: setpriv"
enter_netns "$@"
setup_tmp

NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all)
chmod 755 "$TEST_TMP"

# as_user UID NAME SPEC...: qfill run by UID (without capabilities).
as_user() {
        local uid=$1 name=$2 fd
        shift 2
        mkfifo "$TEST_TMP/$name.in" || fail "mkfifo"
        setpriv --reuid="$uid" --regid="$uid" --clear-groups --inh-caps=-all --bounding-set=-all \
                "$QFILL" -t 60 "$@" <"$TEST_TMP/$name.in" >"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.err" &
        TEST_PIDS+=("$!")
        # shellcheck disable=SC2034 # fd only holds the FIFO open: qfill never reads EOF
        exec {fd}>"$TEST_TMP/$name.in"
        wait_lines "$TEST_TMP/$name.out" '^ready$' 1 15 "$!"
        check "qfill $name runs as uid" "$(awk '$1 == "Uid:" { print $2 }' "/proc/$!/status")" "$uid"
}

# root: 8080 full, 8081 idle, [::1]:8082; uid 1234: 9000; nobody: 9001.
qfill_start root 127.0.0.1:8080:2:c=3 127.0.0.1:8081:5 '[::1]:8082:7'
as_user 1234 other 127.0.0.1:9000:4 '[::]:9002:3'
as_user 65534 nobody 127.0.0.1:9001:4

# shellcheck disable=SC2016 # an awk program
check "nobody has no capabilities" \
        "$("${NOBODY[@]}" awk '/^(Uid|Gid|CapEff|CapPrm|CapBnd):/ { printf "%s %s ", $1, $2 }' /proc/self/status)" \
        "Uid: 65534 Gid: 65534 CapPrm: 0000000000000000 CapEff: 0000000000000000 CapBnd: 0000000000000000 "

ss_snapshot "$TEST_TMP/ss.json"
"${NOBODY[@]}" "$BACKLOGD" --once --json >"$TEST_TMP/once.json" 2>"$TEST_TMP/once.err"
check "--once as nobody: exit status" "$?" 0
check "--once as nobody: stderr" "$(cat "$TEST_TMP/once.err")" ""
want=$(json_get "$TEST_TMP/ss.json" '" ".join(str(i) for i in sorted(r["inode"] for r in j))')
got=$(json_get "$TEST_TMP/once.json" '" ".join(str(i) for i in sorted(l["inode"] for l in j["listeners"]))')
check "listeners ss (as root) shows" "$(wc -w <<<"$want")" 6
check "--once as nobody: the inodes ss shows as root" "$got" "$want"
for i in 0 1 2; do
        ino=$(qfill_field root "$i" inode)
        check "root's listener $i present" "$(grep -cw "$ino" <<<"$got")" 1
done
check "uid 1234's listeners present" \
        "$(grep -cw "$(qfill_field other 0 inode)" <<<"$got")$(grep -cw "$(qfill_field other 1 inode)" <<<"$got")" 11
check "nobody's listener present" "$(grep -cw "$(qfill_field nobody 0 inode)" <<<"$got")" 1
ino=$(qfill_field root 0 inode)
check "8080 as nobody sees it: depth/backlog/state" \
        "$(bl_field "$TEST_TMP/once.json" "$ino" depth)/$(bl_field "$TEST_TMP/once.json" "$ino" backlog)/$(bl_field "$TEST_TMP/once.json" "$ino" state)" \
        "3/2/full"

# The daemon as nobody.
printf 'interval = 0.1;\n' >"$TEST_TMP/backlogd.conf"
chmod 644 "$TEST_TMP/backlogd.conf"
"${NOBODY[@]}" "$BACKLOGD" -c "$TEST_TMP/backlogd.conf" --log-target console 2>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
wait_lines "$TEST_TMP/daemon.err" '^full: Listen queue of 127\.0\.0\.1:8080 .*is full' 1 10 "$DAEMON"
check "daemon: uid and effective capabilities" \
        "$(awk '/^(Uid|CapEff):/ { printf "%s %s ", $1, $2 }' "/proc/$DAEMON/status")" \
        "Uid: 65534 CapEff: 0000000000000000 "
check "daemon: watching" "$(grep '^backlogd started' "$TEST_TMP/daemon.err" | cut -d' ' -f3-5)" "watching 6 listeners,"
# One client more cannot fit: drops on the listener and the host counters,
# which nobody reads from /proc/net/netstat.
qfill_cmd root "pend 0 1" '^ready$'
wait_lines "$TEST_TMP/daemon.err" '^drops: 127\.0\.0\.1:8080 dropped ' 1 10 "$DAEMON"
wait_lines "$TEST_TMP/daemon.err" '^counter: Host counter ListenOverflows rose by ' 1 10 "$DAEMON"
check "daemon: errors on stderr" "$(grep -ciE 'cannot|fail|denied' "$TEST_TMP/daemon.err")" 0
kill -TERM "$DAEMON"
wait "$DAEMON"
check "daemon: exit status on SIGTERM" "$?" 0
echo "--- daemon stderr:"
cat "$TEST_TMP/daemon.err"
finish
