#!/usr/bin/env bash
# Flake check (issue 15): runs the README's test command N times on a fresh clone of
# this repository's HEAD and lists every test that failed (or errored) even once.
#   ./scripts/flake-check.sh 5            # 5 full runs
#   ./scripts/flake-check.sh 5 -k speedup # extra arguments go to pytest
# The clone gets its own .venv (scripts/setup-venv.sh), so nothing here touches the
# working tree's environment. Exit code 0: no test failed in any run; 1 otherwise.
set -euo pipefail
runs="${1:?usage: flake-check.sh N [PYTEST_ARGS...]}"
shift
case "$runs" in
    '' | *[!0-9]* | 0) echo "flake-check.sh: N must be a positive integer, got '$runs'" >&2; exit 2 ;;
esac
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d -t parscale-flake-XXXXXX)"
# the clone (and its .venv) goes; the logs and junit files stay for reading
trap 'rm -rf "$work/repo"; echo "logs: $work"' EXIT
git clone --quiet --no-hardlinks "$root" "$work/repo"
echo "flake check: $runs run(s) of ./scripts/run-tests.sh on a fresh clone of $(git -C "$root" rev-parse --short HEAD) in $work/repo"
for i in $(seq 1 "$runs"); do
    started=$(date +%s)
    status=0
    (cd "$work/repo" && ./scripts/run-tests.sh --junitxml="$work/junit-$i.xml" -p no:cacheprovider "$@") \
        >"$work/log-$i.txt" 2>&1 || status=$?
    echo "run $i: exit $status in $(( $(date +%s) - started )) s"
    if [ ! -f "$work/junit-$i.xml" ]; then
        echo "run $i wrote no junit xml (lint or type-check failed?); last lines:"
        tail -20 "$work/log-$i.txt"
    fi
done
python3 - "$work" "$runs" <<'PY'
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

work, runs = Path(sys.argv[1]), int(sys.argv[2])
failed: dict[str, list[int]] = {}
totals = []
for index in range(1, runs + 1):
    path = work / f"junit-{index}.xml"
    if not path.exists():
        failed.setdefault("<run without junit xml: lint, type-check or collection>", []).append(index)
        continue
    count = 0
    for case in ET.parse(path).iter("testcase"):
        count += 1
        name = f"{case.get('classname')}::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            failed.setdefault(name, []).append(index)
    totals.append(count)
print(f"tests per run: {totals}")
if not failed:
    print(f"flake check: 0 failures in {runs} run(s)")
    sys.exit(0)
print(f"flake check: {len(failed)} test(s) failed at least once in {runs} run(s):")
for name, where in sorted(failed.items()):
    print(f"  {name}: failed in run(s) {', '.join(map(str, where))}")
sys.exit(1)
PY
