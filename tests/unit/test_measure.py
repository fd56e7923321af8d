"""The engine on fake runs and a fake clock: order, stopping rules, checks."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from pytest_parscale.measure import Limits, Samples, run


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def runs(
    clock: FakeClock, log: list[str], durations: dict[str, float]
) -> dict[str, Callable[[], Any]]:
    def make(name: str) -> Callable[[], Any]:
        def call() -> Any:
            log.append(name)
            clock.now += durations[name]
            return [1, 2, 3]

        return call

    return {name: make(name) for name in durations}


def never(samples: Samples) -> bool:
    return False


def test_rounds_are_interleaved_in_alternating_order() -> None:
    clock, log = FakeClock(), []
    fns = runs(clock, log, {"serial": 1.0, "parallel": 0.5, "transport": 0.1})
    outcome = run(
        fns["serial"],
        fns["parallel"],
        transport=fns["transport"],
        limits=Limits(3, 3, 100),
        check=lambda a, b: None,
        decided=never,
        clock=clock,
    )
    warmup, timed = log[:3], log[3:]
    assert warmup == ["serial", "parallel", "transport"]
    assert timed == [
        "serial",
        "parallel",
        "transport",
        "transport",
        "parallel",
        "serial",
        "serial",
        "parallel",
        "transport",
    ]
    assert outcome.samples.serial == pytest.approx([1.0, 1.0, 1.0])
    assert outcome.samples.parallel == pytest.approx([0.5, 0.5, 0.5])
    assert outcome.samples.transport == pytest.approx([0.1, 0.1, 0.1])
    assert outcome.stop_reason == "max_rounds"


def test_stops_as_soon_as_decided_after_min_rounds() -> None:
    clock, log = FakeClock(), []
    fns = runs(clock, log, {"serial": 1.0, "parallel": 0.5})
    seen: list[int] = []

    def decided(samples: Samples) -> bool:
        seen.append(samples.rounds)
        return True

    outcome = run(
        fns["serial"],
        fns["parallel"],
        limits=Limits(5, 50, 1000),
        check=lambda a, b: None,
        decided=decided,
        clock=clock,
    )
    assert outcome.samples.rounds == 5
    assert seen == [5]
    assert outcome.stop_reason == "decided"


def test_undecided_runs_until_the_time_budget() -> None:
    clock, log = FakeClock(), []
    fns = runs(clock, log, {"serial": 1.0, "parallel": 1.0})
    outcome = run(
        fns["serial"],
        fns["parallel"],
        limits=Limits(3, 1000, 20.0),
        check=lambda a, b: None,
        decided=never,
        clock=clock,
    )
    # warm-up 2 s, then 2 s a round; a round that would end past 20 s is not started
    assert outcome.samples.rounds == 9
    assert outcome.elapsed <= 20.0
    assert outcome.stop_reason == "time budget"


def test_min_rounds_run_even_past_the_budget() -> None:
    clock, log = FakeClock(), []
    fns = runs(clock, log, {"serial": 5.0, "parallel": 5.0})
    outcome = run(
        fns["serial"],
        fns["parallel"],
        limits=Limits(4, 100, 1.0),
        check=lambda a, b: None,
        decided=never,
        clock=clock,
    )
    assert outcome.samples.rounds == 4


def test_judging_is_spaced_out_as_samples_grow() -> None:
    clock, log = FakeClock(), []
    fns = runs(clock, log, {"serial": 0.01, "parallel": 0.01})
    seen: list[int] = []

    def decided(samples: Samples) -> bool:
        seen.append(samples.rounds)
        return False

    run(
        fns["serial"],
        fns["parallel"],
        limits=Limits(5, 40, 1000),
        check=lambda a, b: None,
        decided=decided,
        clock=clock,
    )
    assert seen[0] == 5
    assert len(seen) < 40 - 5
    assert all(later > earlier for earlier, later in itertools.pairwise(seen))


def test_every_parallel_result_is_checked_against_the_warmup_reference() -> None:
    clock, log = FakeClock(), []
    fns = runs(clock, log, {"serial": 1.0, "parallel": 1.0})
    checked: list[tuple[Any, Any]] = []
    run(
        fns["serial"],
        fns["parallel"],
        limits=Limits(3, 3, 100),
        check=lambda a, b: checked.append((a, b)),
        decided=never,
        clock=clock,
    )
    assert len(checked) == 4  # warm-up plus three rounds


def test_a_failed_check_stops_the_measurement() -> None:
    clock, log = FakeClock(), []
    fns = runs(clock, log, {"serial": 1.0, "parallel": 1.0})

    def check(reference: Any, result: Any) -> None:
        raise AssertionError("differs")

    with pytest.raises(AssertionError, match="differs"):
        run(
            fns["serial"],
            fns["parallel"],
            limits=Limits(3, 3, 100),
            check=check,
            decided=never,
            clock=clock,
        )
    assert log == ["serial", "parallel"]
