#!/bin/bash
# SPDX-License-Identifier: MIT
# A mixed population of listeners (IPv4, IPv6, wildcards, dual-stack, an
# SO_REUSEPORT group of 3, backlogs 0..4096, empty to overflowing): once the
# pending clients are closed, every listener's family, address, port, depth,
# backlog, drops and cookie in `backlogd --once --json` must equal what
# `ss -ltnmHe` shows for the same inode, with the same count of listeners;
# the table must list them fullest first; --port filters must select
# exactly the expected subset.
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"

require_root
require_tools
enter_netns "$@"
setup_tmp

# spec                                   depth/capacity  what
specs=(
        "127.0.0.1:8080:0:c=1"          # 1/1 full
        "[::1]:8080:5:c=3"              # 3/6 partial
        "0.0.0.0:8081:128"              # 0/129 empty, IPv4 wildcard
        "[::]:8082:1:c=4"               # 2/2 full + 2 dropped, dual-stack
        "[::]:8083:5:c=5:v6only"        # 5/6 high, IPv6-only wildcard
        "127.0.0.1:8090:2:c=4:reuseport" # 3/3 full + 1 dropped
        "127.0.0.1:8090:5:c=1:reuseport" # 1/6
        "127.0.0.1:8090:0:reuseport"    # 0/1 empty
        "[::1]:9000:4096:c=200"         # 200/4097
        "127.0.0.1:8099:1:c=2"          # 2/2 full, upper edge of 8000-8099
        "127.0.0.1:8000:3:c=1"          # 1/4, lower edge
        "127.0.0.1:8100:3:c=1"          # outside 8000-8099
        "127.0.0.1:7999:0"              # outside 8000-8099
        "[::]:8084:0:c=1:to=127.0.0.1"  # dual-stack reached over IPv4, full
        "[::]:8085:1:c=3:to=127.0.0.1"  # the same, + 1 dropped
)
qfill_start q "${specs[@]}"
n=${#specs[@]}
cat "$TEST_TMP/q.out"

# Let the dropped clients retransmit once (1 s RTO) so drops exceed 1.
sleep 1.3
qfill_cmd q close-pending '^closed '
sleep 0.2

# compare BACKLOGD_JSON SS_JSON QFILL_OUT LABEL [LO HI]: backlogd's listeners
# against ss's (restricted to ports LO..HI) and against what qfill built.
compare() {
        "$PYTHON" - "$@" <<'PY'
import json, sys

bl_file, ss_file, q_file, label = sys.argv[1:5]
lo, hi = (int(sys.argv[5]), int(sys.argv[6])) if len(sys.argv) > 6 else (0, 65535)
bl = json.load(open(bl_file))["listeners"]
ss = [r for r in json.load(open(ss_file)) if lo <= r["port"] <= hi]
mine = {}
for line in open(q_file):
    f = line.split()
    if f[0] == "listener":
        mine[int(f[5])] = {"port": int(f[3]), "backlog": int(f[4]), "depth": int(f[6])}
bad = 0
n_checks = 0
def check(what, got, want):
    global bad, n_checks
    n_checks += 1
    if got == want:
        print("ok: %s: %s = %r" % (label, what, want))
    else:
        print("MISMATCH: %s: %s: backlogd %r, want %r" % (label, what, got, want))
        bad += 1

check("listener count (ss)", len(bl), len(ss))
by_ino = {}
for l in bl:
    if l["inode"] in by_ino:
        check("inode %d listed once" % l["inode"], 2, 1)
    by_ino[l["inode"]] = l
check("inodes (ss)", sorted(by_ino), sorted(r["inode"] for r in ss))
check("qfill listeners in range shown",
      sorted(i for i, m in mine.items() if lo <= m["port"] <= hi),
      sorted(i for i in by_ino if i in mine))
for r in ss:
    l = by_ino.get(r["inode"])
    name = "%s %s:%d ino %d" % (r["family"], "[%s]" % r["address"] if r["family"] == "inet6"
                                else r["address"], r["port"], r["inode"])
    if l is None:
        continue
    for k in ("family", "address", "port", "depth", "backlog", "drops"):
        check("%s %s" % (name, k), l[k], r[k])
    if r["cookie"] is not None:
        check("%s cookie (ss sk:)" % name, l["cookie"], r["cookie"])
    cap = r["backlog"] + 1
    check("%s capacity" % name, l["capacity"], cap)
    # fill is depth/capacity rounded down to 3 decimals: a queue that
    # is not full never reads 1.000.
    want = (r["depth"] * 1000 // cap) / 1000
    check("%s fill" % name, "%.3f" % l["fill"], "%.3f" % want)
    pct = r["depth"] * 100 // cap
    state = "full" if r["depth"] >= cap else ("high" if pct >= 80 else "ok")
    check("%s state (fill %d%%)" % (name, pct), l["state"], state)
    m = mine.get(r["inode"])
    if m:
        check("%s depth as built" % name, l["depth"], m["depth"])
        check("%s backlog as built" % name, l["backlog"], m["backlog"])
print("%s: %d mismatches in %d checks" % (label, bad, n_checks))
sys.exit(1 if bad else 0)
PY
}

all=$TEST_TMP/all.json
run_backlogd "$all" --once --json
ss_snapshot "$TEST_TMP/ss.json"
echo "--- ss -ltnmHe:"
cat "$TEST_TMP/ss.json.raw"
if compare "$all" "$TEST_TMP/ss.json" "$TEST_TMP/q.out" "all"; then r=same; else r=differ; fi
check "backlogd --once --json vs ss, all listeners" "$r" same
check "listener count" "$(bl_rows "$all" | wc -l)" "$n"

# Drops really happened where clients were turned away.
for i in 3 5 14; do
        ino=$(qfill_field q "$i" inode)
        d=$(bl_field "$all" "$ino" drops)
        check "${specs[$i]} dropped >= 2 (SYN + a retransmit)" \
                "$([ "$d" -ge 2 ] && echo yes || echo "no ($d)")" yes
done

# The reuseport group: three sockets on one port, each its own queue.
check "127.0.0.1:8090 group (depth backlog), sorted" \
        "$(bl_rows "$all" | awk '$4 == 8090 { print $5, $6 }' | sort | tr '\n' ,)" \
        "0 0,1 5,3 2,"

# Filters.
for filter in 8080 8000-8099 8090; do
        lo=${filter%-*}
        hi=${filter#*-}
        f=$TEST_TMP/port-$filter.json
        run_backlogd "$f" --once --json --port "$filter"
        if compare "$f" "$TEST_TMP/ss.json" "$TEST_TMP/q.out" "--port $filter" "$lo" "$hi"; then
                r=same
        else
                r=differ
        fi
        check "--port $filter vs ss" "$r" same
done
check "--port 8080 listeners" \
        "$(bl_rows "$TEST_TMP/port-8080.json" | awk '{ print $3 }' | sort | tr '\n' ,)" \
        "127.0.0.1,::1,"
check "--port 8000-8099 count" "$(bl_rows "$TEST_TMP/port-8000-8099.json" | wc -l)" 12
f=$TEST_TMP/port-none.json
run_backlogd "$f" --once --json --port 65000
check "--port 65000 (no listener) count" "$(bl_rows "$f" | wc -l)" 0
for bad in "--port 0" "--port 9-3" "--port 70000" "--port x" "--bogus"; do
        # shellcheck disable=SC2086 # split on purpose
        timeout 20 "$BACKLOGD" --once $bad >"$TEST_TMP/usage.out" 2>&1
        check "exit code of backlogd --once $bad (usage error)" "$?" 64
done
f=$TEST_TMP/port-two.json
run_backlogd "$f" --once --json --port 8080 --port 9000
check "--port 8080 --port 9000 ports" \
        "$(bl_rows "$f" | awk '{ print $4 }' | sort | tr '\n' ,)" "8080,8080,9000,"

# The table: header, one row per listener, fullest first, endpoints.
table=$TEST_TMP/table.txt
run_backlogd "$table" --once
echo "--- backlogd --once:"
cat "$table"
check "table header" "$(grep -m1 -E '^LISTEN ' "$table" | tr -s ' ')" \
        "LISTEN DEPTH BACKLOG FILL STATE DROPS WAIT UID OWNER"
rows=$TEST_TMP/table.rows
grep -E '^(\[[0-9a-f:]*\]|[0-9.]+|\*):[0-9]+ ' "$table" >"$rows"
check "table rows" "$(wc -l <"$rows")" "$n"
check "table fill column is non-increasing (fullest first)" \
        "$(awk '{ f = $4 + 0; if (NR > 1 && f > prev) bad = 1; prev = f } END { print bad ? "no" : "yes" }' "$rows")" yes
check "table endpoints" "$(awk '{ print $1 }' "$rows" | sort | tr '\n' ' ')" \
        "$(printf '%s\n' '*:8081' '*:8082' '*:8083' '*:8084' '*:8085' '127.0.0.1:7999' \
                '127.0.0.1:8000' '127.0.0.1:8080' '127.0.0.1:8090' '127.0.0.1:8090' \
                '127.0.0.1:8090' '127.0.0.1:8099' '127.0.0.1:8100' '[::1]:8080' '[::1]:9000' |
                sort | tr '\n' ' ')"
check "table row [::1]:8080" "$(awk '$1 == "[::1]:8080" { print $2, $3, $4, $5 }' "$rows")" "3 5 50% ok"
check "table row *:8083" "$(awk '$1 == "*:8083" { print $2, $3, $4, $5 }' "$rows")" "5 5 83% high"
check "table row *:8082" "$(awk '$1 == "*:8082" { print $2, $3, $4, $5, ($6 >= 2 ? "dropped" : $6) }' "$rows")" \
        "2 1 100% full dropped"
finish
