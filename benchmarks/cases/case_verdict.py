"""Time to verdict: a clear pass, a clear fail and a borderline bar on the pool backend.

The wall time of ``parscale.map`` (warm-up, rounds, verdict) is compared with the
bare work it stands for: one serial pass and one parallel pass, timed by hand on
the same warm executor right after.
"""

from __future__ import annotations

import os

import pytest
from hand import map_against_bare, write_side
from workloads import workload

# The borderline bar is the speedup the accuracy phase measured by hand for this
# workload, so the interval straddles it and the verdict needs the time budget.
BORDERLINE = float(os.environ.get("BENCH_BORDERLINE_MIN", "1.7"))
CASES = {"clear_pass": 1.1, "clear_fail": 3.0, "borderline": BORDERLINE}


def _timed_verdict(parscale, case: str) -> None:
    wall, bare = map_against_bare(parscale, *workload("cpu"))
    write_side(
        {
            "nodeid": parscale.nodeid,
            "case": case,
            "threshold": CASES[case],
            "wall": wall,
            "bare": bare,
        }
    )


@pytest.mark.speedup(min=CASES["clear_pass"], workers=2)
@pytest.mark.parscale(backends=["pool"])
def test_clear_pass(parscale):
    _timed_verdict(parscale, "clear_pass")


@pytest.mark.speedup(min=CASES["clear_fail"], workers=2)
@pytest.mark.parscale(backends=["pool"])
def test_clear_fail(parscale):
    _timed_verdict(parscale, "clear_fail")


@pytest.mark.speedup(min=CASES["borderline"], workers=2)
@pytest.mark.parscale(backends=["pool"])
def test_borderline(parscale):
    _timed_verdict(parscale, "borderline")
