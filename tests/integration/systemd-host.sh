#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The operator's path on a real systemd host: boots Debian 12 in a
# container (systemd-nspawn, --private-network), installs backlogd exactly
# as README.md says, and checks every documented path of the installed
# service: status line, exposure, alerts in the journal with the catalog,
# reload (good and broken), the metrics file served by node_exporter's
# textfile collector, the two optional drop-ins, a journald restart, stop.
#
# The Debian root is built with debootstrap once and cached as a tarball
# under /var/tmp/backlogd-test/, keyed by its package lists (README's
# apt-get line included) and the mirror; the packages README installs are
# downloaded into it then, so the container needs no network.
#
# usage: systemd-host.sh [SOURCE_ROOT]   (root; meson passes the source root)
set -u

here=$(dirname "$(readlink -f "$0")")
# shellcheck source=lib.sh
. "$here/lib.sh"

src=$(readlink -f "${1:-$here/../..}")
cache_dir=/var/tmp/backlogd-test
machine=backlogd-test-$$
t0=$SECONDS

if [ "$(id -u)" -ne 0 ]; then
        skip "needs root to build and boot a container (running as uid $(id -u))"
fi
# Inside a systemd-nspawn container (the one this test boots, running the
# suite) another cannot be booted; other containers (this machine is one)
# can, as root.
if [ "$(systemd-detect-virt --container 2>/dev/null)" = systemd-nspawn ]; then
        skip "runs inside a systemd-nspawn container: cannot boot another one in it"
fi
for t in debootstrap systemd-nspawn nsenter tar chroot sha256sum; do
        command -v "$t" >/dev/null || fail "missing tool: $t (apt-get install debootstrap systemd-container)"
done
[ -r "$src/README.md" ] || fail "no README.md in $src"

# --- What README installs ------------------------------------------------

# README's first command, up to the foreground daemon it ends with: the
# apt-get line, the build and `backlogd --once`.
readme_cmd=$(awk '/^```sh$/ { getline; print; exit }' "$src/README.md")
case $readme_cmd in
"apt-get update && apt-get install "*" && ./build/backlogd --once && ./build/backlogd") ;;
*) fail "README's first command has an unexpected shape: $readme_cmd" ;;
esac
readme_cmd=${readme_cmd% && ./build/backlogd}
# Its package names (the words after `install` that are not options).
readme_pkgs=$(sed -e 's/^.*apt-get install //' -e 's/ &&.*$//' <<<"$readme_cmd" |
        tr ' ' '\n' | grep -v '^-' | sort -u | tr '\n' ' ')
readme_install='meson install -C build'
readme_enable='journalctl --update-catalog && systemctl daemon-reload && systemctl enable --now backlogd'
for c in "$readme_install" "$readme_enable"; do
        tr '\n' ' ' <"$src/README.md" | grep -qF "$c" || fail "README no longer says: $c"
done
# The textfile collector for the metrics recipe, without its Recommends.
extra_pkgs="prometheus-node-exporter"
base_pkgs="systemd,systemd-sysv,dbus,iproute2,python3,procps,curl,ca-certificates,libpam-systemd,libnss-systemd"
mirror=$(awk '$1 == "URIs:" { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian

key=$(printf '%s\n' v1 "$base_pkgs" "$readme_pkgs" "$extra_pkgs" "$mirror" | sha256sum | cut -c1-16)
cache=$cache_dir/debian12-$key.tar
root=

# --- Clean-up, also on failure ------------------------------------------

nspawn_pid=
leader=
cg_created=()
nspawn_run_created=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup_host() {
        local i d left=

        if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
                [ -n "$leader" ] && nsenter -t "$leader" -a systemctl poweroff >/dev/null 2>&1
                for ((i = 0; i < 600; i++)); do
                        kill -0 "$nspawn_pid" 2>/dev/null || break
                        sleep 0.1
                done
                if kill -0 "$nspawn_pid" 2>/dev/null; then
                        note "container did not power off within 60 s: killing nspawn $nspawn_pid"
                        kill -TERM "$nspawn_pid" 2>/dev/null
                        sleep 5
                        kill -KILL "$nspawn_pid" 2>/dev/null
                fi
                wait "$nspawn_pid" 2>/dev/null
        fi
        # nspawn's own cgroups, deepest first; only those this run created.
        for d in "${cg_created[@]}"; do
                [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
                [ -d "$d" ] && left="$left $d"
        done
        [ -n "$nspawn_run_created" ] && rm -rf /run/systemd/nspawn
        if [ -n "$root" ] && [ -d "$root" ]; then
                rm -rf --one-file-system -- "$root"
        fi
        note "total $((SECONDS - t0)) s"
        if [ -n "$left" ]; then
                echo "FAIL: cannot remove the container's cgroups:$left"
                exit 1
        fi
}
trap cleanup_host EXIT

# --- The Debian root, cached ----------------------------------------------

build_cache() {
        local dir=$cache_dir/build.$$

        note "building the Debian 12 root (cache miss: $cache)"
        rm -rf --one-file-system -- "$dir"
        mkdir -p "$dir" || fail "mkdir $dir"
        debootstrap --variant=minbase --include="$base_pkgs" bookworm "$dir" "$mirror" \
                >"$cache_dir/debootstrap.log" 2>&1 ||
                { tail -n 20 "$cache_dir/debootstrap.log"; fail "debootstrap failed"; }
        if [ -r /etc/apt/sources.list.d/debian.sources ]; then
                cp /etc/apt/sources.list.d/debian.sources "$dir/etc/apt/sources.list.d/" &&
                        rm -f "$dir/etc/apt/sources.list"
        fi
        # shellcheck disable=SC2086 # word splitting of the package lists is wanted
        chroot "$dir" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
                apt-get install --download-only -y -qq --no-install-recommends $readme_pkgs $extra_pkgs" \
                >"$cache_dir/download.log" 2>&1 ||
                { tail -n 20 "$cache_dir/download.log"; fail "downloading README's packages failed"; }
        tar -C "$dir" --numeric-owner -cpf "$cache.tmp" . || fail "cannot write $cache.tmp"
        mv "$cache.tmp" "$cache"
        rm -rf --one-file-system -- "$dir"
        # Older roots (other package lists) are not needed any more.
        find "$cache_dir" -maxdepth 1 -name 'debian12-*.tar' ! -path "$cache" -delete
}

mkdir -p "$cache_dir" || fail "mkdir $cache_dir"
if [ -s "$cache" ]; then
        note "Debian 12 root from the cache: $cache"
else
        build_cache
fi
root=$cache_dir/root.$$
mkdir "$root" || fail "mkdir $root"
tar -C "$root" --numeric-owner -xpf "$cache" || fail "cannot unpack $cache"
# The source tree as git sees it: tracked files (with their uncommitted
# edits) and new files not ignored.
mkdir -p "$root/root/backlogd"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
        git -C "$src" ls-files -z --cached --others --exclude-standard | tar -C "$src" --null -T - -cf - | tar -C "$root/root/backlogd" -xf -
else
        tar -C "$src" --exclude='./build*' -cf - . | tar -C "$root/root/backlogd" -xf -
fi
[ -r "$root/root/backlogd/meson.build" ] || fail "cannot copy the source tree into the container"
note "prepared in $((SECONDS - t0)) s"

# --- Boot ----------------------------------------------------------------

# nspawn (--keep-unit) makes /payload and /supervisor in its own cgroup of
# the cgroup2 hierarchy and of systemd's named v1 one (hybrid hosts);
# remember which are ours to remove.
while read -r mnt hier; do
        [ -n "$mnt" ] || continue
        if [ "$hier" = unified ]; then
                self=$(sed -n 's/^0:://p' /proc/self/cgroup)
        else
                self=$(sed -n 's/^[0-9]*:name=systemd://p' /proc/self/cgroup)
        fi
        for d in payload supervisor; do
                [ -e "$mnt${self%/}/$d" ] &&
                        fail "$mnt${self%/}/$d exists: another nspawn container runs here (or left it over)"
                cg_created+=("$mnt${self%/}/$d")
        done
done < <(awk '$9 == "cgroup2" { print $5, "unified" }
        $9 == "cgroup" && $NF ~ /(^|,)name=systemd(,|$)/ { print $5, "systemd" }' /proc/self/mountinfo)
[ -e /run/systemd/nspawn ] || nspawn_run_created=1

SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn -D "$root" -b --private-network \
        -M "$machine" --register=no --keep-unit >"$cache_dir/nspawn.$$.log" 2>&1 </dev/null &
nspawn_pid=$!
for ((i = 0; i < 300; i++)); do
        kill -0 "$nspawn_pid" 2>/dev/null || { cat "$cache_dir/nspawn.$$.log"; fail "systemd-nspawn exited"; }
        for p in $(pgrep -P "$nspawn_pid"); do
                [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd ] && leader=$p
        done
        [ -n "$leader" ] && break
        sleep 0.1
done
[ -n "$leader" ] || fail "no systemd in the container after 30 s"
rm -f "$cache_dir/nspawn.$$.log"

# in_ct COMMAND: runs COMMAND in the container in a login shell of root
# (a logind session, as over SSH); its output and exit status are ours.
in_ct() {
        nsenter -t "$leader" -a su -l root -c "export DEBIAN_FRONTEND=noninteractive; $1"
}

state=
for ((i = 0; i < 120; i++)); do
        state=$(nsenter -t "$leader" -a systemctl is-system-running 2>/dev/null)
        case $state in running | degraded) break ;; esac
        sleep 0.5
done
case $state in
running | degraded) note "container $machine booted ($state) in $((SECONDS - t0)) s" ;;
*) fail "container $machine not up after 60 s: '$state'" ;;
esac

# --- Install as README says ------------------------------------------------

note "README: $readme_cmd"
in_ct "cd /root/backlogd && $readme_cmd" >"$root/install.log" 2>&1 ||
        { tail -n 40 "$root/install.log"; fail "README's first command failed in the container"; }
in_ct "apt-get install -y -qq --no-install-recommends $extra_pkgs" >>"$root/install.log" 2>&1 ||
        { tail -n 20 "$root/install.log"; fail "cannot install $extra_pkgs"; }
note "README: $readme_install; $readme_enable"
in_ct "cd /root/backlogd && $readme_install && $readme_enable" >>"$root/install.log" 2>&1 ||
        { tail -n 40 "$root/install.log"; fail "installing the service as README says failed"; }
note "installed in $((SECONDS - t0)) s"

# --- Helpers inside the container -------------------------------------------

# prop NAME: a property of backlogd.service.
prop() {
        in_ct "systemctl show -P $1 backlogd"
}

# wait_ct SECONDS COMMAND: retries COMMAND (in the container) until it
# succeeds; returns 1 after SECONDS.
wait_ct() {
        local i

        for ((i = 0; i < $1 * 2; i++)); do
                in_ct "$2" >/dev/null 2>&1 && return 0
                sleep 0.5
        done
        return 1
}

# journal_field FILTER FIELD: FIELD of the last backlogd entry matching the
# journalctl FILTER (field matches), or empty.
journal_field() {
        in_ct "journalctl -u backlogd $1 -o json --no-pager" | python3 -c '
import json, sys
last = None
for line in sys.stdin:
    last = json.loads(line)
print(last.get(sys.argv[1], "") if last else "")' "$2"
}

# listeners_now: the TCP listeners of the container, as backlogd counts them.
listeners_now() {
        in_ct "ss -ltnH | wc -l"
}

# qfill_unit UNIT PORT [PROPERTY...]: a transient service whose listener on
# 127.0.0.1:PORT (backlog 1) never accepts and holds two connections: full.
qfill_unit() {
        local unit=$1 port=$2 props=""
        shift 2

        for p in "$@"; do props="$props --property=$p"; done
        in_ct "systemd-run --quiet --unit=$unit --property=Type=simple $props python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"127.0.0.1\", $port)); s.listen(1)
c = [socket.create_connection((\"127.0.0.1\", $port)) for _ in range(2)]
time.sleep(3600)'" || fail "systemd-run $unit failed"
}

# --- The service as installed ------------------------------------------------

check "is-active backlogd" "$(in_ct 'systemctl is-active backlogd')" active
for ((i = 0; i < 20; i++)); do
        n=$(listeners_now)
        st=$(prop StatusText)
        [ "$st" = "watching $n listeners, 0 above 80%" ] && break
        sleep 0.5
done
check "StatusText" "$st" "watching ${n:-?} listeners, 0 above 80%"

unit_score=$(sed -n 's/^# Score: .* = \([0-9.]*\)\.$/\1/p' "$root/lib/systemd/system/backlogd.service")
score=$(in_ct 'systemd-analyze security backlogd 2>&1' |
        sed -n 's/.*Overall exposure level for backlogd.service: \([0-9.]*\).*/\1/p')
note "systemd-analyze security backlogd: exposure $score (the unit states $unit_score)"
check "exposure $score <= $unit_score" \
        "$(awk -v s="${score:-99}" -v m="${unit_score:-0}" 'BEGIN { print (s <= m) ? "yes" : "no" }')" yes

# --- An alert: a transient service whose queue fills ------------------------

qfill_unit qtest 9999
wait_ct 10 "journalctl -u backlogd BACKLOGD_EVENT=full BACKLOGD_PORT=9999 -o cat | grep -q ." ||
        note "no full alert for port 9999 within 10 s"
check "full: BACKLOGD_UNIT" "$(journal_field 'BACKLOGD_EVENT=full BACKLOGD_PORT=9999' BACKLOGD_UNIT)" qtest.service
check "full: BACKLOGD_ADDRESS" "$(journal_field 'BACKLOGD_EVENT=full BACKLOGD_PORT=9999' BACKLOGD_ADDRESS)" 127.0.0.1
check "full: BACKLOGD_DEPTH" "$(journal_field 'BACKLOGD_EVENT=full BACKLOGD_PORT=9999' BACKLOGD_DEPTH)" 2
check "full: BACKLOGD_BACKLOG" "$(journal_field 'BACKLOGD_EVENT=full BACKLOGD_PORT=9999' BACKLOGD_BACKLOG)" 1
check "full: PRIORITY" "$(journal_field 'BACKLOGD_EVENT=full BACKLOGD_PORT=9999' PRIORITY)" 3
check "journalctl -p warning shows it" \
        "$(in_ct 'journalctl -u backlogd -p warning --no-pager -o cat' | grep -c '^Listen queue of 127.0.0.1:9999 .*is full')" 1
# The alert is in the owner's own journal too (OBJECT_SYSTEMD_UNIT= from
# uid 0): where an operator looks first.
check "journalctl -u qtest.service shows backlogd's alert" \
        "$(in_ct 'journalctl -u qtest.service --no-pager -o cat' | grep -c '^Listen queue of 127.0.0.1:9999 .*is full')" 1
check "systemctl status qtest shows it" \
        "$(in_ct 'systemctl status qtest --no-pager -n 20' | grep -c 'Listen queue of 127.0.0.1:9999 .*is full')" 1
check "journalctl -x shows the catalog text" \
        "$(in_ct 'journalctl -x -u backlogd --no-pager' | grep -c 'Subject: Listen queue of 127.0.0.1 port 9999 is full')" 1
for ((i = 0; i < 20; i++)); do
        n=$(listeners_now)
        st=$(prop StatusText)
        [ "$st" = "watching $n listeners, 1 above 80%" ] && break
        sleep 0.5
done
check "StatusText with qtest full" "$st" "watching $n listeners, 1 above 80%"

# --- Reload: a good change takes effect, a broken file fails the reload -----

pid0=$(prop MainPID)
in_ct 'mkdir -p /etc/backlogd && printf "warn = 70;\nclear = 50;\n" >/etc/backlogd/backlogd.conf'
in_ct 'systemctl reload backlogd'
check "reload of a good config: exit status" "$?" 0
for ((i = 0; i < 20; i++)); do
        st=$(prop StatusText)
        [[ $st == *"above 70%" ]] && break
        sleep 0.5
done
check "StatusText after the good reload" "$st" "watching $(listeners_now) listeners, 1 above 70%"

reloaded() {
        in_ct 'journalctl -u backlogd --no-pager -o cat' | grep -c '^Reloaded '
}
n_reloaded=$(reloaded)
in_ct 'printf "warn = 70;\nclear = 50;\nrepeat = \"often\";\n" >/etc/backlogd/backlogd.conf'
in_ct 'systemctl reload backlogd' >"$root/reload.out" 2>&1
rc=$?
check "reload of a broken config fails" "$([ "$rc" -ne 0 ] && echo "yes (exit $rc)")" "yes (exit $rc)"
note "systemctl reload said: $(tr '\n' ' ' <"$root/reload.out")"
check "still active after the broken reload" "$(in_ct 'systemctl is-active backlogd')" active
check "same main PID after the broken reload" "$(prop MainPID)" "$pid0"
check "the running config stays (StatusText)" "$(prop StatusText)" "watching $(listeners_now) listeners, 1 above 70%"
status=$(in_ct 'systemctl status backlogd --no-pager -n 20 2>&1')
check "systemctl status names file, line and key" \
        "$(grep -c '/etc/backlogd/backlogd.conf:3: .*repeat' <<<"$status")" 1
check "no 'Reloaded' logged for the broken reload" "$(reloaded)" "$n_reloaded"
in_ct 'journalctl -u backlogd --no-pager -o cat -n 200' | grep -iE 'reload|backlogd.conf' | sed 's/^/# journal: /' 
# The next good reload works again.
in_ct 'printf "warn = 70;\nclear = 50;\n" >/etc/backlogd/backlogd.conf && systemctl reload backlogd'
check "reload after fixing the file" "$?" 0

# --- Metrics for node_exporter's textfile collector, as documented --------

# README's recipe, as it stands there (all but its final curl): the
# drop-in, the link in the collector's directory, the config key.
recipe=$(awk '/^```sh$/ { blk = ""; inblk = 1; next }
        /^```$/ { if (inblk && blk ~ /backlogd-metrics.conf.example/) { printf "%s", blk; exit } inblk = 0 }
        inblk && !/^curl / { blk = blk $0 "\n" }' "$src/README.md")
[ -n "$recipe" ] || fail "README has no metrics recipe (a sh block naming backlogd-metrics.conf.example)"
note "README's metrics recipe: $(tr '\n' ';' <<<"$recipe")"
in_ct "set -e; $recipe"
check "README's metrics recipe runs" "$?" 0
wait_ct 20 'curl -s localhost:9100/metrics | grep -q "^backlogd_listen_queue_depth{.*port=\"9999\""' ||
        note "node_exporter does not serve backlogd_listen_queue_depth for port 9999 within 20 s"
metrics=$(in_ct 'curl -s localhost:9100/metrics')
check "node_exporter: backlogd_listen_queue_depth of qtest" \
        "$(grep '^backlogd_listen_queue_depth{' <<<"$metrics" | grep 'port="9999"' | grep -o '[0-9.e+]*$')" 2
check "node_exporter: backlogd_listen_queue_backlog of qtest" \
        "$(grep '^backlogd_listen_queue_backlog{' <<<"$metrics" | grep 'port="9999"' | grep -o '[0-9.e+]*$')" 1
check "node_exporter: no textfile scrape error" \
        "$(grep '^node_textfile_scrape_error ' <<<"$metrics" | awk '{ print $2 }')" 0
check "the metrics file is 0644" "$(in_ct 'stat -c %a /run/backlogd/backlogd.prom')" 644

# --- The drop-in that names processes --------------------------------------

in_ct 'cp /usr/share/doc/backlogd/backlogd-processes.conf.example /etc/systemd/system/backlogd.service.d/processes.conf &&
        systemctl daemon-reload && systemctl restart backlogd'
check "restart with the processes drop-in" "$?" 0
pid1=$(prop MainPID)
qpid=$(in_ct 'systemctl show -P MainPID qtest')
wait_ct 10 "journalctl -u backlogd _PID=$pid1 BACKLOGD_EVENT=full BACKLOGD_PORT=9999 -o cat | grep -q ." ||
        note "no full alert for port 9999 from the restarted daemon within 10 s"
check "processes drop-in: BACKLOGD_COMM" \
        "$(journal_field "_PID=$pid1 BACKLOGD_EVENT=full BACKLOGD_PORT=9999" BACKLOGD_COMM)" python3
check "processes drop-in: BACKLOGD_PID" \
        "$(journal_field "_PID=$pid1 BACKLOGD_EVENT=full BACKLOGD_PORT=9999" BACKLOGD_PID)" "$qpid"

# --- The drop-in for other network namespaces --------------------------------

in_ct 'cp /usr/share/doc/backlogd/backlogd-namespaces.conf.example /etc/systemd/system/backlogd.service.d/namespaces.conf &&
        printf "namespaces = [ \"/run/netns/*\" ];\n" >>/etc/backlogd/backlogd.conf &&
        systemctl daemon-reload && systemctl restart backlogd'
check "restart with the namespaces drop-in" "$?" 0
in_ct 'ip netns add web1 && ip -n web1 link set lo up'
wait_ct 10 'journalctl -u backlogd -o cat | grep -q "^Watching network namespace web1"' ||
        note "backlogd did not log watching web1 within 10 s"
check "namespaces drop-in: web1 watched" \
        "$(in_ct 'journalctl -u backlogd -o cat --no-pager' | grep -c '^Watching network namespace web1')" 1
qfill_unit qtest-ns 8080 NetworkNamespacePath=/run/netns/web1
wait_ct 10 "journalctl -u backlogd BACKLOGD_EVENT=full BACKLOGD_NETNS=web1 -o cat | grep -q ." ||
        note "no full alert in web1 within 10 s"
check "namespaces drop-in: alert in web1, port" \
        "$(journal_field 'BACKLOGD_EVENT=full BACKLOGD_NETNS=web1' BACKLOGD_PORT)" 8080
check "namespaces drop-in: alert in web1, unit" \
        "$(journal_field 'BACKLOGD_EVENT=full BACKLOGD_NETNS=web1' BACKLOGD_UNIT)" qtest-ns.service

# --- journald restarts; backlogd goes on -----------------------------------

pid2=$(prop MainPID)
in_ct 'systemctl restart systemd-journald'
check "restart systemd-journald" "$?" 0
qfill_unit qtest2 9998
wait_ct 10 "journalctl -u backlogd BACKLOGD_EVENT=full BACKLOGD_PORT=9998 -o cat | grep -q ." ||
        note "no full alert for port 9998 after the journald restart within 10 s"
unit2=$(journal_field 'BACKLOGD_EVENT=full BACKLOGD_PORT=9998' BACKLOGD_UNIT)
if [ "$unit2" != qtest2.service ]; then
        in_ct 'journalctl -u backlogd BACKLOGD_PORT=9998 -o export --no-pager' | grep -aE '^(MESSAGE|BACKLOGD_[A-Z_]+|_SOURCE_MONOTONIC_TIMESTAMP)=' | sed 's/^/# 9998 entry: /'
        in_ct 'systemctl show -p ControlGroup qtest2.service; journalctl -u backlogd -o short-monotonic --no-pager | tail -n 15' | sed 's/^/# /'
fi
check "alert after the journald restart" "$unit2" qtest2.service
check "same main PID after the journald restart" "$(prop MainPID)" "$pid2"

# --- Socket activation: named by the socket unit and its service ---------

# PID 1 makes a socket unit's listener, so its cgroup is init.scope; backlogd
# asks systemd which socket unit it is. qsock.socket (Backlog=1) starts
# qsock.service on the first connection, which takes fd 3 and never
# accepts; three clients: 2 of 2 wait, the third is dropped.
mkdir -p "$root/etc/systemd/system"
printf '%s\n' '[Socket]' 'ListenStream=127.0.0.1:9997' 'Backlog=1' 'Accept=no' \
        >"$root/etc/systemd/system/qsock.socket"
printf '%s\n' '[Service]' \
        'ExecStart=/usr/bin/python3 -c "import socket, time; s = socket.socket(fileno=3); time.sleep(3600)"' \
        >"$root/etc/systemd/system/qsock.service"
# qsock2.socket asks for more than the container's somaxconn allows.
printf '%s\n' '[Socket]' 'ListenStream=127.0.0.1:9996' 'Backlog=4096' 'Accept=no' \
        >"$root/etc/systemd/system/qsock2.socket"
cp "$root/etc/systemd/system/qsock.service" "$root/etc/systemd/system/qsock2.service"
# backlogd reads the sysctls every 30 s, and at once on reload.
in_ct 'systemctl daemon-reload && sysctl -q -w net.core.somaxconn=256 && systemctl reload backlogd &&
        systemctl start qsock.socket qsock2.socket'
check "start qsock.socket and qsock2.socket" "$?" 0
in_ct "systemd-run --quiet --unit=qclients python3 -c '
import socket, time
c = []
for _ in range(3):
    s = socket.socket(); s.setblocking(False); s.connect_ex((\"127.0.0.1\", 9997)); c.append(s)
    time.sleep(0.3)
time.sleep(3600)'" || fail "systemd-run qclients failed"
wait_ct 20 "journalctl -u backlogd BACKLOGD_EVENT=full BACKLOGD_PORT=9997 -o cat | grep -q ." ||
        note "no full alert for port 9997 within 20 s"
in_ct 'journalctl -u backlogd --no-pager -o cat' | grep -E 'socket unit|qsock' | sed 's/^/# journal: /'
check "socket unit: qsock.service is active" "$(in_ct 'systemctl is-active qsock.service')" active
check "socket unit: full, BACKLOGD_UNIT" \
        "$(journal_field 'BACKLOGD_EVENT=full BACKLOGD_PORT=9997' BACKLOGD_UNIT)" qsock.service
check "socket unit: full, BACKLOGD_SOCKET_UNIT" \
        "$(journal_field 'BACKLOGD_EVENT=full BACKLOGD_PORT=9997' BACKLOGD_SOCKET_UNIT)" qsock.socket
check "socket unit: full, BACKLOGD_CGROUP" \
        "$(journal_field 'BACKLOGD_EVENT=full BACKLOGD_PORT=9997' BACKLOGD_CGROUP)" /init.scope
check "socket unit: full, BACKLOGD_DEPTH" \
        "$(journal_field 'BACKLOGD_EVENT=full BACKLOGD_PORT=9997' BACKLOGD_DEPTH)" 2
check "socket unit: journalctl -u qsock.service shows the alert" \
        "$(in_ct 'journalctl -u qsock.service --no-pager -o cat' |
                grep -c '^Listen queue of 127.0.0.1:9997 of qsock.service (via qsock.socket[;)].* is full')" 1
once=$(in_ct 'backlogd --once --json')
check "socket unit: --once --json unit and socket_unit" "$(python3 -c '
import json, sys
for l in json.loads(sys.argv[1])["listeners"]:
    if l.get("port") == 9997:
        print(l.get("unit"), l.get("socket_unit"))' "$once")" "qsock.service qsock.socket"
# The clamp: Backlog=4096, somaxconn 256, the listener got 256.
check "socket unit: qsock2's listener got somaxconn" "$(in_ct "ss -ltnH 'sport = :9996'" | awk '{ print $3 }')" 256
clamp='qsock2.socket asks for Backlog=4096 but net.core.somaxconn is 256: its listener 127.0.0.1:9996 got 256. Raise net.core.somaxconn.'
wait_ct 15 "journalctl -u backlogd -o cat | grep -qF '$clamp'" || note "no clamp warning for qsock2.socket within 15 s"
check "socket unit: clamp warning in journalctl -u backlogd, once" \
        "$(in_ct 'journalctl -u backlogd --no-pager -o cat' | grep -cF "$clamp")" 1
check "socket unit: clamp warning's priority" "$(journal_field 'MESSAGE="'"$clamp"'"' PRIORITY)" 4
check "socket unit: --once hint" "$(in_ct 'backlogd --once' | grep -cF "  $clamp")" 1
check "socket unit: the bus was reachable" \
        "$(in_ct 'journalctl -u backlogd --no-pager -o cat' | grep -c 'Cannot ask systemd')" 0

# --- README's test command inside the container (opt-in: it takes minutes) --

if [ -n "${SYSTEMD_HOST_SUITE:-}" ]; then
        in_ct 'cd /root/backlogd && meson test -C build --print-errorlogs' >"$root/suite-login.log" 2>&1
        check "README's test command from a login session" "$?" 0
        note "login session: $(grep -E '^(Ok|Fail|Skipped):' "$root/suite-login.log" | tr -s ' ' | tr '\n' ' ')"
        in_ct 'systemd-run --wait --pipe --quiet --unit=backlogd-suite -p WorkingDirectory=/root/backlogd meson test -C build --print-errorlogs' \
                >"$root/suite-service.log" 2>&1
        check "README's test command from a service" "$?" 0
        note "service: $(grep -E '^(Ok|Fail|Skipped):' "$root/suite-service.log" | tr -s ' ' | tr '\n' ' ')"
        grep -E 'FAIL|MISMATCH' "$root/suite-login.log" "$root/suite-service.log" | head -n 20
fi

# --- Stop -------------------------------------------------------------------

# --- README's unprivileged drop-in: a transient uid ------------------------

in_ct 'rm -f /etc/systemd/system/backlogd.service.d/*.conf &&
        printf "warn = 70;\nclear = 50;\n" >/etc/backlogd/backlogd.conf &&
        cp /usr/share/doc/backlogd/backlogd-unprivileged.conf.example /etc/systemd/system/backlogd.service.d/unprivileged.conf &&
        systemctl daemon-reload && systemctl restart backlogd'
check "restart with the unprivileged drop-in" "$?" 0
pid3=$(prop MainPID)
uid3=$(in_ct "ps -o uid= -p $pid3" | tr -d ' ')
check "unprivileged drop-in: a dynamic uid" "$([ "${uid3:-0}" -ge 61184 ] && [ "$uid3" -le 65519 ] && echo yes)" yes
wait_ct 10 "journalctl -u backlogd _PID=$pid3 BACKLOGD_EVENT=full BACKLOGD_PORT=9999 -o cat | grep -q ." ||
        note "no full alert for port 9999 from the unprivileged daemon within 10 s"
check "unprivileged drop-in: full alert names the unit" \
        "$(journal_field "_PID=$pid3 BACKLOGD_EVENT=full BACKLOGD_PORT=9999" BACKLOGD_UNIT)" qtest.service
check "unprivileged drop-in: reload" "$(in_ct 'systemctl reload backlogd' >/dev/null 2>&1; echo $?)" 0

in_ct 'systemctl stop backlogd'
check "systemctl stop" "$?" 0
check "stopped: Result" "$(prop Result)" success
check "stopped: ExecMainStatus" "$(prop ExecMainStatus)" 0
check "stopped: ActiveState" "$(prop ActiveState)" inactive

note "checks done in $((SECONDS - t0)) s"
finish
