#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SIGHUP while the configuration file is deleted, truncated in the middle of
# the watch list, unreadable (the daemon runs as nobody, so mode 000 counts)
# and replaced by a directory: each logs exactly one error line and the
# running configuration stays, which we prove by behaviour after each one: a
# full queue on a watched port is reported, one on an unwatched port is not.
# Then an empty file, which is a valid configuration (the defaults: every
# listener watched), takes effect.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
command -v setpriv >/dev/null || fail "missing tool: setpriv"
enter_netns "$@"
setup_tmp

# The daemon runs as nobody: it must reach the file through $TEST_TMP.
chmod 755 "$TEST_TMP"
mkdir -m 755 "$TEST_TMP/etc"
CONF=$TEST_TMP/etc/backlogd.conf
# Watched: 8080-8089 (named "w"); 8090-8099 are not.
cat >"$CONF" <<'CONF'
interval = 0.1;
watch = (
  { ports = "8080-8089"; name = "w"; }
);
CONF
chmod 644 "$CONF"
ERR="Reload failed, keeping the running configuration: "

setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
        "$BACKLOGD" -c "$CONF" --log-target console 2>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
wait_lines "$TEST_TMP/daemon.err" '^backlogd started' 1 10 "$DAEMON"
check "daemon runs as" "$(awk '$1 == "Uid:" { print $2 }' "/proc/$DAEMON/status")" 65534

count() {
        grep -c -E -- "$1" "$TEST_TMP/daemon.err"
}

# pair N: fills 808N (watched) and 809N (not watched), then checks that
# 808N is reported and, after 0.5 s more (5 polls), that 809N is not.
pair() {
        local n=$1 what=$2
        qfill_start "p$n" "127.0.0.1:808$n:2:c=3" "127.0.0.1:809$n:2:c=3"
        wait_lines "$TEST_TMP/daemon.err" "^full: Listen queue of 127\\.0\\.0\\.1:808$n \\(w\\) .*is full" 1 5 "$DAEMON"
        sleep 0.5
        check "$what: watched 808$n reported" "$(count "^full: Listen queue of 127\\.0\\.0\\.1:808$n ")" 1
        check "$what: unwatched 809$n not reported" "$(count "127\\.0\\.0\\.1:809$n")" 0
}

# reload_fails N WHAT: SIGHUP, then exactly N error lines in all.
reload_fails() {
        local n=$1 what=$2
        kill -HUP "$DAEMON"
        wait_lines "$TEST_TMP/daemon.err" "^$ERR" "$n" 5 "$DAEMON"
        sleep 0.3
        check "$what: error lines in all" "$(count "^$ERR")" "$n"
        note "$what: $(grep "^$ERR" "$TEST_TMP/daemon.err" | tail -n 1)"
        check "$what: no reload succeeded" "$(count '^Reloaded the configuration')" 0
}

pair 0 "initial"

rm -f "$CONF"
reload_fails 1 "deleted"
check "deleted: error text" "$(grep "^$ERR" "$TEST_TMP/daemon.err" | tail -n 1)" \
        "${ERR}$CONF: No such file or directory"
pair 1 "deleted"

# Cut in the middle of the watch list; what precedes the cut would watch
# 8090-8099 if it were applied.
printf 'interval = 0.1;\nwatch = (\n  { ports = "8090-8099"; },\n  { port = 80' >"$CONF"
chmod 644 "$CONF"
reload_fails 2 "truncated"
check "truncated: error names file and line" \
        "$(grep "^$ERR" "$TEST_TMP/daemon.err" | tail -n 1 | grep -cE "^${ERR}$CONF:[0-9]+: ")" 1
pair 2 "truncated"

# A valid file that would watch everything, but nobody cannot read it.
printf 'interval = 0.1;\n' >"$CONF"
chmod 000 "$CONF"
reload_fails 3 "unreadable"
check "unreadable: error text" "$(grep "^$ERR" "$TEST_TMP/daemon.err" | tail -n 1)" \
        "${ERR}$CONF: Permission denied"
pair 3 "unreadable"

rm -f "$CONF"
mkdir -m 755 "$CONF"
reload_fails 4 "directory"
check "directory: error names the file" \
        "$(grep "^$ERR" "$TEST_TMP/daemon.err" | tail -n 1 | grep -cF "${ERR}$CONF")" 1
pair 4 "directory"

# An empty file is valid: the defaults, every listener watched.
rmdir "$CONF"
: >"$CONF"
chmod 644 "$CONF"
kill -HUP "$DAEMON"
wait_lines "$TEST_TMP/daemon.err" '^Reloaded the configuration' 1 5 "$DAEMON"
check "empty: reload line" "$(grep '^Reloaded the configuration' "$TEST_TMP/daemon.err")" \
        "Reloaded the configuration from $CONF."
qfill_start p5 127.0.0.1:8095:2:c=3
# The defaults poll every second.
wait_lines "$TEST_TMP/daemon.err" '^full: Listen queue of 127\.0\.0\.1:8095 .*is full' 1 5 "$DAEMON"
wait_lines "$TEST_TMP/daemon.err" '^full: Listen queue of 127\.0\.0\.1:809[0-5] ' 6 5 "$DAEMON"
check "empty: full 809x (all six now watched)" "$(count '^full: Listen queue of 127\.0\.0\.1:809[0-5] ')" 6
check "error lines in all" "$(count "^$ERR")" 4

kill -TERM "$DAEMON"
wait "$DAEMON"
check "exit status on SIGTERM" "$?" 0
check "last words" "$(tail -n 1 "$TEST_TMP/daemon.err")" "Stopping on Terminated."
echo "--- daemon stderr:"
cat "$TEST_TMP/daemon.err"
finish
