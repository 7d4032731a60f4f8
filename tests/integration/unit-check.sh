#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Checks the generated service unit and the journal catalog:
# - ExecStart= names the installed binary;
# - `systemd-analyze verify` is silent (it needs ExecStart= to exist, so a
#   copy pointing at the built binary is verified);
# - `systemd-analyze security --offline=true` exposure is at most 1.2, and
#   with each optional drop-in the figure its comment states;
# - the catalog compiles and documents exactly the ids of message-ids.h.
#
# usage: unit-check.sh SERVICE_FILE BUILT_BINARY INSTALLED_BINARY SOURCE_ROOT
set -u

service=${1:?} built=$(realpath "${2:?}") installed=${3:?} src=${4:?}
max_exposure=1.2

for tool in systemd-analyze journalctl; do
        if ! command -v "$tool" >/dev/null; then
                echo "SKIP: $tool not installed"
                exit 77
        fi
done

# Hermetic on a host where backlogd is installed with drop-ins: the offline
# analysis would add /etc/systemd/system/backlogd.service.d to the unit
# under test. As root, hide the system's unit directories in a private
# mount namespace.
if [ "$(id -u)" -eq 0 ] && [ -z "${UNIT_CHECK_ISOLATED:-}" ]; then
        export UNIT_CHECK_ISOLATED=1
        exec unshare --mount --propagation private -- bash "$(readlink -f "$0")" "$@"
fi
if [ -n "${UNIT_CHECK_ISOLATED:-}" ]; then
        for d in /etc/systemd/system /run/systemd/system; do
                [ -d "$d" ] && mount -t tmpfs tmpfs "$d"
        done
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
        echo "FAIL - $*"
        failures=$((failures + 1))
}

exec_start=$(sed -n 's/^ExecStart=//p' "$service")
if [ "$exec_start" == "$installed" ]; then
        echo "ok - ExecStart=$exec_start"
else
        fail "ExecStart: expected '$installed', got '$exec_start'"
fi

# verify WHAT: `systemd-analyze verify` of the unit (with the drop-ins in
# its .d directory) must succeed and say nothing.
verify() {
        local out rc
        out=$(systemd-analyze verify --man=no "$tmp/unit/backlogd.service" 2>&1)
        rc=$?
        if [ $rc -eq 0 ] && [ -z "$out" ]; then
                echo "ok - systemd-analyze verify$1"
        else
                fail "systemd-analyze verify$1 (rc $rc): $out"
        fi
}

mkdir "$tmp/unit"
sed "s|^ExecStart=.*|ExecStart=$built|" "$service" >"$tmp/unit/backlogd.service"
verify ""

report=$(systemd-analyze security --offline=true "$tmp/unit/backlogd.service" 2>&1)
score=$(sed -n 's/.*Overall exposure level for backlogd.service: \([0-9.]*\).*/\1/p' <<<"$report")
if [ -z "$score" ]; then
        fail "no exposure level in: $report"
elif awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }'; then
        echo "ok - exposure $score <= $max_exposure"
else
        grep '✗' <<<"$report"
        fail "exposure $score > $max_exposure"
fi

# The optional drop-ins must load cleanly on top of the unit; those that
# grant capabilities state the exposure they lead to ("scores the unit with
# it X"), which must be what systemd-analyze says.
for dropin in processes namespaces metrics unprivileged; do
        rm -rf "$tmp/unit/backlogd.service.d"
        mkdir "$tmp/unit/backlogd.service.d"
        cp "$src/systemd/backlogd-$dropin.conf.example" "$tmp/unit/backlogd.service.d/$dropin.conf"
        verify " with the $dropin drop-in"
        line=$(systemd-analyze security --offline=true "$tmp/unit/backlogd.service" 2>&1 |
                grep 'Overall exposure')
        echo "# with the $dropin drop-in: $line"
        got=$(sed -n 's/.*Overall exposure level for backlogd.service: \([0-9.]*\).*/\1/p' <<<"$line")
        stated=$(sed 's/^# *//' "$src/systemd/backlogd-$dropin.conf.example" | tr '\n' ' ' |
                sed -n 's/.*scores the unit with it \([0-9.]*\) .*/\1/p')
        if [ -z "$stated" ]; then
                [ "$dropin" = metrics ] || fail "the $dropin drop-in states no exposure"
        elif [ "$got" = "$stated" ]; then
                echo "ok - exposure with the $dropin drop-in $got, as its comment states"
        else
                fail "exposure with the $dropin drop-in: $got, its comment states $stated"
        fi
done
rm -rf "$tmp/unit/backlogd.service.d"

root=$tmp/root
mkdir -p "$root/usr/lib/systemd/catalog" "$root/var/lib/systemd/catalog"
cp "$src/systemd/backlogd.catalog" "$root/usr/lib/systemd/catalog/"
if ! out=$(journalctl --root="$root" --update-catalog 2>&1) || [ -n "$out" ]; then
        fail "catalog does not compile cleanly: $out"
fi
header_ids=$(sed -n 's/^#define MESSAGE_ID_[A-Z_]* *"\([0-9a-f]\{32\}\)".*/\1/p' \
        "$src/include/message-ids.h" | sort)
catalog_ids=$(journalctl --root="$root" --list-catalog 2>/dev/null | \
        awk '$2 == "backlogd:" { print $1 }' | sort)
if [ "$(wc -l <<<"$header_ids")" -ne 16 ]; then
        fail "expected 16 ids in message-ids.h, got: $header_ids"
elif [ "$header_ids" != "$catalog_ids" ]; then
        fail "catalog ids differ from message-ids.h: $(diff <(echo "$header_ids") <(echo "$catalog_ids"))"
else
        echo "ok - catalog documents the 16 ids of message-ids.h"
fi
# Every entry has its subject and the fields the format requires.
n=$(grep -c '^-- [0-9a-f]\{32\}$' "$src/systemd/backlogd.catalog")
for key in Subject Defined-By Documentation; do
        k=$(grep -c "^$key: " "$src/systemd/backlogd.catalog")
        [ "$k" -eq "$n" ] || fail "$key: on $k of $n entries"
done

[ "$failures" -eq 0 ] && echo "unit and catalog: all checks passed"
[ "$failures" -eq 0 ]
