#!/usr/bin/env bash
# Test job: lint, type-check, then the project's own test suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup-venv.sh"
cd "$root"
ruff check .
ruff format --check .
mypy pytest_parscale
exec python -m pytest "$@"
