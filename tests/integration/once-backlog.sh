#!/bin/bash
# SPDX-License-Identifier: MIT
# The accept queue experiment: a listener with listen(b) holds b+1
# connections.  For b = 0..4, on 127.0.0.1 and on [::1], b+1 clients must
# show as depth b+1, backlog b, capacity b+1, fill 1.0, state "full" in
# `backlogd --once --json`; one more client is dropped, and backlogd's drop
# count must then be >= 1 and equal to ss's d<N>.  One table row is checked
# as text too.
# shellcheck source=lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"

require_root
require_tools
enter_netns "$@"
setup_tmp

specs=()
for b in 0 1 2 3 4; do
        specs+=("127.0.0.1:$((8100 + b)):$b:c=$((b + 1))")
        specs+=("[::1]:$((8110 + b)):$b:c=$((b + 1))")
done
qfill_start q "${specs[@]}"
n=${#specs[@]}

# 1. Exactly full: depth b+1, no drops yet.
out=$TEST_TMP/full.json
run_backlogd "$out" --once --json
check "listener count" "$(bl_rows "$out" | wc -l)" "$n"
for ((i = 0; i < n; i++)); do
        b=$((i / 2))
        ino=$(qfill_field q "$i" inode)
        what="$(qfill_field q "$i" addr):$(qfill_field q "$i" port) listen($b)"
        check "$what family" "$(bl_field "$out" "$ino" family)" \
                "$([ $((i % 2)) -eq 0 ] && echo inet || echo inet6)"
        check "$what address" "$(bl_field "$out" "$ino" address)" \
                "$([ $((i % 2)) -eq 0 ] && echo 127.0.0.1 || echo ::1)"
        check "$what port" "$(bl_field "$out" "$ino" port)" "$(qfill_field q "$i" port)"
        check "$what depth" "$(bl_field "$out" "$ino" depth)" "$((b + 1))"
        check "$what backlog" "$(bl_field "$out" "$ino" backlog)" "$b"
        check "$what capacity" "$(bl_field "$out" "$ino" capacity)" "$((b + 1))"
        check "$what fill" "$(bl_field "$out" "$ino" fill)" "1.0000"
        check "$what state" "$(bl_field "$out" "$ino" state)" "full"
        check "$what drops before overflow" "$(bl_field "$out" "$ino" drops)" "0"
done

# The same for a person: the table row of listen(2) on 127.0.0.1:8102.
table=$TEST_TMP/table.txt
run_backlogd "$table" --once --port 8102
echo "--- backlogd --once --port 8102:"
cat "$table"
check "table header" "$(grep -m1 -E '^LISTEN ' "$table" | tr -s ' ')" \
        "LISTEN DEPTH BACKLOG FILL STATE DROPS WAIT UID OWNER"
check "table rows for 127.0.0.1:8102" "$(grep -c -E '^127\.0\.0\.1:8102 ' "$table")" 1
check "table row 127.0.0.1:8102" \
        "$(awk '$1 == "127.0.0.1:8102" { print $1, $2, $3, $4, $5, $6, ($7 ~ /^[0-9]+\.[0-9]s$/ ? "waited" : $7), $8 }' "$table")" \
        "127.0.0.1:8102 3 2 100% full 0 waited 0"
check "table listener rows with --port 8102" \
        "$(grep -c -E '^(\[[0-9a-f:]*\]|[0-9.]+|\*):[0-9]+ ' "$table")" 1

# 2. One more connection attempt each: its SYN is dropped.
for ((i = 0; i < n; i++)); do
        qfill_cmd q "pend $i 1" '^ready$'
done
out=$TEST_TMP/drop.json
for ((try = 0; try < 60; try++)); do
        run_backlogd "$out" --once --json
        bl_rows "$out" | awk '$10 == 0 { z++ } END { exit z > 0 }' && break
        sleep 0.05
done
note "drops seen after $try extra polls"
for ((i = 0; i < n; i++)); do
        ino=$(qfill_field q "$i" inode)
        what="$(qfill_field q "$i" addr):$(qfill_field q "$i" port) listen($((i / 2)))"
        d=$(bl_field "$out" "$ino" drops)
        check "$what drops >= 1 after one more client" "$([ "$d" -ge 1 ] && echo yes || echo "no ($d)")" yes
done

# 3. Stop the retransmissions, then backlogd and ss must agree exactly.
qfill_cmd q close-pending '^closed '
sleep 0.2
out=$TEST_TMP/stable.json
run_backlogd "$out" --once --json
for ((i = 0; i < n; i++)); do
        b=$((i / 2))
        ino=$(qfill_field q "$i" inode)
        what="$(qfill_field q "$i" addr):$(qfill_field q "$i" port) listen($b)"
        d=$(ss_drops "$ino")
        check "$what drops (ss d$d)" "$(bl_field "$out" "$ino" drops)" "$d"
        check "$what ss drops >= 1" "$([ "${d:-0}" -ge 1 ] && echo yes || echo "no ($d)")" yes
        check "$what depth after overflow" "$(bl_field "$out" "$ino" depth)" "$((b + 1))"
        check "$what state after overflow" "$(bl_field "$out" "$ino" state)" full
done
finish
