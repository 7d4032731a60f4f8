#!/bin/bash
# SPDX-License-Identifier: MIT
#
# `backlogd --check-config` runs as root with every capability and reads
# any file; the shipped unit runs backlogd as uid 0 without capabilities,
# the unprivileged drop-in as a transient uid. After a successful check it
# notes on stderr which of the two could not read the file (exit status 0).
# For each owner and mode below this checks the exact notes, and that they
# agree with the kernel: `cat` as uid 0 without capabilities and as an
# unused uid, through setpriv, fails exactly when a note says so.
#
# Environment: BACKLOGD (set by tests/meson.build).
set -u

fail() {
        echo "FAIL: $*"
        exit 1
}
if [ "$(id -u)" -ne 0 ]; then
        echo "SKIP: needs root to give the test files other owners (running as uid $(id -u))"
        exit 77
fi
[ -x "${BACKLOGD:-}" ] || fail "BACKLOGD is not set (run through meson test)"
command -v setpriv >/dev/null || fail "missing tool: setpriv"

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"
mkdir "$tmp/d"
conf=$tmp/d/backlogd.conf
printf 'warn = 90;\n' >"$conf"
# A uid no process and no file here uses: DynamicUser= picks 61184..65519.
transient=61184
root_as="as backlogd.service runs it (uid 0 without capabilities)"
transient_as="with backlogd-unprivileged.conf.example (a transient uid)"
checks=0

# case DIR_MODE DIR_OWNER FILE_MODE FILE_OWNER EXPECTED_STDERR
case_() {
        local dmode=$1 downer=$2 fmode=$3 fowner=$4 want=$5 out err rc root_ok=yes tr_ok=yes

        if ! { chown "$downer" "$tmp/d" && chmod "$dmode" "$tmp/d" && chown "$fowner" "$conf" &&
                chmod "$fmode" "$conf"; }; then
                fail "cannot set up $*"
        fi
        out=$("$BACKLOGD" --check-config -c "$conf" 2>"$tmp/err")
        rc=$?
        # The shipped unit's note on stderr, the unprivileged variant's as
        # a comment before the configuration on stdout: both compared as
        # one list, in that order.
        err=$(cat "$tmp/err"; grep '^# note: ' <<<"$out" | sed 's/^# note:/backlogd: note:/')
        err=${err#$'\n'}
        [ "$rc" -eq 0 ] || fail "dir $dmode $downer, file $fmode $fowner: exit $rc: $err"
        grep -qx 'warn = 90;' <<<"$out" || fail "dir $dmode $downer, file $fmode $fowner: no normalised config: $out"
        [ "$err" == "$want" ] ||
                fail "dir $dmode $downer, file $fmode $fowner: stderr"$'\n'"$err"$'\n'"expected"$'\n'"$want"

        setpriv --bounding-set=-all --inh-caps=-all --clear-groups cat "$conf" >/dev/null 2>&1 || root_ok=no
        setpriv --reuid=$transient --regid=$transient --clear-groups cat "$conf" >/dev/null 2>&1 || tr_ok=no
        if grep -qF "$root_as" <<<"$err"; then [ $root_ok == no ]; else [ $root_ok == yes ]; fi ||
                fail "dir $dmode $downer, file $fmode $fowner: uid 0 without capabilities reads it: $root_ok"
        if grep -qF "$transient_as" <<<"$err"; then [ $tr_ok == no ]; else [ $tr_ok == yes ]; fi ||
                fail "dir $dmode $downer, file $fmode $fowner: a transient uid reads it: $tr_ok"
        checks=$((checks + 1))
        echo "ok - dir $dmode $downer, file $fmode $fowner: root $root_ok, transient $tr_ok"
}

n="backlogd: note: the service could not read $conf"
case_ 0755 0:0 0644 0:0 ""
case_ 0755 1000:1000 0644 1000:1000 ""
case_ 0755 0:0 0600 0:0 "$n $transient_as: file mode 0600, owner uid 0, group 0"
case_ 0755 0:0 0640 0:0 "$n $transient_as: file mode 0640, owner uid 0, group 0"
case_ 0755 0:0 0600 1000:1000 "$n $root_as: file mode 0600, owner uid 1000, group 1000
$n $transient_as: file mode 0600, owner uid 1000, group 1000"
# Group 0 reads it for uid 0; the owner class is not uid 0's.
case_ 0755 0:0 0640 1000:0 "$n $transient_as: file mode 0640, owner uid 1000, group 0"
# Owned by uid 0 without the owner read bit: the other bits do not help.
case_ 0755 0:0 0044 0:0 "$n $root_as: file mode 0044, owner uid 0, group 0"
case_ 0700 0:0 0644 0:0 "$n $transient_as: directory $tmp/d mode 0700, owner uid 0, group 0"
case_ 0700 1000:1000 0644 0:0 "$n $root_as: directory $tmp/d mode 0700, owner uid 1000, group 1000
$n $transient_as: directory $tmp/d mode 0700, owner uid 1000, group 1000"

# The note names the path as given, and follows a link to the file.
chown 0:0 "$tmp/d" && chmod 0755 "$tmp/d" && chown 1000:1000 "$conf" && chmod 0600 "$conf"
ln -s d/backlogd.conf "$tmp/link.conf"
err=$("$BACKLOGD" --check-config -c "$tmp/link.conf" 2>/dev/null | grep '^# note: ' | sed 's/^# note:/backlogd: note:/'
      "$BACKLOGD" --check-config -c "$tmp/link.conf" 2>&1 >/dev/null)
err=$(sort <<<"$err")
want=$(sort <<<"backlogd: note: the service could not read $tmp/link.conf $root_as: file mode 0600, owner uid 1000, group 1000
backlogd: note: the service could not read $tmp/link.conf $transient_as: file mode 0600, owner uid 1000, group 1000")
[ "$err" == "$want" ] || fail "through a link: $err"
echo "ok - through a link"
echo "all $((checks + 1)) passed"
