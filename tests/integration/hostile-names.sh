#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Names a hostile local user chooses: as nobody, a process renamed (prctl)
# to ESC, a newline and a forged "full: " holds two full UNIX listeners, one
# at a path with a byte that is not UTF-8, a newline, a forged sentence,
# ESC, quotes and a backslash, one with an abstract name of the same kind.
# Every output must keep them harmless: the --once table one line per
# listener with no control byte, --json valid and giving the exact bytes
# back (surrogateescape), the console one line per event, the journal's
# MESSAGE text (not [blob data]) and the exact bytes in BACKLOGD_PATH and
# BACKLOGD_COMM.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
require_tools
command -v setpriv >/dev/null || fail "missing tool: setpriv"
# A pid namespace of our own, with its /proc: backlogd's scan for the
# process holding a socket is bounded in time, and on a busy machine it may
# not reach the hostile process among all the others. The script runs as a
# child of the namespace's init, so that its mount namespace, made next, is
# not init's (lib-journald.sh checks that).
if [ -z "${BACKLOGD_TEST_PIDNS:-}" ]; then
        export BACKLOGD_TEST_PIDNS=1
        # shellcheck disable=SC2016 # expanded by the inner shell
        exec unshare --pid --fork --kill-child --mount-proc -- \
                bash -c 'bash "$0" "$@"; exit $?' "$(readlink -f "$0")" "$@"
        fail "cannot exec unshare"
fi
enter_netns "$@"
setup_tmp
# shellcheck source=lib-journald.sh
. "$(dirname "$0")/lib-journald.sh"
trap 'cleanup; journald_stop' EXIT

# nobody must reach the socket's directory.
chmod 755 "$TEST_TMP" || fail "chmod"
mkdir -m 1777 "$TEST_TMP/h" || fail "mkdir"
cat >"$TEST_TMP/hostile.py" <<'PY'
import ctypes, os, socket, sys, time

# 15 bytes, the most a comm holds: ESC [ 2 J, a newline, a forged line.
COMM = b"\x1b[2J\nfull: evil"
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(15, ctypes.c_char_p(COMM), 0, 0, 0) != 0:  # PR_SET_NAME
    sys.exit("prctl: %s" % os.strerror(ctypes.get_errno()))
held = []
for name in (os.fsencode(sys.argv[1]), os.fsencode(sys.argv[2])):
    u = socket.socket(socket.AF_UNIX)
    u.bind(name)
    u.listen(1)  # capacity 2: two clients fill it
    for _ in range(2):
        c = socket.socket(socket.AF_UNIX)
        c.connect(name)
        held.append(c)
    held.append(u)
print("ready", os.getuid(), flush=True)
time.sleep(100)
PY
# shellcheck disable=SC2089,SC2090 # the quotes and the backslash are the point
NAME=$'x\xff\nfull: Listen queue of 127.0.0.1:443 is full\x1b[2J"\'\\'
HOSTILE_PATH=$TEST_TMP/h/$NAME
ABSTRACT=$'\x01ab\xff\n\r\x1b]0;pwn\a"\\'
# What the text rule shows of them (the abstract name's leading NUL is '@';
# python below writes it, bash cannot hold it).
SHOWN_PATH="$TEST_TMP/h/x\\xff\\nfull: Listen queue of 127.0.0.1:443 is full\\x1b[2J\"'\\\\"
# shellcheck disable=SC1003 # a backslash, escaped: two of them
SHOWN_ABSTRACT='@ab\xff\n\r\x1b]0;pwn\x07"\\'
SHOWN_COMM='\x1b[2J\nfull: evil'
# shellcheck disable=SC2090 # python reads it whole
export HOSTILE_PATH

setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
        "$PYTHON" -c '
import os, sys
# argv[2] stands for the abstract name: \x01 becomes its leading NUL.
a = os.fsencode(sys.argv[2])
sys.argv[2] = os.fsdecode(b"\0" + a[1:])
exec(open(sys.argv[3]).read())' "$HOSTILE_PATH" "$ABSTRACT" "$TEST_TMP/hostile.py" \
        >"$TEST_TMP/hostile.out" 2>&1 &
HOSTILE=$!
TEST_PIDS+=("$HOSTILE")
wait_lines "$TEST_TMP/hostile.out" '^ready 65534$' 1 10 "$HOSTILE"
check "the hostile process's comm" "$(od -An -c /proc/$HOSTILE/comm | tr -s ' ')" \
        "$(printf '%s\n' $'\x1b[2J\nfull: evil' | od -An -c | tr -s ' ')"

# --- backlogd --once --unix: the table -----------------------------------
run_backlogd "$TEST_TMP/once.txt" --once --unix --processes
rows=$(awk 'NR > 1 && /^$/ { exit } NR > 1' "$TEST_TMP/once.txt")
check "table: one line per listener" "$(printf '%s\n' "$rows" | wc -l)" 2
check "table: lines with ESC" "$(grep -c $'\x1b' "$TEST_TMP/once.txt")" 0
check "table: lines with CR" "$(grep -c $'\r' "$TEST_TMP/once.txt")" 0
check "table: lines with BEL" "$(grep -c $'\a' "$TEST_TMP/once.txt")" 0
check "table: lines with a byte that is not UTF-8" \
        "$("$PYTHON" -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8"); print(0)' "$TEST_TMP/once.txt" 2>&1)" 0
check "table: the path's row" "$(grep -cF -- "$SHOWN_PATH " "$TEST_TMP/once.txt")" 1
check "table: the abstract name's row" "$(grep -cF -- "$SHOWN_ABSTRACT " "$TEST_TMP/once.txt")" 1
check "table: the owner" "$(grep -cF -- "$SHOWN_COMM, pid $HOSTILE" "$TEST_TMP/once.txt")" 2
check "table: no forged row" "$(grep -c '^full: ' "$TEST_TMP/once.txt")" 0

# --- backlogd --once --unix --json -----------------------------------------
run_backlogd "$TEST_TMP/once.json" --once --unix --json --processes
# Strict UTF-8 on stdin, whatever the locale.
PYTHONIOENCODING=utf-8:strict "$PYTHON" -c 'import json,sys; json.load(sys.stdin)' <"$TEST_TMP/once.json"
check "json: parses" "$?" 0
check "json: valid UTF-8" \
        "$("$PYTHON" -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8"); print(0)' "$TEST_TMP/once.json" 2>&1)" 0
# json_raw EXPR: EXPR with j the document and b() the bytes of a string.
json_raw() {
        "$PYTHON" -c '
import json, os, sys
j = json.load(open(sys.argv[1]))
b = lambda s: s.encode("utf-8", "surrogateescape")
path = os.fsencode(os.environ["HOSTILE_PATH"])
abstract = b"@ab\xff\n\r\x1b]0;pwn\x07\"\\"
print(eval(sys.argv[2]))' "$TEST_TMP/once.json" "$1" || fail "cannot evaluate $1"
}
check "json: the path, exactly" \
        "$(json_raw '[(l["depth"], l["backlog"], l["state"], l["uid"]) for l in j["listeners"] if b(l["address"]) == path]')" \
        "[(2, 1, 'full', 65534)]"
check "json: the abstract name, exactly" \
        "$(json_raw '[(l["depth"], l["backlog"], l["state"]) for l in j["listeners"] if b(l["address"]) == abstract]')" \
        "[(2, 1, 'full')]"
check "json: the comm, exactly" \
        "$(json_raw '[b(l["comm"]) == b"\x1b[2J\nfull: evil" for l in j["listeners"]]')" "[True, True]"

# --- the daemon's console log --------------------------------------------
cat >"$TEST_TMP/backlogd.conf" <<'CONF'
interval = 0.1;
unix = true;
CONF
"$BACKLOGD" -c "$TEST_TMP/backlogd.conf" --log-target=console 2>"$TEST_TMP/console.out" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
wait_lines "$TEST_TMP/console.out" '^full: ' 2 15 "$DAEMON"
sleep 0.5 # a few more polls: nothing more may come
kill -TERM "$DAEMON"
wait "$DAEMON"
check "console: exit status on SIGTERM" "$?" 0
check "console: lines with ESC" "$(grep -c $'\x1b' "$TEST_TMP/console.out")" 0
check "console: lines with CR" "$(grep -c $'\r' "$TEST_TMP/console.out")" 0
check "console: one line per event" "$(grep -c 'Listen queue of' "$TEST_TMP/console.out")" 2
check "console: full events" "$(grep -c '^full: ' "$TEST_TMP/console.out")" 2
check "console: no forged line" "$(grep -c '^full: Listen queue of 127.0.0.1:443' "$TEST_TMP/console.out")" 0
check "console: the path's line" \
        "$(grep -cF -- "full: Listen queue of $SHOWN_PATH of " "$TEST_TMP/console.out")" 1
check "console: the abstract name's line" \
        "$(grep -cF -- "full: Listen queue of $SHOWN_ABSTRACT of " "$TEST_TMP/console.out")" 1
check "console: the owner" "$(grep -cF -- "$SHOWN_COMM, pid $HOSTILE" "$TEST_TMP/console.out")" 2

# --- a private journald ----------------------------------------------------
journald_start || fail "cannot start a private journald"
"$BACKLOGD" -c "$TEST_TMP/backlogd.conf" --log-target=journal 2>"$TEST_TMP/daemon.err" &
DAEMON=$!
TEST_PIDS+=("$DAEMON")
journal_wait 2 backlogd BACKLOGD_EVENT=full
kill -TERM "$DAEMON"
wait "$DAEMON"
check "journal: exit status on SIGTERM" "$?" 0
check "journal: daemon stderr" "$(cat "$TEST_TMP/daemon.err")" ""
journal_json backlogd BACKLOGD_EVENT=full >"$TEST_TMP/journal.json" || fail "journalctl"
# journal_raw EXPR: EXPR over the full entries e; v() is a field's bytes
# (journalctl writes a field that is not printable text as a byte array).
journal_raw() {
        "$PYTHON" -c '
import json, os, sys
e = [json.loads(line) for line in open(sys.argv[1])]
v = lambda x: bytes(x) if isinstance(x, list) else x.encode()
path = os.fsencode(os.environ["HOSTILE_PATH"])
abstract = b"@ab\xff\n\r\x1b]0;pwn\x07\"\\"
print(eval(sys.argv[2]))' "$TEST_TMP/journal.json" "$@" || fail "cannot evaluate $1"
}
check "journal: full entries" "$(journal_raw 'len(e)')" 2
check "journal: MESSAGE is text" "$(journal_raw '[type(x["MESSAGE"]).__name__ for x in e]')" "['str', 'str']"
check "journal: MESSAGE has no control byte" \
        "$(journal_raw '[any(ord(c) < 32 or ord(c) == 127 for c in x["MESSAGE"]) for x in e]')" "[False, False]"
check "journal: BACKLOGD_PATH, exactly" \
        "$(journal_raw 'sorted(v(x["BACKLOGD_PATH"]) in (path, abstract) for x in e)')" "[True, True]"
check "journal: both names" "$(journal_raw 'len(set(v(x["BACKLOGD_PATH"]) for x in e))')" 2
check "journal: BACKLOGD_COMM, exactly" \
        "$(journal_raw '[v(x["BACKLOGD_COMM"]) == b"\x1b[2J\nfull: evil" for x in e]')" "[True, True]"
check "journal: the path's MESSAGE" \
        "$(journal_raw '[x["MESSAGE"].startswith(sys.argv[3]) for x in e if v(x["BACKLOGD_PATH"]) == path]' \
                "Listen queue of $SHOWN_PATH of ")" "[True]"
journalctl -D "$JOURNAL_DIR" --no-pager -q SYSLOG_IDENTIFIER=backlogd >"$TEST_TMP/journal.txt"
check "journalctl: no [blob data]" "$(grep -c 'blob data' "$TEST_TMP/journal.txt")" 0
check "journalctl: the alerts" "$(grep -c 'is full: 2 of 2 ' "$TEST_TMP/journal.txt")" 2
finish
