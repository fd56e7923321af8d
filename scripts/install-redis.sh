#!/usr/bin/env bash
# Installs Debian's redis-server for the Celery cluster tests (tests/e2e/test_clusters.py).
# Idempotent and quiet: does nothing when redis-server is already on PATH. The tests
# start their own server on a free loopback port; the package's service is not used.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo -n"
fi
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends redis-server; } >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
fi
