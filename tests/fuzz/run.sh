#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs libFuzzer targets that are already built (it builds nothing).
#
#   tests/fuzz/run.sh [-C BUILDDIR] SECONDS [TARGET...]
#
# BUILDDIR defaults to $FUZZ_BUILD_DIR or build-fuzz; TARGET to every target
# (fuzz-diag fuzz-netstat fuzz-config), run side by side. For each target:
# replays tests/fuzz/regressions/TARGET/* once, writes fresh seeds from the
# fixtures, then fuzzes for SECONDS with the seeds, the target's dictionary
# and the corpus kept in BUILDDIR/tests/fuzz/work/TARGET/corpus. Crash files
# go to BUILDDIR/tests/fuzz/work/TARGET/artifacts/. Prints runs, coverage
# and corpus size per target; exits 1 on any crash, leak, timeout or
# sanitizer report.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${FUZZ_BUILD_DIR:-build-fuzz}
all_targets=(fuzz-diag fuzz-netstat fuzz-config)

usage() {
        echo "usage: $0 [-C BUILDDIR] SECONDS [TARGET...]  (targets: ${all_targets[*]})" >&2
        exit 2
}

while getopts "C:h" opt; do
        case $opt in
        C) build=$OPTARG ;;
        *) usage ;;
        esac
done
shift $((OPTIND - 1))
[[ $# -ge 1 && $1 =~ ^[0-9]+$ && $1 -gt 0 ]] || usage
seconds=$1
shift
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all_targets[@]}")

build=$(cd "$build" 2>/dev/null && pwd) || { echo "run.sh: no build directory $build" >&2; exit 2; }
for t in "${targets[@]}"; do
        [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "run.sh: unknown target $t" >&2; usage; }
        [[ -x $build/tests/fuzz/$t ]] || {
                echo "run.sh: $build/tests/fuzz/$t is not built" \
                     "(meson setup with -Dfuzz=true, then ninja -C $build tests/fuzz/$t)" >&2
                exit 2
        }
done

# Reports that fail a run even if the exit code were to hide them.
report_re='ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|deadly signal|SUMMARY: '

# libFuzzer's own exit codes for crashes (77) and timeouts (70) would read as
# "skipped" and "killed" to meson: every failure exits 1 instead.
common=(-error_exitcode=1 -timeout_exitcode=1 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)

sanitizer_env() {
        local t=$1 lsan=${LSAN_OPTIONS:-}
        if [[ -f $here/$t.lsan-supp ]]; then
                lsan="${lsan:+$lsan:}suppressions=$here/$t.lsan-supp:print_suppressions=0"
        fi
        echo "LSAN_OPTIONS=$lsan"
        echo "UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}"
}

run_target() {
        local t=$1 exe=$build/tests/fuzz/$1 work=$build/tests/fuzz/work/$1
        local -a env opts regressions=()
        mapfile -t env < <(sanitizer_env "$t")
        mkdir -p "$work/corpus" "$work/artifacts"
        opts=("${common[@]}" "-artifact_prefix=$work/artifacts/")
        [[ -f $here/$t.dict ]] && opts+=("-dict=$here/$t.dict")

        if [[ -d $here/regressions/$t ]]; then
                mapfile -t regressions < <(find "$here/regressions/$t" -type f ! -name '*.md' | sort)
        fi
        if [[ ${#regressions[@]} -gt 0 ]]; then
                if ! env "${env[@]}" "$exe" "${opts[@]}" "${regressions[@]}" >"$work/regressions.log" 2>&1 ||
                   grep -Eq "$report_re" "$work/regressions.log"; then
                        echo "$t: a regression input fails again:" >&2
                        tail -n 40 "$work/regressions.log" >&2
                        return 1
                fi
        fi

        python3 "$here/seeds.py" "$src" "$work/seeds" "$t" >/dev/null
        if ! env "${env[@]}" "$exe" "${opts[@]}" "-max_total_time=$seconds" \
                "$work/corpus" "$work/seeds" >"$work/fuzz.log" 2>&1 ||
           grep -Eq "$report_re" "$work/fuzz.log"; then
                echo "$t: FAILED (crash files in $work/artifacts/):" >&2
                tail -n 60 "$work/fuzz.log" >&2
                return 1
        fi
        return 0
}

summary() {
        local t=$1 log=$build/tests/fuzz/work/$1/fuzz.log status=$2 runs secs cov corpus
        [[ -f $log ]] || log=/dev/null
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
        cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1) || true
        corpus=$(find "$build/tests/fuzz/work/$t/corpus" -type f 2>/dev/null | wc -l)
        printf '%-13s %-6s runs=%s time=%ss %s corpus=%s regressions=%s\n' "$t" "$status" \
                "${runs:-?}" "${secs:-?}" "${cov:-cov: ?}" "$corpus" \
                "$(find "$here/regressions/$t" -type f ! -name '*.md' 2>/dev/null | wc -l)"
}

declare -A pids
for t in "${targets[@]}"; do
        run_target "$t" &
        pids[$t]=$!
done
failed=0
declare -A status
for t in "${targets[@]}"; do
        if wait "${pids[$t]}"; then
                status[$t]=ok
        else
                status[$t]=FAILED
                failed=1
        fi
done
for t in "${targets[@]}"; do
        summary "$t" "${status[$t]}"
done
exit $failed
