from __future__ import annotations

import pytest

from pytest_parscale.stats import Interval
from pytest_parscale.verdicts import Requirement, Verdict, combine


def interval(low: float, high: float) -> Interval:
    return Interval((low + high) / 2, low, high, 0.95)


SPEEDUP = Requirement("speedup", 1.5, 1.5, at_least=True)
OVERHEAD = Requirement("overhead", 0.25, 0.25, at_least=False)


@pytest.mark.parametrize(
    ("low", "high", "verdict"),
    [
        (1.6, 1.9, Verdict.PASS),
        (1.5, 1.9, Verdict.PASS),
        (0.58, 0.69, Verdict.FAIL),
        (1.4, 1.6, Verdict.UNDECIDED),
    ],
)
def test_speedup_requirement_is_three_state(low: float, high: float, verdict: Verdict) -> None:
    assert SPEEDUP.judge(interval(low, high)) is verdict


@pytest.mark.parametrize(
    ("low", "high", "verdict"),
    [
        (0.05, 0.2, Verdict.PASS),
        (0.3, 0.9, Verdict.FAIL),
        (0.2, 0.3, Verdict.UNDECIDED),
    ],
)
def test_overhead_requirement_is_three_state(low: float, high: float, verdict: Verdict) -> None:
    assert OVERHEAD.judge(interval(low, high)) is verdict


def test_combine_fail_beats_undecided_beats_pass() -> None:
    assert combine([]) is Verdict.PASS
    assert combine([Verdict.PASS, Verdict.UNDECIDED]) is Verdict.UNDECIDED
    assert combine([Verdict.UNDECIDED, Verdict.FAIL, Verdict.PASS]) is Verdict.FAIL
