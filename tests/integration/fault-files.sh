#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Files a local user (or a slow deployment) can put in backlogd's way:
#  1. the metrics directory created only after start: the file appears
#     within two polls, and again after SIGHUP when the directory went away
#     and came back;
#  2. symlinks planted, over and over, at the old temporary names
#     (.backlogd.prom.<PID>.tmp and neighbours): the file keeps being
#     rewritten, the victim is never written, no error is logged;
#  3. the configuration replaced by a FIFO and by a symlink to /dev/kmsg,
#     then SIGHUP: the reload fails with a clear line within a second and the
#     polls go on;
#  4. 200 failed reloads of a file on which libconfig 1.5 leaks (a syntax
#     error with a 100 kB string as lookahead): VmRSS stays within 1 MB.
# The daemon runs as nobody, without capabilities, as the unit runs it.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
command -v setpriv >/dev/null || fail "missing tool: setpriv"
enter_netns "$@"
setup_tmp

chmod 755 "$TEST_TMP"
mkdir -m 755 "$TEST_TMP/etc"
CONF=$TEST_TMP/etc/backlogd.conf
MDIR=$TEST_TMP/metrics
PROM=$MDIR/backlogd.prom
INTERVAL=0.2
# Every poll writes the file (metrics_interval), and its samples change
# on every poll: the churner below opens a listener on another port every
# 0.07 s, and metrics_all lists it even while idle. An unchanged file would
# only be touched, and the temporary names would not be tried.
GOOD="interval = $INTERVAL;
metrics_file = \"$PROM\";
metrics_interval = $INTERVAL;
metrics_all = true;
"
printf '%s' "$GOOD" >"$CONF"
chmod 644 "$CONF"
LOG=$TEST_TMP/daemon.err
ERR="Reload failed, keeping the running configuration: "

count() {
        grep -c -E -- "$1" "$LOG"
}

# stamp: the last-poll timestamp in the metrics file, "" when it is absent.
stamp() {
        awk '$1 == "backlogd_last_poll_timestamp_seconds" { print $2 }' "$PROM" 2>/dev/null
}

# wait_file SECONDS: waits until the metrics file exists; prints how long
# it took in ms, or fails.
wait_file() {
        local t0 t1
        t0=$(date +%s%N)
        while [ ! -s "$PROM" ]; do
                t1=$(date +%s%N)
                [ $(((t1 - t0) / 1000000)) -le $(($1 * 1000)) ] ||
                        fail "no $PROM within $1 s"
                sleep 0.01
        done
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000000))
}

# advances WHAT: the file's timestamp moves on over 3 polls.
advances() {
        local a b
        a=$(stamp)
        sleep 0.7
        b=$(stamp)
        check "$1: metrics file rewritten ($a -> $b)" \
                "$("$PYTHON" -c 'import sys; print(float(sys.argv[2]) > float(sys.argv[1]))' "${a:-0}" "${b:-0}")" True
}

"$PYTHON" -c '
import socket, time
for i in range(10000):
    s = socket.socket()
    s.bind(("127.0.0.1", 9000 + i % 50))
    s.listen(1)
    time.sleep(0.07)
    s.close()
' &
TEST_PIDS+=($!)

# In a sanitizer build, AddressSanitizer keeps freed memory in quarantine
# (256 MB by default), which RSS would show as growth: without quarantine
# freed memory is reused as in a plain build, and a real leak still shows.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:thread_local_quarantine_size_kb=0 \
        setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
        "$BACKLOGD" -c "$CONF" --log-target console 2>"$LOG" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
# A daemon stuck in open() of the FIFO (the bug this tests) ignores SIGTERM,
# which cleanup() sends and then waits for.
trap 'kill -KILL "$DAEMON" 2>/dev/null; cleanup' EXIT
wait_lines "$LOG" '^backlogd started' 1 10 "$DAEMON"

# --- 1. the directory appears after start -----------------------------------
MISSING="Cannot write the metrics file: $PROM: directory $MDIR: No such file or directory; retrying every poll."
wait_lines "$LOG" '^Cannot write the metrics file' 1 5 "$DAEMON"
sleep 0.5
check "missing dir: error line" "$(grep '^Cannot write the metrics file' "$LOG")" "$MISSING"
mkdir -m 755 "$MDIR"
chown 65534:65534 "$MDIR"
ms=$(wait_file 2)
note "metrics file appeared ${ms} ms after mkdir (interval ${INTERVAL} s)"
check "missing dir: file within two polls" "$([ "$ms" -le 400 ] && echo yes)" yes
wait_lines "$LOG" '^The metrics file is written again\.$' 1 2 "$DAEMON"
check "missing dir: file mode" "$(stat -c %a "$PROM")" 644
check "missing dir: only the file in the directory" "$(ls -A "$MDIR")" backlogd.prom

# Gone again, SIGHUP with the same configuration, back again.
rm -rf "$MDIR"
kill -HUP "$DAEMON"
wait_lines "$LOG" '^Reloaded the configuration' 1 5 "$DAEMON"
wait_lines "$LOG" '^Cannot write the metrics file' 2 5 "$DAEMON"
check "after SIGHUP: error line" "$(grep '^Cannot write the metrics file' "$LOG" | tail -n 1)" "$MISSING"
mkdir -m 755 "$MDIR"
chown 65534:65534 "$MDIR"
ms=$(wait_file 2)
note "after SIGHUP: metrics file appeared ${ms} ms after mkdir"
check "after SIGHUP: file within two polls" "$([ "$ms" -le 400 ] && echo yes)" yes
wait_lines "$LOG" '^The metrics file is written again\.$' 2 2 "$DAEMON"

# --- 2. symlinks planted at the temporary names ------------------------------
VICTIM=$TEST_TMP/victim
echo precious >"$VICTIM"
chmod 666 "$VICTIM"
errors=$(count '^Cannot write the metrics file')
(
        # As nobody, the user who can write the directory; planted again as
        # soon as anything removes one.
        # shellcheck disable=SC2016 # expanded by the inner bash
        exec setpriv --reuid=65534 --regid=65534 --clear-groups bash -c '
                for ((i = 0; i < 100000; i++)); do
                        for p in $(seq $(($1 - 3)) $(($1 + 3))) XXXXXX; do
                                ln -sfn "$3" "$2/.backlogd.prom.$p.tmp" 2>/dev/null
                        done
                        sleep 0.002
                done' planter "$DAEMON" "$MDIR" "$VICTIM"
) &
PLANTER=$!
TEST_PIDS+=("$PLANTER")
sleep 0.3
check "planted: link at .backlogd.prom.$DAEMON.tmp" "$(readlink "$MDIR/.backlogd.prom.$DAEMON.tmp")" "$VICTIM"
advances "planted"
advances "planted (again)"
kill "$PLANTER"
wait "$PLANTER" 2>/dev/null
check "planted: no error logged" "$(count '^Cannot write the metrics file')" "$errors"
check "planted: victim untouched" "$(cat "$VICTIM")" precious
check "planted: target is a regular file" "$(stat -c %F "$PROM")" "regular file"
find "$MDIR" -type l -delete
check "planted: nothing else left" "$(ls -A "$MDIR")" backlogd.prom

# --- 3. a FIFO and /dev/kmsg as the configuration ----------------------------
# reload_fails N WHAT WANT: SIGHUP, then error line N within a second.
reload_fails() {
        local n=$1 what=$2 want=$3
        kill -HUP "$DAEMON"
        wait_lines "$LOG" "^$ERR" "$n" 1 "$DAEMON"
        check "$what: error text" "$(grep "^$ERR" "$LOG" | tail -n 1)" "$want"
        advances "$what: polls go on"
}

mv "$CONF" "$CONF.good"
mkfifo -m 644 "$CONF"
reload_fails 1 "fifo" "${ERR}$CONF: not a regular file"
rm -f "$CONF"
# A container may have no /dev/kmsg: then another character device.
kmsg=/dev/kmsg
[ -c "$kmsg" ] || kmsg=/dev/zero
ln -s "$kmsg" "$CONF"
reload_fails 2 "$kmsg" "${ERR}$CONF: not a regular file"
rm -f "$CONF"

# --- 4. failed reloads do not grow the daemon --------------------------------
"$PYTHON" - "$CONF" "$GOOD" <<'PY' || fail "cannot write the leaking configuration"
import sys
open(sys.argv[1], "w").write(sys.argv[2] + 'a "' + "x" * 100000 + '";\n')
PY
chmod 644 "$CONF"
kill -HUP "$DAEMON"
wait_lines "$LOG" "^$ERR" 3 2 "$DAEMON"
check "leak input: error text" "$(grep "^$ERR" "$LOG" | tail -n 1)" "${ERR}$CONF:5: syntax error"
rss_before=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$DAEMON/status")
for ((i = 4; i < 204; i++)); do
        kill -HUP "$DAEMON"
        for ((j = 0; j < 500; j++)); do
                [ "$(count "^$ERR")" -ge "$i" ] && break
                sleep 0.01
        done
done
check "leak input: failed reloads" "$(count "^$ERR")" 203
rss_after=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$DAEMON/status")
note "VmRSS before 200 failed reloads: $rss_before kB, after: $rss_after kB"
check "leak input: VmRSS within 1 MB" "$([ $((rss_after - rss_before)) -le 1024 ] && echo yes)" yes
advances "after 200 failed reloads"

mv "$CONF.good" "$CONF"
kill -HUP "$DAEMON"
wait_lines "$LOG" '^Reloaded the configuration' 2 5 "$DAEMON"
kill -TERM "$DAEMON"
wait "$DAEMON"
check "exit status on SIGTERM" "$?" 0
check "metrics errors in all" "$(count '^Cannot write the metrics file')" 2
echo "--- daemon stderr:"
grep -v "^$ERR" "$LOG"
note "$(count "^$ERR") reload failures logged"
finish
