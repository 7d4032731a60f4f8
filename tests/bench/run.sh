#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Performance benchmark of backlogd against the floor (one raw sock_diag
# LISTEN dump) and ss(8). See tests/bench/README.md.
#
#   sudo tests/bench/run.sh [--small] [--only-fast]
#
# --only-fast: build the population, measure the floor, then only the
# "20 Hz single-port entry" rows (fast polls), and stop.
#
# Environment:
#   BACKLOGD      the daemon binary (default: <repo>/build/backlogd)
#   BENCH_BUILD   meson build dir holding tests/bench/bench-{floor,pop,match}
#                 (default: the build dir of $BACKLOGD, then <repo>/build*);
#                 when none is found, floor and pop are compiled with cc
#                 (bench-match links the daemon's code: its rows read n/a).
#   BENCH_INTERVAL  the daemon's --interval in seconds. Default 0.01, raised
#                 to the multiple of 0.01 just above 5 floor dumps of CPU
#                 (at most 0.2) when a dump costs more than 2 ms, so that the
#                 daemon keeps up and polls = wall time / interval holds.
#   BACKLOGD_BASE another backlogd binary (say, main's) measured with the
#                 metrics file written every poll, as it did before
#                 metrics_interval: its row shows the bytes it writes.
#
# Exit status: 0 done, 1 error (also: a daemon that exited early), 77 skipped
# (not root, or a tool missing).

set -euo pipefail

SMALL=0 ONLY_FAST=0
for arg in "$@"; do
        case "$arg" in
        --small) SMALL=1 ;;
        --only-fast) ONLY_FAST=1 ;;
        -h|--help)
                sed -n '4,23p' "$0" | sed 's/^# \{0,1\}//'
                exit 0 ;;
        *)
                echo "run.sh: unknown argument '$arg' (try --help)" >&2
                exit 1 ;;
        esac
done

if [[ $(id -u) -ne 0 ]]; then
        echo "run.sh: skipped: needs root to create a private network namespace" >&2
        exit 77
fi
for tool in unshare nsenter mount findmnt ip ss awk sysctl; do
        if ! command -v "$tool" >/dev/null; then
                echo "run.sh: skipped: '$tool' not found" >&2
                exit 77
        fi
done

SELF=$(readlink -f "$0")
BENCH_DIR=$(dirname "$SELF")
REPO=$(cd "$BENCH_DIR/../.." && pwd)

# Everything below runs in a private network and mount namespace: the
# population, the counters and somaxconn vanish with the last process.
if [[ -z "${BENCH_IN_NETNS:-}" ]]; then
        export BENCH_IN_NETNS=1
        exec unshare --net --mount --propagation private "$SELF" "$@"
fi
# BENCH_IN_NETNS set by hand would run all of this, sysctls and the tmpfs on
# /run included, in the caller's namespaces: refuse.
if [[ $(readlink /proc/self/ns/net) == "$(readlink /proc/1/ns/net)" ||
      $(readlink /proc/self/ns/mnt) == "$(readlink /proc/1/ns/mnt)" ]]; then
        echo "run.sh: not in a private network and mount namespace (unset BENCH_IN_NETNS)" >&2
        exit 1
fi

# Sizes. Each connection costs two descriptors (both ends live in the
# namespace), and a process may hold 20,000 at most: 6 processes keep
# each one near 11,700.
if [[ $SMALL -eq 1 ]]; then
        LISTENERS=200 CONNECTIONS=300 PROCS=1 DUMPS=50 RUNS=5 POLLS=50 EXTRA_NETNS=3
        SMALL_LISTENERS=100 SMALL_CONNECTIONS=300 MORE_CONNECTIONS=0
else
        LISTENERS=10000 CONNECTIONS=30000 PROCS=6 DUMPS=200 RUNS=20 POLLS=200 EXTRA_NETNS=10
        SMALL_LISTENERS=1000 SMALL_CONNECTIONS=3000
        MORE_CONNECTIONS=170000 # the walks measured again at CONNECTIONS + this many
fi
NETNS_LISTENERS=10       # listeners in each extra namespace
FIRST_PORT=8001          # listeners on 8001..8001+LISTENERS-1, below the
EPHEMERAL="20000 65535"  # ephemeral range used by the connections
POP_LIFETIME=600         # bench-pop exits by itself after this (seconds)

TMP=$(mktemp -d /tmp/backlogd-bench.XXXXXX)
PIDS=()
DAEMON_PID=
NETNS=() NS_PIDS=() POP_PIDS=()

# The namespaces would go with this mount namespace anyway (their files are
# on its tmpfs /run); deleting them says so, and frees them while a killed
# bench-pop is still exiting.
cleanup() {
        local pid ns
        [[ -n "$DAEMON_PID" ]] && PIDS+=("$DAEMON_PID")
        for pid in "${PIDS[@]}"; do
                kill -TERM "$pid" 2>/dev/null || true
        done
        for pid in "${PIDS[@]}"; do
                wait "$pid" 2>/dev/null || true
        done
        for ns in "${NETNS[@]}"; do
                ip netns delete "$ns" 2>/dev/null ||
                        echo "run.sh: warning: 'ip netns delete $ns' failed" >&2
        done
        rm -rf "$TMP"
}
trap cleanup EXIT

die() {
        echo "run.sh: $*" >&2
        exit 1
}

# ---- binaries -------------------------------------------------------------
BACKLOGD=${BACKLOGD:-$REPO/build/backlogd}
HAVE_DAEMON=1
if [[ ! -x "$BACKLOGD" ]]; then
        echo "run.sh: $BACKLOGD not found: daemon rows will read n/a" >&2
        HAVE_DAEMON=0
fi

MATCH='' WALKER=''
find_helpers() {
        local d
        for d in ${BENCH_BUILD:+"$BENCH_BUILD"} "$(dirname "$BACKLOGD")" "$REPO"/build*; do
                if [[ -x "$d/tests/bench/bench-floor" && -x "$d/tests/bench/bench-pop" ]]; then
                        FLOOR="$d/tests/bench/bench-floor"
                        POP="$d/tests/bench/bench-pop"
                        [[ -x "$d/tests/bench/bench-match" ]] && MATCH="$d/tests/bench/bench-match"
                        [[ -x "$d/tests/bench/bench-walk" ]] && WALKER="$d/tests/bench/bench-walk"
                        return 0
                fi
        done
        return 1
}
if ! find_helpers; then
        command -v cc >/dev/null || die "no bench-floor/bench-pop built and no cc"
        echo "run.sh: helpers not built by meson, compiling them with cc" >&2
        FLOOR="$TMP/bench-floor" POP="$TMP/bench-pop"
        cc -std=gnu11 -O2 -D_GNU_SOURCE -o "$FLOOR" "$BENCH_DIR/bench-floor.c"
        cc -std=gnu11 -O2 -D_GNU_SOURCE -o "$POP" "$BENCH_DIR/bench-pop.c"
fi

# ---- namespace ------------------------------------------------------------
ip link set lo up
sysctl -qw net.ipv4.ip_local_port_range="$EPHEMERAL"
if (( $(sysctl -n net.core.somaxconn) < 4096 )); then
        sysctl -qw net.core.somaxconn=4096
fi
ulimit -n "$(ulimit -Hn)"

# ---- helpers of the measurements ------------------------------------------
# floor_cpu N: µs of CPU per raw v4+v6 LISTEN dump, over N dumps; checks
# that it saw WANT listeners.
floor_of() {
        local want=$1 out seen
        out=$("$FLOOR" "$DUMPS") || die "bench-floor failed"
        seen=$(sed -n 's/.*sockets=\([0-9]*\).*/\1/p' <<<"$out")
        [[ "$seen" -eq "$want" ]] || die "bench-floor saw $seen listeners, expected $want"
        sed -n 's/.*cpu_us_per_dump=\([0-9.]*\).*/\1/p' <<<"$out"
}

# floor_cold_of LISTENERS INTERVAL: the same dump, one every INTERVAL s (the
# daemon's cadence): each starts with the caches others used in between,
# as the daemon's poll does; the floor above runs its dumps back to back.
floor_cold_of() {
        local want=$1 gap out seen
        gap=$(awk -v i="$2" 'BEGIN { printf "%d\n", i * 1000 + 0.5 }')
        out=$("$FLOOR" --gap-ms "$gap" 100) || die "bench-floor --gap-ms failed"
        seen=$(sed -n 's/.*sockets=\([0-9]*\).*/\1/p' <<<"$out")
        [[ "$seen" -eq "$want" ]] || die "bench-floor saw $seen listeners, expected $want"
        sed -n 's/.*cpu_us_per_dump=\([0-9.]*\).*/\1/p' <<<"$out"
}

# interval_for FLOOR_CPU: the daemon's interval (see "Counting polls").
interval_for() {
        if [[ -n "${BENCH_INTERVAL:-}" ]]; then
                echo "$BENCH_INTERVAL"
                return
        fi
        awk -v c="$1" 'BEGIN {
                n = int((c * 5 / 1e4) + 0.999999); if (n < 1) n = 1; if (n > 20) n = 20
                printf "%.2f\n", n / 100 }'
}

# CPU time (user+system) of a process in µs: the sum of its threads'
# /proc/PID/task/*/schedstat (ns), else utime+stime of /proc/PID/stat
# (clock ticks, 10 ms resolution).
proc_cpu_us() {
        local pid=$1 stat
        if [[ -r "/proc/$pid/schedstat" ]]; then
                awk '{ s += $1 } END { printf "%.0f\n", s / 1e3 }' /proc/"$pid"/task/*/schedstat
                return
        fi
        stat=$(<"/proc/$pid/stat") || return 1
        stat=${stat##*) }
        awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f\n", ($12 + $13) * 1e6 / hz }' <<<"$stat"
}

# stop_daemon PID: SIGTERM, then SIGKILL after 5 s; reaps it.
stop_daemon() {
        local pid=$1 i
        kill -TERM "$pid" 2>/dev/null || true
        for (( i = 0; i < 50; i++ )); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        DAEMON_PID=
}

# Runs the daemon for DAEMON_SECONDS after a short warm-up and prints
# "cpu_us_per_poll nominal_polls wakeups vmhwm_kb cpu_share_%". Polls are counted as
# wall time / interval (sd_event may coalesce or delay timer wake-ups); the
# voluntary context switches (wake-ups from epoll_wait) are shown as a check.
# Call it with its output redirected to a file, not in a $( ) or < <( )
# subshell, so that the trap knows DAEMON_PID.
measure_daemon() {
        local conf=$1 name=$2 bin=${3:-$BACKLOGD} pid t0 t1 w0 w1 v0 v1 b0 b1 hwm
        "$bin" -c "$conf" --interval "$INTERVAL" --log-target console \
                >"$TMP/$name.log" 2>&1 </dev/null &
        pid=$!
        DAEMON_PID=$pid
        sleep 0.5
        if ! kill -0 "$pid" 2>/dev/null; then
                echo "run.sh: backlogd ($name) exited early:" >&2
                tail -5 "$TMP/$name.log" >&2
                touch "$TMP/daemon-failed"
                wait "$pid" 2>/dev/null || true
                DAEMON_PID=
                echo "n/a n/a n/a n/a n/a n/a"
                return
        fi
        t0=$(proc_cpu_us "$pid") w0=$EPOCHREALTIME
        v0=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$pid/status")
        b0=$(awk '/^wchar/ { print $2 }' "/proc/$pid/io")
        sleep "$DAEMON_SECONDS"
        t1=$(proc_cpu_us "$pid") w1=$EPOCHREALTIME
        v1=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$pid/status")
        b1=$(awk '/^wchar/ { print $2 }' "/proc/$pid/io")
        hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
        stop_daemon "$pid"
        awk -v t0="$t0" -v t1="$t1" -v w0="$w0" -v w1="$w1" -v v0="$v0" -v v1="$v1" \
            -v iv="$INTERVAL" -v hwm="$hwm" -v b0="$b0" -v b1="$b1" 'BEGIN {
                polls = (w1 - w0) / iv
                cpu = (t1 - t0) / 1e6
                printf "%.0f %d %d %d %.0f %.1f\n", cpu * 1e6 / polls, polls, v1 - v0, hwm,
                        cpu * 100 / (w1 - w0), (b1 - b0) / polls
        }'
}

# The cadence of a daemon polling every second, compressed into INTERVAL:
# SYN counts every 10 polls (syn_interval 10 s, backing off to 80 when
# quiet), the metrics file every 15 polls (metrics_interval 15 s). Rows:
# the floor of this population, the daemon without and with the metrics
# file, and BACKLOGD_BASE (if given) with its metrics file written every
# poll; bytes per hour = bytes written (wchar: the metrics file and any log
# line) per poll x 3600. Sets CAD_<field>_<tag>.
measure_cadence() {
        local tag=$1 want=$2 INTERVAL DAEMON_SECONDS floor syn mi r
        floor=$(floor_of "$want")
        INTERVAL=$(interval_for "$floor")
        DAEMON_SECONDS=$(awk -v i="$INTERVAL" -v p="$POLLS" 'BEGIN { printf "%.2f\n", i * p }')
        syn=$(awk -v i="$INTERVAL" 'BEGIN { printf "%.3f\n", i * 10 }')
        mi=$(awk -v i="$INTERVAL" 'BEGIN { printf "%.3f\n", i * 15 }')
        mkdir -p "$TMP/metrics-$tag"
        # stall = 10 s too: the full queues (1 %) never accept, so they
        # stall, and their heads are read every syn_interval.
        printf 'syn_interval = %s;\nstall = %s;\n' "$syn" "$syn" >"$TMP/cad-off.conf"
        printf 'syn_interval = %s;\nstall = %s;\nmetrics_interval = %s;\nmetrics_file = "%s";\n' "$syn" "$syn" \
                "$mi" "$TMP/metrics-$tag/backlogd.prom" >"$TMP/cad-on.conf"
        printf 'syn_interval = %s;\nmetrics_file = "%s";\n' "$syn" \
                "$TMP/metrics-$tag/base.prom" >"$TMP/cad-base.conf"
        printf -v "CAD_FLOOR_$tag" %s "$floor"
        printf -v "CAD_INTERVAL_$tag" %s "$INTERVAL"
        printf -v "CAD_POLLS_$tag" %s "$POLLS"
        echo "Running backlogd --interval $INTERVAL for $DAEMON_SECONDS s at a 1 s cadence," \
             "metrics off and on ($want listeners)" >&2
        for r in off on; do
                measure_daemon "$TMP/cad-$r.conf" "cad-$r-$tag" >"$TMP/cad-$r-$tag.res"
                read -r "CAD_CPU_${r}_$tag" _ _ _ "CAD_SHARE_${r}_$tag" "CAD_BYTES_${r}_$tag" <"$TMP/cad-$r-$tag.res"
        done
        printf -v "CAD_FILE_$tag" %s "$(stat -c %s "$TMP/metrics-$tag/backlogd.prom" 2>/dev/null || echo n/a)"
        printf -v "CAD_CPU_base_$tag" %s n/a
        printf -v "CAD_BYTES_base_$tag" %s n/a
        if [[ -n "${BACKLOGD_BASE:-}" && -x "${BACKLOGD_BASE:-}" ]]; then
                measure_daemon "$TMP/cad-base.conf" "cad-base-$tag" "$BACKLOGD_BASE" >"$TMP/cad-base-$tag.res"
                read -r "CAD_CPU_base_$tag" _ _ _ _ "CAD_BYTES_base_$tag" <"$TMP/cad-base-$tag.res"
        fi
}

# ---- a small host ------------------------------------------------------------
# SMALL_LISTENERS listeners and SMALL_CONNECTIONS connections, measured
# first and torn down before the full population (the kernel's listener
# hash is shared by all namespaces: both at once would blur the floor).
# Only the cadence rows (see measure_cadence below).
start_pop() { # first_port first_g listeners connections tag [bench-pop option...]
        local first=$1 g=$2 n_l=$3 n_c=$4 tag=$5
        shift 5
        "$POP" -p "$first" -g "$g" -l "$n_l" -c "$n_c" -t "$POP_LIFETIME" "$@" >"$TMP/$tag.out" 2>"$TMP/$tag.err" </dev/null &
        PIDS+=($!)
        LAST_POP=$!
}
wait_pop() { # tag pid
        local i
        for (( i = 0; i < 2400; i++ )); do
                grep -qs '^ready' "$TMP/$1.out" && return 0
                if ! kill -0 "$2" 2>/dev/null; then
                        cat "$TMP/$1.err" >&2
                        die "bench-pop $1 failed"
                fi
                sleep 0.1
        done
        die "bench-pop $1 not ready after 240 s"
}

# calm_daemon TAG LISTENERS: with a population where no queue is raised,
# the floor, the floor at the daemon's cadence and the daemon (SYN counts
# and the stall watch every 10 polls): once as the population is (no
# connection comes: most polls are idle, see IDLE POLLS in backlogd(8)),
# once with one more listener that takes a connection every poll interval
# (bench-pop -r), so that every poll dumps. Sets CALM_FLOOR_, CALM_COLD_,
# CALM_CPU_, CALM_BUSY_<tag>.
calm_daemon() {
        local tag=$1 want=$2 INTERVAL DAEMON_SECONDS floor syn cpu busy ms pid
        floor=$(floor_of "$want")
        INTERVAL=$(interval_for "$floor")
        DAEMON_SECONDS=$(awk -v i="$INTERVAL" -v p="$POLLS" 'BEGIN { printf "%.2f\n", i * p }')
        syn=$(awk -v i="$INTERVAL" 'BEGIN { printf "%.3f\n", i * 10 }')
        printf 'syn_interval = %s;\nstall = %s;\n' "$syn" "$syn" >"$TMP/calm-$tag.conf"
        echo "Running backlogd --interval $INTERVAL for $DAEMON_SECONDS s at a 1 s cadence," \
             "no queue raised ($want listeners)" >&2
        measure_daemon "$TMP/calm-$tag.conf" "calm-$tag" >"$TMP/calm-$tag.res"
        read -r cpu _ <"$TMP/calm-$tag.res"
        ms=$(awk -v i="$INTERVAL" 'BEGIN { printf "%d\n", i * 1000 + 0.5 }')
        start_pop $(( FIRST_PORT + want )) 0 1 0 "churn-$tag" -a 1 -n -r "$ms"
        pid=$LAST_POP
        wait_pop "churn-$tag" "$pid"
        measure_daemon "$TMP/calm-$tag.conf" "busy-$tag" >"$TMP/busy-$tag.res"
        read -r busy _ <"$TMP/busy-$tag.res"
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        printf -v "CALM_FLOOR_$tag" %s "$floor"
        printf -v "CALM_COLD_$tag" %s "$(floor_cold_of "$want" "$INTERVAL")"
        printf -v "CALM_CPU_$tag" %s "$cpu"
        printf -v "CALM_BUSY_$tag" %s "$busy"
}

# shellcheck disable=SC2034 # read through ${!calm} in cadence_block
CALM_CPU_big=n/a CALM_CPU_small=n/a
if (( HAVE_DAEMON )); then
        echo "A small host first: $SMALL_LISTENERS listeners, $SMALL_CONNECTIONS connections," \
             "none full, then 1 % full" >&2
        start_pop "$FIRST_PORT" 0 "$SMALL_LISTENERS" "$SMALL_CONNECTIONS" small-calm -n
        SMALL_PID=$LAST_POP
        wait_pop small-calm "$SMALL_PID"
        calm_daemon small "$SMALL_LISTENERS"
        kill -TERM "$SMALL_PID" 2>/dev/null || true
        wait "$SMALL_PID" 2>/dev/null || true
        start_pop "$FIRST_PORT" 0 "$SMALL_LISTENERS" "$SMALL_CONNECTIONS" small
        SMALL_PID=$LAST_POP
        wait_pop small "$SMALL_PID"
        measure_cadence small "$SMALL_LISTENERS"
        kill -TERM "$SMALL_PID" 2>/dev/null || true
        wait "$SMALL_PID" 2>/dev/null || true
fi

# ---- population -----------------------------------------------------------
# start_pops TAG [BENCH-POP OPTION...]: the population of LISTENERS
# listeners and CONNECTIONS connections in PROCS processes, TAG0..; their
# pids in POP_PIDS. wait_pops TAG: until each is ready, at most 240 s.
start_pops() {
        local tag=$1 p n_l n_c per_l per_c
        shift
        per_l=$(( LISTENERS / PROCS ))
        per_c=$(( CONNECTIONS / PROCS ))
        for (( p = 0; p < PROCS; p++ )); do
                n_l=$per_l n_c=$per_c
                if (( p == PROCS - 1 )); then
                        n_l=$(( LISTENERS - per_l * (PROCS - 1) ))
                        n_c=$(( CONNECTIONS - per_c * (PROCS - 1) ))
                fi
                "$POP" -p $(( FIRST_PORT + p * per_l )) -g $(( p * per_l )) -l "$n_l" -c "$n_c" \
                        -t "$POP_LIFETIME" "$@" >"$TMP/$tag$p.out" 2>"$TMP/$tag$p.err" </dev/null &
                PIDS+=($!)
                POP_PIDS[p]=$!
        done
}
wait_pops() {
        local tag=$1 i p ready=0
        for (( i = 0; i < 2400; i++ )); do
                ready=0
                for (( p = 0; p < PROCS; p++ )); do
                        grep -qs '^ready' "$TMP/$tag$p.out" && ready=$(( ready + 1 ))
                        if ! kill -0 "${POP_PIDS[p]}" 2>/dev/null && ! grep -qs '^ready' "$TMP/$tag$p.out"; then
                                cat "$TMP/$tag$p.err" >&2
                                die "bench-pop $tag$p failed"
                        fi
                done
                (( ready == PROCS )) && return 0
                sleep 0.1
        done
        die "population $tag not ready after 240 s"
}

# ---- no queue raised ----------------------------------------------------------
# The same population with no full queue (bench-pop -n), first and torn
# down before the main one: the floor and the daemon at the 1 s cadence
# (SYN counts and the stall watch every 10 polls), as a host whose queues
# are all fine pays.
if (( HAVE_DAEMON )); then
        echo "No queue raised first: $LISTENERS listeners, $CONNECTIONS connections, none full" >&2
        start_pops calm -n
        wait_pops calm
        calm_daemon big "$LISTENERS"
        for (( p = 0; p < PROCS; p++ )); do
                kill -TERM "${POP_PIDS[p]}" 2>/dev/null || true
        done
        for (( p = 0; p < PROCS; p++ )); do
                wait "${POP_PIDS[p]}" 2>/dev/null || true
        done
fi

# ---- population -----------------------------------------------------------
echo "Building the population: $LISTENERS listeners (1 in 4 IPv6, 1 % full)," \
     "$CONNECTIONS established connections, $PROCS processes" >&2
t_start=$EPOCHREALTIME
start_pops pop
wait_pops pop
t_ready=$EPOCHREALTIME
read -r n_v6 n_full < <(cat "$TMP"/pop*.out | awk '
        { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] += kv[2] } }
        END { print v["ipv6"], v["full"] }')
n_estab=$(ss -tnH state established | wc -l)
printf 'Population ready in %.1f s: %d listeners (%d IPv6, %d full), %d established sockets\n' \
        "$(awk -v a="$t_start" -v b="$t_ready" 'BEGIN { print b - a }')" \
        "$LISTENERS" "$n_v6" "$n_full" "$n_estab" >&2

# ---- measurements ---------------------------------------------------------
# The floor: µs of CPU (user+system) per raw v4+v6 LISTEN dump.
floor_out=$("$FLOOR" "$DUMPS") || die "bench-floor failed"
floor_sockets=$(sed -n 's/.*sockets=\([0-9]*\).*/\1/p' <<<"$floor_out")
FLOOR_CPU=$(sed -n 's/.*cpu_us_per_dump=\([0-9.]*\).*/\1/p' <<<"$floor_out")
FLOOR_WALL=$(sed -n 's/.*wall_us_per_dump=\([0-9.]*\).*/\1/p' <<<"$floor_out")
[[ "$floor_sockets" -eq "$LISTENERS" ]] ||
        die "bench-floor saw $floor_sockets listeners, expected $LISTENERS"
# The same with the request backlogd sends: one walk for both families.
walk_out=$("$FLOOR" --one-walk "$DUMPS") || die "bench-floor --one-walk failed"
WALK_CPU=$(sed -n 's/.*cpu_us_per_dump=\([0-9.]*\).*/\1/p' <<<"$walk_out")
WALK_WALL=$(sed -n 's/.*wall_us_per_dump=\([0-9.]*\).*/\1/p' <<<"$walk_out")

# config_match() over this many listeners (as bench-pop's ports), with 1
# watch entry and with 10,000 single-port ones: CPU µs per poll's worth of
# matching, no kernel.
MATCH_ENTRIES=10000
MATCH_ONE=n/a MATCH_MANY=n/a MATCH_RATIO=n/a
if [[ -n "$MATCH" ]]; then
        match_out=$("$MATCH" "$LISTENERS" "$MATCH_ENTRIES" "$POLLS") || die "bench-match failed"
        MATCH_ONE=$(sed -n 's/.*one_us=\([0-9.]*\).*/\1/p' <<<"$match_out")
        MATCH_MANY=$(sed -n 's/.*many_us=\([0-9.]*\).*/\1/p' <<<"$match_out")
        MATCH_RATIO=$(sed -n 's/.*ratio=\([0-9.]*\).*/\1/p' <<<"$match_out")
fi

# The daemon's interval: short, but long enough for it to keep up.
if [[ -n "${BENCH_INTERVAL:-}" ]]; then
        INTERVAL=$BENCH_INTERVAL
else
        INTERVAL=$(awk -v c="$FLOOR_CPU" 'BEGIN {
                n = int((c * 5 / 1e4) + 0.999999); if (n < 1) n = 1; if (n > 20) n = 20
                printf "%.2f\n", n / 100 }')
fi
DAEMON_SECONDS=$(awk -v i="$INTERVAL" -v p="$POLLS" 'BEGIN { printf "%.2f\n", i * p }')

# A 20 Hz single-port entry (fast polls, exact lookups): the daemon at
# `interval = 1` watching one port, with and without `interval = 0.05` on
# that entry, each for FAST_SECONDS; measure_share prints the run's CPU as
# % of a core.
FAST_SECONDS=${BENCH_FAST_SECONDS:-20}
measure_share() {
        local conf=$1 name=$2 pid t0 t1 w0 w1
        "$BACKLOGD" -c "$conf" --log-target console >"$TMP/$name.log" 2>&1 </dev/null &
        pid=$!
        DAEMON_PID=$pid
        sleep 1.5 # past the first full polls
        if ! kill -0 "$pid" 2>/dev/null; then
                echo "run.sh: backlogd ($name) exited early:" >&2
                tail -5 "$TMP/$name.log" >&2
                touch "$TMP/daemon-failed"
                wait "$pid" 2>/dev/null || true
                DAEMON_PID=
                echo "n/a"
                return
        fi
        t0=$(proc_cpu_us "$pid") w0=$EPOCHREALTIME
        sleep "$FAST_SECONDS"
        t1=$(proc_cpu_us "$pid") w1=$EPOCHREALTIME
        stop_daemon "$pid"
        awk -v t0="$t0" -v t1="$t1" -v w0="$w0" -v w1="$w1" 'BEGIN { printf "%.3f\n", (t1 - t0) / 1e4 / (w1 - w0) }'
}
FAST_BASE=n/a FAST_ON=n/a FAST_COST=n/a FAST_POLL=n/a
FAST5_BASE=n/a FAST5_ON=n/a FAST5_COST=n/a FAST5_POLL=n/a
# fast_cost WITHOUT WITH: the fast polls' own cost, the difference as % of
# a core, and per fast poll (20 a second) against the floor's CPU per dump.
fast_cost() {
        awk -v a="$1" -v b="$2" -v f="$FLOOR_CPU" 'BEGIN {
                if (a == "n/a" || b == "n/a") { print "n/a n/a"; exit }
                d = b - a; printf "%.3f %.4f\n", d, d * 1e4 / 20 / f }'
}
measure_fast() {
        printf 'interval = 1;\nwatch = ( { port = %d; } );\n' "$FIRST_PORT" >"$TMP/fast-off.conf"
        printf 'interval = 1;\nwatch = ( { port = %d; interval = 0.05; } );\n' "$FIRST_PORT" >"$TMP/fast-on.conf"
        echo "Running backlogd at interval = 1 for $FAST_SECONDS s, without and with a 20 Hz entry" >&2
        measure_share "$TMP/fast-off.conf" fast-off >"$TMP/fast-off.res"
        measure_share "$TMP/fast-on.conf" fast-on >"$TMP/fast-on.res"
        read -r FAST_BASE <"$TMP/fast-off.res"
        read -r FAST_ON <"$TMP/fast-on.res"
        read -r FAST_COST FAST_POLL < <(fast_cost "$FAST_BASE" "$FAST_ON")
        # The 5-port watch list of the "watch 5 ports" row, each entry at
        # 20 Hz: what one fast poll of the list costs.
        local k five_off='' five_on=''
        for (( k = 0; k < 5; k++ )); do
                five_off+="${five_off:+, }{ port = $(( FIRST_PORT + k )); }"
                five_on+="${five_on:+, }{ port = $(( FIRST_PORT + k )); interval = 0.05; }"
        done
        printf 'interval = 1;\nwatch = ( %s );\n' "$five_off" >"$TMP/fast5-off.conf"
        printf 'interval = 1;\nwatch = ( %s );\n' "$five_on" >"$TMP/fast5-on.conf"
        echo "Running backlogd at interval = 1 for $FAST_SECONDS s, 5 ports without and with interval = 0.05" >&2
        measure_share "$TMP/fast5-off.conf" fast5-off >"$TMP/fast5-off.res"
        measure_share "$TMP/fast5-on.conf" fast5-on >"$TMP/fast5-on.res"
        read -r FAST5_BASE <"$TMP/fast5-off.res"
        read -r FAST5_ON <"$TMP/fast5-on.res"
        read -r FAST5_COST FAST5_POLL < <(fast_cost "$FAST5_BASE" "$FAST5_ON")
}
fast_rows() {
        row "20 Hz single-port entry, interval = 1 ($FAST_SECONDS s)" "" "" ""
        row "  without the entry's interval, % of a core" "" "$FAST_BASE %" ""
        row "  with interval = 0.05, % of a core" "" "$FAST_ON %" ""
        row "  fast polls' cost, % of a core" "" "$FAST_COST %" ""
        row "  per fast poll / floor" "-" "-" "${FAST_POLL}x"
        row "the 5 ports of \"watch 5\", each interval = 0.05" "" "" ""
        row "  without the entries' interval, % of a core" "" "$FAST5_BASE %" ""
        row "  with interval = 0.05, % of a core" "" "$FAST5_ON %" ""
        row "  fast polls' cost, % of a core" "" "$FAST5_COST %" ""
        row "  per fast poll of the 5 ports / floor" "-" "-" "${FAST5_POLL}x"
}
if (( ONLY_FAST )); then
        (( HAVE_DAEMON )) || die "--only-fast needs backlogd"
        measure_fast
        row() { printf '%-44s %12s %12s %10s\n' "$1" "$2" "$3" "$4"; }
        printf 'floor: %s µs CPU per raw v4+v6 LISTEN dump of %d listeners\n' "$FLOOR_CPU" "$LISTENERS"
        fast_rows
        exit 0
fi

# Whole processes: prints "wall_us cpu_us" per run over RUNS runs, using
# bash's time keyword (children's user+system from wait4()).
time_runs() {
        local TIMEFORMAT='%3R %3U %3S' out
        out=$( { time (
                for (( i = 0; i < RUNS; i++ )); do "$@" >/dev/null 2>&1 || true; done
        ) ; } 2>&1 )
        awk -v n="$RUNS" '{ printf "%.0f %.0f\n", $1 * 1e6 / n, ($2 + $3) * 1e6 / n }' <<<"$out"
}

read -r SS_WALL SS_CPU < <(time_runs ss -ltnm)

: >"$TMP/empty.conf"
{
        printf 'watch = ( '
        for (( k = 0; k < 5; k++ )); do
                (( k > 0 )) && printf ', '
                printf '{ port = %d; }' $(( FIRST_PORT + k ))
        done
        printf ' );\n'
} >"$TMP/watch.conf"

ONCE_WALL=n/a ONCE_CPU=n/a ONCE_RC=n/a
if (( HAVE_DAEMON )); then
        ONCE_RC=0
        timeout 30 "$BACKLOGD" -c "$TMP/empty.conf" --once --json >"$TMP/once.json" 2>"$TMP/once.err" ||
                ONCE_RC=$?
        if (( ONCE_RC == 124 )) || [[ ! -s "$TMP/once.json" ]]; then
                echo "run.sh: 'backlogd --once --json' failed (exit $ONCE_RC):" >&2
                head -5 "$TMP/once.err" >&2
        else
                ONCE_SEEN=$(grep -o '"port":' "$TMP/once.json" | wc -l)
                if (( ONCE_SEEN != LISTENERS )); then
                        echo "run.sh: warning: backlogd --once --json listed $ONCE_SEEN listeners," \
                             "expected $LISTENERS" >&2
                fi
                read -r ONCE_WALL ONCE_CPU < <(time_runs timeout 30 "$BACKLOGD" -c "$TMP/empty.conf" --once --json)
        fi
fi

D_CPU=n/a D_POLLS=n/a D_WAKE=n/a D_HWM=n/a D_SHARE=n/a
W_CPU=n/a W_POLLS=n/a W_WAKE=n/a W_HWM=n/a W_SHARE=n/a
if (( HAVE_DAEMON )); then
        echo "Running backlogd --interval $INTERVAL for $DAEMON_SECONDS s, twice" >&2
        measure_daemon "$TMP/empty.conf" defaults >"$TMP/defaults.res"
        read -r D_CPU D_POLLS D_WAKE D_HWM D_SHARE _ <"$TMP/defaults.res"
        measure_daemon "$TMP/watch.conf" watch5 >"$TMP/watch5.res"
        read -r W_CPU W_POLLS W_WAKE W_HWM W_SHARE _ <"$TMP/watch5.res"
        measure_cadence big "$LISTENERS"
        measure_fast
fi

# ---- walks of the connections ---------------------------------------------
# One walk of this namespace's connections as backlogd makes them: the
# read of the queued connections of one port (a full listener's, for the
# wait and the stall watch) and the SYN count, at CONNECTIONS, then with
# MORE_CONNECTIONS more (bench-pop processes of 10 listeners each, none
# full, stopped right after). Each walks every connection, whatever the
# port filter: their cost grows with the connections, not the listeners.
WALK_Q=n/a WALK_W=n/a WALK_S=n/a WALK2_Q=n/a WALK2_W=n/a WALK2_S=n/a WALK2_N=n/a
walk_field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$2"; }
if [[ -n "$WALKER" ]]; then
        echo "Timing one walk of the connections ($n_estab established sockets)" >&2
        walk_out=$("$WALKER" $(( FIRST_PORT + 50 )) 50) || die "bench-walk failed"
        WALK_Q=$(walk_field queued "$walk_out") WALK_W=$(walk_field wait_cpu_us "$walk_out")
        WALK_S=$(walk_field syn_cpu_us "$walk_out")
        if (( MORE_CONNECTIONS > 0 )); then
                more_procs=$(( (MORE_CONNECTIONS + 8999) / 9000 ))
                echo "Adding $MORE_CONNECTIONS connections ($more_procs processes)" >&2
                MORE_PIDS=()
                for (( p = 0; p < more_procs; p++ )); do
                        n_c=9000
                        (( p == more_procs - 1 )) && n_c=$(( MORE_CONNECTIONS - 9000 * (more_procs - 1) ))
                        start_pop $(( FIRST_PORT + LISTENERS + 10 * p )) $(( 100000 + 100 * p )) 10 "$n_c" "more$p"
                        MORE_PIDS+=("$LAST_POP")
                done
                for (( p = 0; p < more_procs; p++ )); do
                        wait_pop "more$p" "${MORE_PIDS[p]}"
                done
                WALK2_N=$(ss -tnH state established | wc -l)
                walk_out=$("$WALKER" $(( FIRST_PORT + 50 )) 20) || die "bench-walk failed"
                WALK2_Q=$(walk_field queued "$walk_out") WALK2_W=$(walk_field wait_cpu_us "$walk_out")
                WALK2_S=$(walk_field syn_cpu_us "$walk_out")
                for pid in "${MORE_PIDS[@]}"; do
                        kill -TERM "$pid" 2>/dev/null || true
                done
                for pid in "${MORE_PIDS[@]}"; do
                        wait "$pid" 2>/dev/null || true
                done
        fi
fi

# ---- other network namespaces ---------------------------------------------
# EXTRA_NETNS namespaces made by `ip netns add`, NETNS_LISTENERS listeners
# each. The kernel keeps one listener hash for all namespaces, so a dump in
# one of them still walks the LISTENERS of this one. `ip netns add` writes
# to /run/netns: a tmpfs on /run of this mount namespace keeps the
# machine's /run out of it, which holds only while mounts do not propagate.
prop=$(findmnt -no PROPAGATION --target /run) || die "findmnt /run failed"
[[ "$prop" != *shared* ]] || die "/run propagates to other mount namespaces ($prop)"
mount -t tmpfs -o mode=0755,size=1m backlogd-bench /run || die "cannot mount a tmpfs on /run"
echo "Adding $EXTRA_NETNS network namespaces with $NETNS_LISTENERS listeners each" >&2
for (( k = 1; k <= EXTRA_NETNS; k++ )); do
        ns=bench-ns$k
        ip netns add "$ns" || die "ip netns add $ns failed"
        NETNS+=("$ns")
        ip -n "$ns" link set lo up
        # nsenter execs the program: $! is bench-pop itself.
        nsenter --net="/run/netns/$ns" "$POP" -p "$FIRST_PORT" -l "$NETNS_LISTENERS" -c 0 \
                -t "$POP_LIFETIME" >"$TMP/$ns.out" 2>"$TMP/$ns.err" </dev/null &
        PIDS+=($!)
        NS_PIDS[k]=$!
done
for (( k = 1; k <= EXTRA_NETNS; k++ )); do
        ns=bench-ns$k
        for (( i = 0; i < 300; i++ )); do
                grep -qs '^ready' "$TMP/$ns.out" && break
                if ! kill -0 "${NS_PIDS[k]}" 2>/dev/null; then
                        cat "$TMP/$ns.err" >&2
                        die "bench-pop in $ns failed"
                fi
                sleep 0.1
        done
        grep -qs '^ready' "$TMP/$ns.out" || die "bench-pop in $ns not ready after 30 s"
done

# The floor of one extra namespace: backlogd's one-walk request inside it.
nsfloor_out=$(nsenter --net=/run/netns/bench-ns1 "$FLOOR" --one-walk "$DUMPS") ||
        die "bench-floor --one-walk in bench-ns1 failed"
nsfloor_sockets=$(sed -n 's/.*sockets=\([0-9]*\).*/\1/p' <<<"$nsfloor_out")
NSFLOOR_CPU=$(sed -n 's/.*cpu_us_per_dump=\([0-9.]*\).*/\1/p' <<<"$nsfloor_out")
NSFLOOR_WALL=$(sed -n 's/.*wall_us_per_dump=\([0-9.]*\).*/\1/p' <<<"$nsfloor_out")
[[ "$nsfloor_sockets" -eq "$NETNS_LISTENERS" ]] ||
        die "bench-floor saw $nsfloor_sockets listeners in bench-ns1, expected $NETNS_LISTENERS"

# The daemon without and with the namespaces, both without SYN counts (the
# defaults run counts them every 10 s) and both with the namespaces in
# place, so that the difference is the namespaces' polls alone.
printf 'syn_interval = 0;\n' >"$TMP/nosyn.conf"
printf 'namespaces = [ "/run/netns/*" ];\nsyn_interval = 0;\n' >"$TMP/netns.conf"
S_CPU=n/a S_POLLS=n/a S_WAKE=n/a S_SHARE=n/a
N_CPU=n/a N_POLLS=n/a N_WAKE=n/a N_HWM=n/a N_SHARE=n/a
NS_EXTRA=n/a
if (( HAVE_DAEMON )); then
        # Does the daemon see them all? One --once --json, as a check.
        if timeout 30 "$BACKLOGD" -c "$TMP/netns.conf" --once --json >"$TMP/netns.json" 2>"$TMP/netns.err"; then
                ns_seen=$(grep -c '^{"netns":"bench-ns[0-9]*","family"' "$TMP/netns.json" || true)
                if (( ns_seen != EXTRA_NETNS * NETNS_LISTENERS )); then
                        echo "run.sh: warning: backlogd --once --json listed $ns_seen listeners in" \
                             "the extra namespaces, expected $(( EXTRA_NETNS * NETNS_LISTENERS ))" >&2
                fi
        else
                echo "run.sh: warning: backlogd --once --json with the namespaces failed:" >&2
                head -5 "$TMP/netns.err" >&2
        fi
        echo "Running backlogd --interval $INTERVAL for $DAEMON_SECONDS s, syn_interval = 0," \
             "without and with the $EXTRA_NETNS namespaces" >&2
        measure_daemon "$TMP/nosyn.conf" nosyn >"$TMP/nosyn.res"
        read -r S_CPU S_POLLS S_WAKE _ S_SHARE _ <"$TMP/nosyn.res"
        measure_daemon "$TMP/netns.conf" netns >"$TMP/netns.res"
        read -r N_CPU N_POLLS N_WAKE N_HWM N_SHARE _ <"$TMP/netns.res"
        NS_EXTRA=$(awk -v n="$N_CPU" -v s="$S_CPU" -v k="$EXTRA_NETNS" 'BEGIN {
                if (n == "n/a" || s == "n/a") print "n/a"; else printf "%.0f\n", (n - s) / k }')
fi

# ---- table ----------------------------------------------------------------
# ratio CPU [FLOOR]: CPU / FLOOR, by default the floor's CPU per dump.
ratio() {
        awk -v a="$1" -v f="${2:-$FLOOR_CPU}" 'BEGIN {
                if (a == "n/a" || f <= 0) print "n/a"; else printf "%.2fx\n", a / f }'
}
row() {
        printf '%-44s %12s %12s %10s\n' "$1" "$2" "$3" "$4"
}

echo
echo "backlogd benchmark: $LISTENERS listeners ($n_v6 IPv6, $n_full full)," \
     "$CONNECTIONS connections ($n_estab established sockets), kernel $(uname -r), $(nproc) CPUs"
row "measurement" "wall µs" "CPU µs" "CPU/floor"
row "floor: raw LISTEN dump v4+v6 ($DUMPS dumps)" "$FLOOR_WALL" "$FLOOR_CPU" "1.00x"
row "  the same, one-walk request (backlogd's)" "$WALK_WALL" "$WALK_CPU" "$(ratio "$WALK_CPU")"
row "backlogd poll, defaults (${D_POLLS} polls)" "-" "$D_CPU" "$(ratio "$D_CPU")"
row "backlogd poll, watch 5 ports (${W_POLLS} polls)" "-" "$W_CPU" "$(ratio "$W_CPU")"
row "config_match() per poll, $MATCH_ENTRIES ports" "-" "$MATCH_MANY" "$(ratio "$MATCH_MANY")"
row "walk: queued conns of 1 port ($WALK_Q), $CONNECTIONS conns" "-" "$WALK_W" "$(ratio "$WALK_W")"
row "walk: SYN count, $CONNECTIONS conns" "-" "$WALK_S" "$(ratio "$WALK_S")"
if (( MORE_CONNECTIONS > 0 )); then
        row "walk: queued conns of 1 port ($WALK2_Q), $(( CONNECTIONS + MORE_CONNECTIONS )) conns" "-" "$WALK2_W" \
            "$(ratio "$WALK2_W")"
        row "walk: SYN count, $(( CONNECTIONS + MORE_CONNECTIONS )) conns" "-" "$WALK2_S" "$(ratio "$WALK2_S")"
fi
row "backlogd --once --json, per run ($RUNS runs)" "$ONCE_WALL" "$ONCE_CPU" "$(ratio "$ONCE_CPU")"
row "ss -ltnm, per run ($RUNS runs)" "$SS_WALL" "$SS_CPU" "$(ratio "$SS_CPU")"
row "backlogd poll, no SYN counts (${S_POLLS} polls)" "-" "$S_CPU" "$(ratio "$S_CPU")"
row "backlogd poll, no SYN, +$EXTRA_NETNS netns (${N_POLLS} polls)" "-" "$N_CPU" "$(ratio "$N_CPU")"
row "  one-walk dump in one netns ($DUMPS dumps)" "$NSFLOOR_WALL" "$NSFLOOR_CPU" "$(ratio "$NSFLOOR_CPU")"
row "per extra namespace: daemon vs dump in it" "-" "$NS_EXTRA" "$(ratio "$NS_EXTRA" "$NSFLOOR_CPU")"
# A 1 s cadence: one block per population size.
bytes_h() {
        awk -v b="$1" 'BEGIN { if (b == "n/a" || b == "") print "n/a"; else printf "%.1f MB/h\n", b * 3600 / 1e6 }'
}
cadence_block() { # tag listeners connections
        local floor cpu_off cpu_on cpu_base b_off b_on b_base iv file
        floor=CAD_FLOOR_$1 cpu_off=CAD_CPU_off_$1 cpu_on=CAD_CPU_on_$1 cpu_base=CAD_CPU_base_$1
        b_off=CAD_BYTES_off_$1 b_on=CAD_BYTES_on_$1 b_base=CAD_BYTES_base_$1 iv=CAD_INTERVAL_$1 file=CAD_FILE_$1
        [[ -n "${!floor:-}" ]] || return 0
        echo "1 s cadence at $2 listeners, $3 connections (--interval ${!iv}, syn_interval 10 polls," \
             "metrics_interval 15 polls):"
        row "  floor: raw LISTEN dump v4+v6" "-" "${!floor}" "1.00x"
        row "  backlogd poll, metrics off (1 % full)" "-" "${!cpu_off}" "$(ratio "${!cpu_off}" "${!floor}")"
        local calm=CALM_CPU_$1 calm_floor=CALM_FLOOR_$1 calm_cold=CALM_COLD_$1 busy=CALM_BUSY_$1
        if [[ "${!calm:-n/a}" != n/a ]]; then
                row "  no queue raised: floor" "-" "${!calm_floor}" "1.00x"
                row "  no queue raised: floor, a dump every ${!iv} s" "-" "${!calm_cold}" \
                    "$(ratio "${!calm_cold}" "${!calm_floor}")"
                row "  no queue raised, no connection: backlogd poll" "-" "${!calm}" \
                    "$(ratio "${!calm}" "${!calm_floor}")"
                row "  no queue raised, a connection each poll" "-" "${!busy}" \
                    "$(ratio "${!busy}" "${!calm_floor}")"
                row "    the same / floor at its cadence" "-" "-" "$(ratio "${!busy}" "${!calm_cold}")"
                row "  1 % full / no queue raised, a connection each poll" "-" "-" "$(ratio "${!cpu_off}" "${!busy}")"
        fi
        row "  backlogd poll, metrics on" "-" "${!cpu_on}" "$(ratio "${!cpu_on}" "${!floor}")"
        row "  metrics on / off" "-" "-" "$(ratio "${!cpu_on}" "${!cpu_off}")"
        row "  bytes written, metrics off" "" "$(bytes_h "${!b_off}")" ""
        row "  bytes written, metrics on (file ${!file} B)" "" "$(bytes_h "${!b_on}")" ""
        if [[ "${!cpu_base}" != n/a ]]; then
                row "  BACKLOGD_BASE, metrics every poll" "-" "${!cpu_base}" "$(ratio "${!cpu_base}" "${!floor}")"
                row "  bytes written, BACKLOGD_BASE" "" "$(bytes_h "${!b_base}")" ""
                row "  bytes: metrics on / BACKLOGD_BASE" "" "" \
                    "$(awk -v a="${!b_on}" -v b="${!b_base}" 'BEGIN { if (b > 0) printf "%.4f%%\n", a * 100 / b; else print "n/a" }')"
        fi
}

row "backlogd peak RSS (VmHWM), defaults" "" "${D_HWM} kB" ""
row "backlogd peak RSS (VmHWM), watch 5 ports" "" "${W_HWM} kB" ""
row "backlogd peak RSS (VmHWM), +$EXTRA_NETNS netns" "" "${N_HWM} kB" ""
fast_rows
echo
cadence_block small "$SMALL_LISTENERS" "$SMALL_CONNECTIONS"
cadence_block big "$LISTENERS" "$CONNECTIONS"
echo
echo "Daemon: --interval $INTERVAL, polls counted as wall time / interval (the timer keeps a fixed"
echo "cadence while a poll takes less than the interval); voluntary context switches (epoll_wait"
echo "wake-ups) seen: defaults $D_WAKE, watch $W_WAKE; CPU share of one core: defaults $D_SHARE %," \
     "watch $W_SHARE %."
echo "Walks: one read of the queued connections of a full listener's port (what the wait and the stall"
echo "watch cost, at most every syn_interval) and one SYN count, CPU per walk, best of 3 runs; with"
echo "$MORE_CONNECTIONS connections more, $WALK2_N established sockets were in the namespace."
echo "config_match(): the $LISTENERS listeners of a poll against $MATCH_ENTRIES single-port watch" \
     "entries cost ${MATCH_RATIO}x the same against one ($MATCH_ONE µs; bench-match, no kernel)."
echo "Namespaces: $EXTRA_NETNS more made by 'ip netns add', $NETNS_LISTENERS listeners each. The no-SYN rows"
echo "set syn_interval = 0, with all namespaces in place; the second also watches them"
echo "(namespaces = [ \"/run/netns/*\" ]). Per extra namespace = (its CPU - no SYN's) / $EXTRA_NETNS; its"
echo "last column divides by the one-walk dump in one namespace, not by the floor."
echo "Wake-ups: no SYN $S_WAKE, +$EXTRA_NETNS netns $N_WAKE; CPU share: no SYN $S_SHARE %," \
     "+$EXTRA_NETNS netns $N_SHARE %."
for share in "$D_SHARE" "$W_SHARE" "$S_SHARE" "$N_SHARE"; do
        if [[ "$share" != n/a ]] && (( share > 50 )); then
                echo "WARNING: the daemon used more than half a core: it may have skipped polls," \
                     "so CPU per poll is underestimated; raise BENCH_INTERVAL."
                break
        fi
done
if [[ "$ONCE_RC" != n/a && "$ONCE_RC" != 0 ]]; then
        echo "backlogd --once --json exited with status $ONCE_RC."
fi
# A daemon that would not run (say, a configuration this version refuses)
# leaves rows at n/a: that is a failure, not a figure.
if [[ -e "$TMP/daemon-failed" ]]; then
        echo "run.sh: backlogd exited early in at least one measurement (see above)" >&2
        exit 1
fi
