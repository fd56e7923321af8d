#!/usr/bin/env bash
# Test job: lint, type-check, then the project's own test suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/setup-venv.sh"
cd "$root"
# System packages the tests drive: headless Chromium renders the HTML report.
"$root/scripts/install-chromium.sh" ||
    echo "warning: chromium could not be installed; the HTML rendering test will skip" >&2
ruff check .
ruff format --check .
mypy pytest_parscale
exec python -m pytest "$@"
