#!/usr/bin/env bash
# Main job: runs the examples/ suite on every embedded backend and prints the speedup table.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup-venv.sh"
cd "$root/examples"
exec python -m pytest -p no:cacheprovider "$@"
