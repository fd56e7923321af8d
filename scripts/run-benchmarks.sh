#!/usr/bin/env bash
# Benchmarks of the plugin itself (issue 8): prints a table and writes benchmarks/RESULTS.md.
# Full run: no arguments (well under 30 minutes); --quick for a few minutes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup-venv.sh"
cd "$root"
if [[ "${1:-}" == "suite-scale" ]]; then  # issue 21: error rates of a 50-case suite, live
    shift
    exec python benchmarks/suite_scale.py "$@"
fi
if [[ "${1:-}" == "paired-noise" ]]; then  # issue 21: where a paired run's spread comes from
    shift
    exec python benchmarks/paired_noise.py "$@"
fi
exec python benchmarks/run.py "$@"
