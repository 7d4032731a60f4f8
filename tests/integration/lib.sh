# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Shared functions of the integration tests that run `backlogd --once`
# against the real kernel in a private network namespace.  Source it, then:
#
#   require_root; require_tools; enter_netns "$@"; setup_tmp
#
# Environment: BACKLOGD and QFILL (full paths; set by tests/meson.build).
# Exit codes follow meson: 0 pass, 1 fail, 77 skip.

set -u

# The PIDs this script started; the EXIT trap kills exactly these.
TEST_PIDS=()
TEST_TMP=

# The system's python3 (a version manager's shim in PATH can take 0.5 s a
# call; the tests call python3 often).
if [ -x /usr/bin/python3 ]; then
        PYTHON=/usr/bin/python3
else
        PYTHON=python3
fi

fail() {
        echo "FAIL: $*"
        exit 1
}

skip() {
        echo "SKIP: $*"
        exit 77
}

note() {
        echo "# $*"
}

require_root() {
        if [ "$(id -u)" -ne 0 ]; then
                skip "needs root to create a private network namespace (running as uid $(id -u))"
        fi
}

require_tools() {
        local t

        [ -n "${BACKLOGD:-}" ] || fail "BACKLOGD is not set (run through meson test)"
        [ -n "${QFILL:-}" ] || fail "QFILL is not set (run through meson test)"
        [ -x "$BACKLOGD" ] || fail "BACKLOGD=$BACKLOGD is not executable"
        [ -x "$QFILL" ] || fail "QFILL=$QFILL is not executable"
        for t in ss ip unshare python3 nstat mkfifo; do
                command -v "$t" >/dev/null || fail "missing tool: $t"
        done
}

# Re-executes the calling script in a new network and mount namespace (once:
# BACKLOGD_TEST_HOST_NETNS marks the second run and names the host's
# namespace, so we can check that we really left it), then brings lo up.
enter_netns() {
        local here

        here=$(readlink /proc/self/ns/net)
        if [ -z "${BACKLOGD_TEST_HOST_NETNS:-}" ]; then
                export BACKLOGD_TEST_HOST_NETNS="$here"
                # shellcheck disable=SC2093 # the fail below runs only if exec fails
                exec unshare --net --mount --propagation private -- \
                        bash "$(readlink -f "$0")" "$@"
                fail "cannot exec unshare"
        fi
        [ "$here" != "$BACKLOGD_TEST_HOST_NETNS" ] ||
                fail "still in the host network namespace $here"
        ip link set lo up || fail "cannot bring lo up"
        isolate_cgroup
        # Hermetic on a host where backlogd is installed: its configuration
        # (namespaces, metrics, watch list) would be every --once's and
        # daemon's default. Hidden in this private mount namespace.
        if [ -d /etc/backlogd ]; then
                mount -t tmpfs -o mode=0755 tmpfs /etc/backlogd || fail "cannot hide /etc/backlogd"
        fi
        # A login session's soft limit (1024) is too low for the tests that
        # open thousands of sockets; the hard limit is the machine's.
        ulimit -n "$(ulimit -Hn)" 2>/dev/null
        note "network namespace $here, somaxconn $(cat /proc/sys/net/core/somaxconn)"
}

cleanup() {
        local pid

        for pid in "${TEST_PIDS[@]}"; do
                kill -TERM "$pid" 2>/dev/null
        done
        for pid in "${TEST_PIDS[@]}"; do
                wait "$pid" 2>/dev/null
        done
        [ -n "$TEST_TMP" ] && rm -rf -- "$TEST_TMP"
        leave_cgroup
}

# The unified cgroup hierarchy's mount: /sys/fs/cgroup, or its "unified"
# directory on hosts with systemd's hybrid layout.
cgroup2_root() {
        if [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
                echo /sys/fs/cgroup/unified
        elif [ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
                echo /sys/fs/cgroup
        fi
}

# Moves this test into a cgroup of its own at the top of the hierarchy,
# named like no systemd unit: the sockets its processes create then have
# the same owner (no unit) whether the suite runs from CI, a login session
# (session-N.scope) or a service, and the expected sentences hold in all.
# Undone by cleanup().
TEST_CGROUP=
TEST_CGROUP_FROM=
isolate_cgroup() {
        local root
        root=$(cgroup2_root)
        [ -n "$root" ] || return 0
        TEST_CGROUP_FROM=$root$(sed -n 's/^0:://p' /proc/self/cgroup)
        TEST_CGROUP=$root/backlogd-test-$$
        { mkdir "$TEST_CGROUP" && echo $$ >"$TEST_CGROUP/cgroup.procs"; } ||
                fail "cannot move the test into a cgroup of its own ($TEST_CGROUP)"
}

leave_cgroup() {
        local pid pids

        [ -n "$TEST_CGROUP" ] || return 0
        # What still runs there (a journald the trap stops next) goes back
        # too, so that the cgroup can go. Read the list first: it changes
        # as processes leave.
        pids=$(cat "$TEST_CGROUP/cgroup.procs" 2>/dev/null)
        for pid in $pids; do
                echo "$pid" >"$TEST_CGROUP_FROM/cgroup.procs" 2>/dev/null
        done
        # Processes that just exited may keep it populated a moment.
        for _ in 1 2 3 4 5 6 7 8 9 10; do
                rmdir "$TEST_CGROUP" 2>/dev/null && break
                sleep 0.1
        done
        TEST_CGROUP=
}

setup_tmp() {
        TEST_TMP=$(mktemp -d /tmp/backlogd-integ.XXXXXX) || fail "mktemp"
        trap cleanup EXIT
}

# wait_lines FILE REGEX COUNT SECONDS [PID]: waits until FILE holds at least
# COUNT lines matching REGEX; fails after SECONDS or when PID has exited.
wait_lines() {
        local file=$1 re=$2 count=$3 secs=$4 pid=${5:-} i n

        for ((i = 0; i < secs * 20; i++)); do
                n=$(grep -c -E -- "$re" "$file" 2>/dev/null)
                [ "${n:-0}" -ge "$count" ] && return 0
                if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
                        break
                fi
                sleep 0.05
        done
        echo "--- $file:"
        cat "$file" 2>/dev/null
        echo "--- ${file%.out}.err:"
        cat "${file%.out}.err" 2>/dev/null
        fail "no $count line(s) matching '$re' in $file within $secs s"
}

# qfill_start NAME SPEC...: starts qfill (see tests/helpers/qfill.c) with its
# stdin on a FIFO we hold open, and waits (bounded) for "ready".  Sets
# QFILL_FD_<NAME> and QFILL_PID_<NAME>; its output is in $TEST_TMP/NAME.out.
qfill_start() {
        local name=$1 fd pid
        shift

        mkfifo "$TEST_TMP/$name.in" || fail "mkfifo"
        "$QFILL" -t 110 "$@" <"$TEST_TMP/$name.in" >"$TEST_TMP/$name.out" \
                2>"$TEST_TMP/$name.err" &
        pid=$!
        TEST_PIDS+=("$pid")
        exec {fd}>"$TEST_TMP/$name.in"
        printf -v "QFILL_FD_$name" %s "$fd"
        printf -v "QFILL_PID_$name" %s "$pid"
        wait_lines "$TEST_TMP/$name.out" '^ready$' 1 15 "$pid"
        note "qfill $name ($*): $(grep -c '^listener' "$TEST_TMP/$name.out") listener(s) ready"
}

# qfill_cmd NAME COMMAND REPLY_REGEX: sends one command line and waits for
# one more reply line matching REPLY_REGEX.
qfill_cmd() {
        local name=$1 cmd=$2 re=$3 fdvar="QFILL_FD_$1" pidvar="QFILL_PID_$1" n

        n=$(grep -c -E -- "$re" "$TEST_TMP/$name.out")
        echo "$cmd" >&"${!fdvar}" || fail "cannot write to qfill $name"
        wait_lines "$TEST_TMP/$name.out" "$re" $((n + 1)) 15 "${!pidvar}"
}

# qfill_field NAME IDX FIELD: a field of qfill's "listener" line IDX:
# addr port backlog inode established pending.
qfill_field() {
        local name=$1 idx=$2 field=$3 col

        case $field in
        addr) col=3 ;; port) col=4 ;; backlog) col=5 ;; inode) col=6 ;;
        established) col=7 ;; pending) col=8 ;;
        *) fail "qfill_field: unknown field $field" ;;
        esac
        awk -v i="$idx" -v c="$col" '$1 == "listener" && $2 == i { print $c }' \
                "$TEST_TMP/$name.out"
}

# run_backlogd OUTFILE ARGS...: runs $BACKLOGD ARGS (bounded), stdout to
# OUTFILE; fails unless it exits 0.
run_backlogd() {
        local out=$1 rc
        shift

        rm -f -- "$out.rows"
        timeout 20 "$BACKLOGD" "$@" >"$out" 2>"$out.err"
        rc=$?
        if [ "$rc" -ne 0 ]; then
                echo "--- stdout:"
                cat "$out"
                echo "--- stderr:"
                cat "$out.err"
                fail "backlogd $* exited $rc"
        fi
}

# ss_snapshot OUTFILE: the kernel's view of every TCP listener as JSON, one
# object per listener: family, address (no brackets), port, depth (Recv-Q),
# backlog (Send-Q), drops (skmem d<N>), inode (ino:N), cookie (sk:, decimal).
ss_snapshot() {
        local out=$1

        ss -ltnmHe >"$out.raw" || fail "ss -ltnmHe failed"
        "$PYTHON" - "$out.raw" "$out" <<'EOF' || fail "cannot parse ss output"
import json, re, sys

text = open(sys.argv[1]).read()
# skmem continues a record on a line starting with a tab.
records, cur = [], None
for line in text.splitlines():
    if not line.strip():
        continue
    if line[0] in " \t" and cur is not None:
        cur += " " + line.strip()
    else:
        if cur is not None:
            records.append(cur)
        cur = line.strip()
if cur is not None:
    records.append(cur)

rows = []
for r in records:
    f = r.split()
    if f[0] != "LISTEN":
        raise SystemExit("unexpected ss record: " + r)
    local = f[3]
    host, port = local.rsplit(":", 1)
    host = host.split("%")[0]
    if host == "*":
        family, address = "inet6", "::"
    elif host.startswith("["):
        family, address = "inet6", host[1:-1]
    else:
        family, address = "inet", host
    ino = re.search(r"\bino:(\d+)", r)
    sk = re.search(r"\bsk:([0-9a-f]+)", r)
    d = re.search(r"skmem:\([^)]*\bd(\d+)\)", r)
    if not (ino and d):
        raise SystemExit("no ino:/d in ss record: " + r)
    rows.append({"family": family, "address": address, "port": int(port),
                 "depth": int(f[1]), "backlog": int(f[2]),
                 "drops": int(d.group(1)), "inode": int(ino.group(1)),
                 "cookie": str(int(sk.group(1), 16)) if sk else None})
json.dump(rows, open(sys.argv[2], "w"), indent=1)
EOF
}

# ss_drops INODE: the drop count ss shows for the listener with that inode.
ss_drops() {
        ss -ltnmHe | tr '\n' ' ' | sed 's/LISTEN/\nLISTEN/g' |
                grep -E "ino:$1( |$)" | grep -oE 'skmem:\([^)]*\)' | grep -oE 'd[0-9]+\)' | tr -dc 0-9
}

# json_get FILE EXPR: evaluates the Python expression EXPR with `j` bound to
# the JSON document in FILE and prints the result (str for scalars).
json_get() {
        "$PYTHON" -c '
import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list)) else v)
' "$1" "$2" || fail "cannot evaluate $2 on $1"
}

# check NAME GOT WANT: prints the comparison and counts failures in
# TEST_FAILED; every check is printed so a pass is never silent.
TEST_FAILED=0
TEST_CHECKED=0
check() {
        TEST_CHECKED=$((TEST_CHECKED + 1))
        if [ "$2" = "$3" ]; then
                echo "ok: $1 = $3"
        else
                echo "MISMATCH: $1: got '$2', want '$3'"
                TEST_FAILED=$((TEST_FAILED + 1))
        fi
}

# finish: the verdict; fails when nothing was checked.
finish() {
        [ "$TEST_CHECKED" -gt 0 ] || fail "no comparison was made"
        if [ "$TEST_FAILED" -gt 0 ]; then
                echo "$TEST_FAILED of $TEST_CHECKED checks failed"
                exit 1
        fi
        echo "all $TEST_CHECKED checks passed"
        exit 0
}

# bl_rows FILE: the listeners of a `backlogd --once --json` output, one line
# each: inode family address port depth backlog capacity fill state drops
# cookie (fill with 4 decimals).  Fails on output that is not that JSON.
bl_rows() {
        "$PYTHON" - "$1" <<'PY' || fail "cannot read backlogd JSON in $1"
import json, sys
j = json.load(open(sys.argv[1]))
for l in j["listeners"]:
    print(l["inode"], l["family"], l["address"], l["port"], l["depth"],
          l["backlog"], l["capacity"], "%.4f" % l["fill"], l["state"],
          l["drops"], l["cookie"])
PY
}

# bl_field FILE INODE FIELD: one field of the listener with that inode;
# fails unless exactly one listener has it.
bl_field() {
        local file=$1 inode=$2 field=$3 col n

        case $field in
        family) col=2 ;; address) col=3 ;; port) col=4 ;; depth) col=5 ;;
        backlog) col=6 ;; capacity) col=7 ;; fill) col=8 ;; state) col=9 ;;
        drops) col=10 ;; cookie) col=11 ;;
        *) fail "bl_field: unknown field $field" ;;
        esac
        [ -s "$file.rows" ] || bl_rows "$file" >"$file.rows"
        n=$(awk -v i="$inode" '$1 == i' "$file.rows" | wc -l)
        [ "$n" -eq 1 ] || {
                cat "$file"
                fail "backlogd shows $n listeners with inode $inode, want 1"
        }
        awk -v i="$inode" -v c="$col" '$1 == i { print $c }' "$file.rows"
}
