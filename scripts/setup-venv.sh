#!/usr/bin/env bash
# Creates .venv with the package (all extras) and the dev tools; skips the install
# when pyproject.toml has not changed since the last one. Sourced by the other scripts.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PARSCALE_VENV:-$root/.venv}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
stamp="$venv/.parscale-installed"
want="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$venv/bin/python" -m pip install --quiet --upgrade "pip>=25.1"
    "$venv/bin/python" -m pip install --quiet -e "$root[all]" --group "$root/pyproject.toml:dev"
    echo "$want" > "$stamp"
fi
export PATH="$venv/bin:$PATH"
export RAY_AUTH_MODE="${RAY_AUTH_MODE:-disabled}"
