"""No engine of the suite binds or connects beyond 127.0.0.0/8.

The test machines allow test traffic only on loopback (docs/clusters.md). Each
embedded engine runs a map in a pytest subprocess whose test, while the engine is up,
lists the TCP sockets of its own process tree (tests/e2e/loopback.py) and writes them
out; this test fails naming any socket bound or connected off loopback. The cluster
tests check their servers the same way (tests/e2e/test_clusters.py).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from tests.e2e import loopback
from tests.e2e.conftest import FAST, skip_unless_installed

SUITE = """
import json
import os

import pytest

from tests.e2e import loopback


def work(n):
    return sum(i * i for i in range(n))


@pytest.mark.parscale(backends=["{backend}"], workers=2)
def test_sockets_while_engine_runs(parscale):
    assert parscale.map(work, [20_000] * 8) == [work(20_000)] * 8
    found = loopback.sockets(loopback.tree(os.getpid()))
    with open(os.environ["PARSCALE_SOCKETS_FILE"], "w") as out:
        json.dump([[str(s), str(s) in map(str, loopback.off_loopback(found))] for s in found], out)
"""


@pytest.mark.parametrize("backend", ["pool", "process", "thread", "ray", "dask", "celery"])
def test_embedded_engine_stays_on_loopback(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    skip_unless_installed(backend)
    report = Path(pytester.path, "sockets.json")
    monkeypatch.setenv("PARSCALE_SOCKETS_FILE", str(report))
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    path = os.pathsep.join([str(loopback.ROOT), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", path)
    pytester.makepyfile(test_engine_sockets=SUITE.replace("{backend}", backend))
    result = pytester.runpytest_subprocess(*FAST, "-rA", timeout=300)
    result.assert_outcomes(passed=1)
    found = json.loads(report.read_text())
    if backend in ("ray", "dask"):
        assert found, "no socket seen: the scan would miss a bad one too"
    bad = [text for text, off in found if off]
    assert not bad, f"{backend} uses addresses beyond 127.0.0.0/8:\n" + "\n".join(bad)


def test_the_scan_sees_a_wildcard_listener_and_passes_a_loopback_one() -> None:
    """The check itself: a socket on every interface is caught, one on 127.0.0.2 is not."""
    with socket.socket() as anywhere, socket.socket() as local:
        anywhere.bind(("0.0.0.0", 0))
        anywhere.listen()
        local.bind(("127.0.0.2", 0))
        local.listen()
        found = loopback.sockets({os.getpid()})
        ports = {s.local.rpartition(":")[2]: s for s in found}
        wide, near = ports[str(anywhere.getsockname()[1])], ports[str(local.getsockname()[1])]
        assert loopback.off_loopback([wide, near]) == (
            [] if wide.namespace_only_loopback else [wide]
        )
        assert near.local.startswith("127.0.0.2:")
