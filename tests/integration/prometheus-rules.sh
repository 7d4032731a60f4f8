#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Checks the shipped Prometheus alerting rules
# (contrib/prometheus/backlogd.rules.yml):
# - `promtool check rules` accepts them;
# - `promtool test rules` passes the unit tests beside them (input series,
#   the exact alerts and annotations expected, and cases that must not fire);
# - every alert of the rules file is expected to fire in at least one test;
# - every metric the rules and the tests name, with its label names, is one
#   backlogd writes: tests/fixtures/metrics/listeners.prom is the golden
#   output of the metrics writer (tests/unit/test-metrics.c), so renaming a
#   metric or a label there fails here until the rules follow.
#
# usage: prometheus-rules.sh RULES_FILE TEST_FILE METRICS_GOLDEN
set -u

rules=${1:?usage: prometheus-rules.sh RULES_FILE TEST_FILE METRICS_GOLDEN}
tests=${2:?} golden=${3:?}

if ! command -v promtool >/dev/null; then
        echo "SKIP: promtool not installed (Debian package prometheus)"
        exit 77
fi
if [ -x /usr/bin/python3 ]; then
        PYTHON=/usr/bin/python3
else
        PYTHON=python3
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
        echo "FAIL - $*"
        failures=$((failures + 1))
}

# The test file names its rules as "backlogd.rules.yml" in its own
# directory, so that any rules file can be tested with it.
cp "$rules" "$tmp/backlogd.rules.yml" && cp "$tests" "$tmp/rules.test.yml" || exit 1

if out=$(promtool check rules "$tmp/backlogd.rules.yml" 2>&1); then
        echo "ok - promtool check rules: $(grep -o '[0-9]* rules found' <<<"$out")"
else
        fail "promtool check rules: $out"
fi

if out=$(cd "$tmp" && promtool test rules rules.test.yml 2>&1); then
        echo "ok - promtool test rules"
else
        fail "promtool test rules: $out"
fi

# Alerts and metric names, as the YAML says them (promtool has read it, so
# a plain scan of the lines is enough).
if out=$("$PYTHON" - "$tmp/backlogd.rules.yml" "$tmp/rules.test.yml" "$golden" <<'PY'
import re, sys

rules = open(sys.argv[1]).read()
tests = open(sys.argv[2]).read()
golden = open(sys.argv[3]).read()
bad = []

alerts = re.findall(r"^\s*- alert:\s*(\S+)", rules, re.M)
# alert_rule_test entries that expect alerts: "alertname: X" followed,
# before the next "- eval_time", by "exp_alerts:" with an item.
tested = set()
for block in re.split(r"^\s*- eval_time:", tests, flags=re.M)[1:]:
    m = re.search(r"alertname:\s*(\S+)", block)
    if m and re.search(r"exp_alerts:\s*\n\s*- exp_labels:", block):
        tested.add(m.group(1))
for a in alerts:
    if a not in tested:
        bad.append(f"alert {a} is never expected to fire in the tests")

# Label names of each family backlogd writes.
labels = {}
for name, lbl in re.findall(r"^(backlogd_\w+)(?:\{([^}]*)\})? ", golden, re.M):
    labels.setdefault(name, set()).add(tuple(sorted(re.findall(r'(\w+)="', lbl or ""))))
expr_names = set(re.findall(r"\bbacklogd_[a-z_]+\b", "\n".join(
    l for l in rules.splitlines() if re.match(r"\s*expr:", l))))
for n in sorted(expr_names):
    if n not in labels:
        bad.append(f"the rules use {n}, which backlogd does not write")
for name, lbl in re.findall(r"series:\s*'(backlogd_\w+)\{([^}]*)\}'", tests):
    keys = tuple(sorted(k for k in re.findall(r'(\w+)="', lbl) if k not in ("instance", "job")))
    if name not in labels:
        bad.append(f"the tests feed {name}, which backlogd does not write")
    elif keys not in labels[name]:
        bad.append(f"the tests feed {name} with labels {keys}, backlogd writes {sorted(labels[name])}")
print("\n".join(bad) if bad else f"{len(alerts)} alerts, {len(expr_names)} metrics")
sys.exit(1 if bad else 0)
PY
); then
        echo "ok - every alert tested, every metric and label one backlogd writes ($out)"
else
        fail "$out"
fi

if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s)"
        exit 1
fi
echo "all passed"
