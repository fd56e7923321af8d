from __future__ import annotations

import pytest

from pytest_parscale.compare import Requirement, Verdict, combine, plan_workers
from pytest_parscale.stats import Interval


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


def test_plan_runs_as_asked_when_the_machine_is_big_enough() -> None:
    plan = plan_workers(2, 4, "scale")
    assert (plan.workers, plan.scale, plan.skip_reason, plan.oversubscribed) == (
        2,
        1.0,
        None,
        False,
    )


def test_plan_scale_keeps_the_efficiency() -> None:
    plan = plan_workers(8, 2, "scale")
    assert plan.workers == 2
    assert 6 * plan.scale == pytest.approx(1.5)


def test_plan_scale_skips_below_two_cores() -> None:
    plan = plan_workers(8, 1, "scale")
    assert plan.skip_reason is not None
    assert "cannot scale below 2" in plan.skip_reason


def test_plan_skip_policy() -> None:
    plan = plan_workers(8, 2, "skip")
    assert plan.skip_reason == "undersized machine: 8 workers asked, 2 usable cores"


def test_plan_strict_oversubscribes_with_the_full_bar() -> None:
    plan = plan_workers(8, 2, "strict")
    assert (plan.workers, plan.scale, plan.oversubscribed) == (8, 1.0, True)
