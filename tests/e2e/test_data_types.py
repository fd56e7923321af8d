"""pandas and numpy items and results through ``parscale.map`` on every backend.

Checks behaviour only (results compared, mismatches named), never a speedup bar.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import FAST, skip_unless_installed

BACKENDS = ["pool", "process", "thread", "ray", "dask", "celery"]

SUITE = """
import numpy
import pytest


def summarise(frame):
    return frame.groupby("key", as_index=False)["value"].sum()


def scaled(vector):
    return vector * 3.0


def noisy(vector):
    # Differs from run to run in the last bits only: needs a tolerance.
    import os
    return vector.sum() * (1 + 1e-13 * (os.getpid() % 7 + 1))


def tamper(frame):
    import os
    if os.getpid() != int(os.environ.get("SUITE_PID", "0")):  # in a worker
        frame = frame.copy()
        frame.iloc[2, 1] = -1.0
    return frame


@pytest.fixture(autouse=True)
def suite_pid(monkeypatch):
    import os
    monkeypatch.setenv("SUITE_PID", str(os.getpid()))


@pytest.mark.parscale(backends={backends})
def test_frames(parscale):
    shards = parscale.payloads(6, size=20_000, kind="dataframe")
    results = parscale.map(summarise, shards)
    assert [len(r) for r in results] == [10] * 6


@pytest.mark.parscale(backends={backends})
def test_arrays(parscale):
    vectors = parscale.payloads(6, size=20_000, kind="ndarray")
    results = parscale.map(scaled, vectors)
    assert numpy.array_equal(results[5], vectors[5] * 3.0)


@pytest.mark.parscale(backends={process_backends})
def test_tolerance(parscale):
    vectors = parscale.payloads(6, size=20_000, kind="ndarray")
    parscale.map(noisy, vectors, check={{"rel": 1e-9}})


@pytest.mark.parscale(backends={process_backends})
def test_mismatch_is_named(parscale):
    parscale.map(tamper, parscale.payloads(4, size=5_000, kind="dataframe"))
"""


def test_frames_and_arrays_on_every_backend(pytester: pytest.Pytester) -> None:
    backends = []
    for backend in BACKENDS:
        try:
            skip_unless_installed(backend)
        except pytest.skip.Exception:
            continue
        backends.append(backend)
    process_backends = [b for b in backends if b != "thread"]
    pytester.makepyfile(
        test_data=SUITE.format(backends=backends, process_backends=process_backends)
    )
    result = pytester.runpytest_subprocess(*FAST, "-rA", timeout=600)
    count = len(process_backends)
    result.assert_outcomes(passed=2 * len(backends) + count, failed=count)
    for backend in process_backends:
        result.stdout.fnmatch_lines(
            [f"result 0 differs: DataFrame at iloc?2, 1?: 0.5 != -1.0: *({backend}, 2 workers)"]
        )
