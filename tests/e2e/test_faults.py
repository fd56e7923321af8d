"""Faults on the process backends: a dead or hung worker fails only its own test."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.conftest import FAST, ORPHAN_CHECK

FAULTY = """
import os
import time

PARENT = os.getpid()  # inherited by forked workers: only they misbehave


def die_in_worker(item: int) -> int:
    if os.getpid() != PARENT and item == 3:
        os._exit(1)
    return item


def hang_in_worker(item: int) -> int:
    if os.getpid() != PARENT:
        time.sleep(3600)
    return item


def square(item: int) -> int:
    return item * item
"""


@pytest.mark.parametrize("backend", ["pool", "process"])
def test_dead_or_hung_worker_fails_its_test_and_the_next_test_gets_a_fresh_executor(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, backend: str
) -> None:
    orphans = tmp_path / "orphans.txt"
    monkeypatch.setenv("PARSCALE_ORPHANS_FILE", str(orphans))
    pytester.makeconftest(ORPHAN_CHECK)
    pytester.makepyfile(faulty=FAULTY)
    pytester.makepyfile(
        test_faults=f"""
        import pytest
        from faulty import die_in_worker, hang_in_worker, square

        @pytest.mark.parscale(backends=["{backend}"], workers=2)
        def test_1_dies(parscale):
            parscale.map(die_in_worker, list(range(8)), chunksize=1)

        @pytest.mark.parscale(backends=["{backend}"], workers=2)
        def test_2_hangs(parscale):
            parscale.map(hang_in_worker, [1, 2, 3])

        @pytest.mark.parscale(backends=["{backend}"], workers=2)
        def test_3_still_works(parscale):
            assert parscale.map(square, [1, 2, 3]) == [1, 4, 9]
        """
    )
    started = time.monotonic()
    result = pytester.runpytest_subprocess(*FAST, "--parscale-timeout=2")
    elapsed = time.monotonic() - started
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines(
        [
            f"*worker*died during the map*({backend}, 2 workers)",
            f"*map did not finish within 2 s ({backend}, 2 workers)",
        ]
    )
    result.stdout.fnmatch_lines([f"engine: {backend} with 2 workers started once in*"] * 1)
    assert elapsed < 60
    assert orphans.read_text() == ""
