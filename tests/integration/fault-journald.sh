#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# journald stops and comes back while the daemon runs with --log-target
# journal: the daemon does not crash, keeps polling, keeps what it could not
# write in order and writes it once journald is back: the alerts raised
# during the outage are in the journal afterwards, not lost.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
enter_netns "$@"
setup_tmp
# shellcheck source=lib-journald.sh
. "$(dirname "$0")/lib-journald.sh"

journald_start || fail "cannot start a private journald"
trap 'cleanup; journald_stop' EXIT

printf 'interval = 0.1;\n' >"$TEST_TMP/backlogd.conf"

"$BACKLOGD" -c "$TEST_TMP/backlogd.conf" --log-target=journal 2>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
journal_wait 1 backlogd MESSAGE_ID=0565ceedc5744a2db6570af63dd3d8d5

qfill_start a 127.0.0.1:8080:2:c=3
journal_wait 1 backlogd BACKLOGD_EVENT=full BACKLOGD_PORT=8080
check "before: full 8080 in the journal" "$(journal_count backlogd BACKLOGD_EVENT=full BACKLOGD_PORT=8080)" 1

# Outage 1: journald stops and its socket goes away (ENOENT): the alert
# waits and is written when journald is back.
journald_stop
qfill_start b 127.0.0.1:8081:2:c=3
sleep 1 # 10 polls
kill -0 "$DAEMON" 2>/dev/null
check "outage 1: alive while journald is stopped" "$?" 0
journald_restart || fail "cannot restart journald"
qfill_start c 127.0.0.1:8082:2:c=3
journal_wait 1 backlogd BACKLOGD_EVENT=full BACKLOGD_PORT=8082
check "outage 1: full 8082 in the journal after the restart" \
        "$(journal_count backlogd BACKLOGD_EVENT=full BACKLOGD_PORT=8082)" 1
# shellcheck disable=SC2154 # QFILL_PID_c is set by qfill_start (printf -v)
check "outage 1: message of the entry" \
        "$(journal_field backlogd MESSAGE BACKLOGD_EVENT=full BACKLOGD_PORT=8082 |
                sed -E 's/ \(clients have waited up to [0-9.]+ s(; [0-9]+ gave up)?\)//')" \
        "Listen queue of 127.0.0.1:8082 of qfill, pid $QFILL_PID_c is full: 3 of 3 connections wait for accept(), new connections are dropped or delayed. Raise the application's listen backlog (now 2) or make it accept connections faster."
check "outage 1: the alert for 8081 raised meanwhile is not lost" \
        "$(journal_count backlogd BACKLOGD_EVENT=full BACKLOGD_PORT=8081)" 1

# Outage 2: journald dies and leaves its socket behind (ECONNREFUSED): the
# same, and nothing on stderr (nothing was lost).
kill -KILL "$JOURNALD_PID"
wait "$JOURNALD_PID" 2>/dev/null
JOURNALD_PID=
[ -S "$JOURNAL_SOCKET" ] || fail "the journal socket went away with journald"
qfill_start d 127.0.0.1:8083:2:c=3 127.0.0.1:8084:2:c=3
sleep 1
kill -0 "$DAEMON" 2>/dev/null
check "outage 2: alive while journald is dead" "$?" 0
check "outage 2: stderr" "$(cat "$TEST_TMP/daemon.err")" ""
journald_restart || fail "cannot restart journald"
sleep 0.5 # journald replaces the stale socket
journal_wait 1 backlogd BACKLOGD_EVENT=full BACKLOGD_PORT=8084
check "outage 2: the alerts raised meanwhile are not lost" \
        "$(journal_count backlogd BACKLOGD_EVENT=full BACKLOGD_PORT=8083)/$(journal_count backlogd BACKLOGD_EVENT=full BACKLOGD_PORT=8084)" 1/1
qfill_start e 127.0.0.1:8085:2:c=3
journal_wait 1 backlogd BACKLOGD_EVENT=full BACKLOGD_PORT=8085
check "outage 2: full 8085 in the journal after the restart" \
        "$(journal_count backlogd BACKLOGD_EVENT=full BACKLOGD_PORT=8085)" 1

kill -TERM "$DAEMON"
wait "$DAEMON"
check "exit status on SIGTERM" "$?" 0
check "last words in the journal" \
        "$(journal_field backlogd MESSAGE MESSAGE_ID=0565ceedc5744a2db6570af63dd3d8d5 | tail -n 1)" \
        "Stopping on Terminated."
check "stderr lines in all" "$(wc -l <"$TEST_TMP/daemon.err")" 0
finish
