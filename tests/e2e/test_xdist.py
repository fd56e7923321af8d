"""pytest-xdist: measured tests never overlap, and one merged results file is saved."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from tests.e2e.conftest import FAST

SUITE = """
import json
import os
import time

import pytest


def work(n):
    return sum(i * i for i in range(n))


def _log(name, started):
    with open(os.path.join(os.environ["XDIST_LOG"], name + ".json"), "w") as out:
        json.dump([os.environ.get("PYTEST_XDIST_WORKER"), started, time.time()], out)


@pytest.mark.parametrize("n", range(4))
@pytest.mark.parscale(backends=["pool"], workers=2)
def test_measured(parscale, n):
    started = time.time()
    assert parscale.map(work, [20_000] * 8) == [work(20_000)] * 8
    _log(f"measured{n}", started)


@pytest.mark.parametrize("n", range(6))
def test_plain(n):
    time.sleep(0.2)
"""


def test_measured_tests_run_one_at_a_time_and_are_saved_merged(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = Path(pytester.path, "log")
    log.mkdir()
    monkeypatch.setenv("XDIST_LOG", str(log))
    pytester.makepyfile(test_mixed=SUITE)
    result = pytester.runpytest_subprocess(
        *FAST, "-n", "2", "--parscale-json=results.json", "--parscale-save=saved.json"
    )
    result.assert_outcomes(passed=10)
    runs = sorted(json.loads(path.read_text()) for path in log.glob("measured*.json"))
    assert len(runs) == 4
    by_start = sorted(runs, key=lambda run: run[1])
    for before, after in itertools.pairwise(by_start):
        assert before[2] <= after[1], f"measurements overlapped: {before} {after}"
    for name in ("results.json", "saved.json"):
        document = json.loads(Path(pytester.path, name).read_text())
        assert len(document["results"]) == 4


def test_dist_each_that_would_measure_every_test_per_worker_is_refused(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_mixed=SUITE)
    result = pytester.runpytest_subprocess(*FAST, "-n", "2", "--dist", "each")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*pytest-parscale: --dist: 'each' would measure every*"])
