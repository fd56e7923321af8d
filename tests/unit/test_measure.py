"""The engine on fake runs and a fake clock: order, stopping rules, checks."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from pytest_parscale.measure import Limits, Outcome, Samples, run


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


def no_check(reference: Any, result: Any) -> None:
    return None


def fake_run(
    durations: dict[str, float],
    limits: Limits,
    *,
    log: list[str] | None = None,
    clock: FakeClock | None = None,
    decided: Callable[[Samples], bool] = never,
    check: Callable[[Any, Any], None] = no_check,
    **hooks: Any,
) -> Outcome:
    """The engine over fake runs taking ``durations`` seconds of a fake clock each; a
    ``transport`` duration adds the transport run. ``log`` collects the call order."""
    clock = FakeClock() if clock is None else clock
    fns = runs(clock, [] if log is None else log, durations)
    return run(
        fns["serial"],
        fns["parallel"],
        transport=fns.get("transport"),
        limits=limits,
        check=check,
        decided=decided,
        clock=clock,
        **hooks,
    )


def test_rounds_are_interleaved_in_alternating_order() -> None:
    log: list[str] = []
    outcome = fake_run(
        {"serial": 1.0, "parallel": 0.5, "transport": 0.1},
        Limits(3, 3, 100),
        log=log,
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
    seen: list[int] = []

    def decided(samples: Samples) -> bool:
        seen.append(samples.rounds)
        return True

    outcome = fake_run(
        {"serial": 1.0, "parallel": 0.5},
        Limits(5, 50, 1000),
        decided=decided,
    )
    assert outcome.samples.rounds == 5
    assert seen == [5]
    assert outcome.stop_reason == "decided"


def test_undecided_runs_until_the_time_budget() -> None:
    outcome = fake_run(
        {"serial": 1.0, "parallel": 1.0},
        Limits(3, 1000, 20.0),
    )
    # warm-up 2 s, then 2 s a round; a round that would end past 20 s is not started
    assert outcome.samples.rounds == 9
    assert outcome.elapsed <= 20.0
    assert outcome.stop_reason == "time budget"


def test_min_rounds_run_even_past_the_budget() -> None:
    outcome = fake_run(
        {"serial": 5.0, "parallel": 5.0},
        Limits(4, 100, 1.0),
    )
    assert outcome.samples.rounds == 4


def test_judging_is_spaced_out_as_samples_grow() -> None:
    seen: list[int] = []

    def decided(samples: Samples) -> bool:
        seen.append(samples.rounds)
        return False

    fake_run(
        {"serial": 0.01, "parallel": 0.01},
        Limits(5, 40, 1000),
        decided=decided,
    )
    assert seen[0] == 5
    assert len(seen) < 40 - 5
    assert all(later > earlier for earlier, later in itertools.pairwise(seen))


def test_every_parallel_result_is_checked_against_the_warmup_reference() -> None:
    checked: list[tuple[Any, Any]] = []
    fake_run(
        {"serial": 1.0, "parallel": 1.0},
        Limits(3, 3, 100),
        check=lambda a, b: checked.append((a, b)),
    )
    assert len(checked) == 4  # warm-up plus three rounds


def test_a_failed_check_stops_the_measurement() -> None:
    log: list[str] = []

    def check(reference: Any, result: Any) -> None:
        raise AssertionError("differs")

    with pytest.raises(AssertionError, match="differs"):
        fake_run(
            {"serial": 1.0, "parallel": 1.0},
            Limits(3, 3, 100),
            log=log,
            check=check,
        )
    assert log == ["serial", "parallel"]


class ListProbe:
    def __init__(self, capacities: list[float | None]) -> None:
        self.capacities = capacities
        self.started = 0

    def start(self) -> None:
        self.started += 1

    def stop(self) -> float | None:
        return self.capacities.pop(0)


def test_probe_records_capacity_per_round_and_quiet_wait_is_reported() -> None:
    probe = ListProbe([2.0, 1.9, None])
    outcome = fake_run(
        {"serial": 1.0, "parallel": 0.5},
        Limits(3, 3, 100),
        quiet=lambda: 1.5,
        probe=probe,
    )
    assert outcome.samples.capacity == [2.0, 1.9, None]
    assert probe.started == 3
    assert outcome.quiet_wait_seconds == 1.5


def test_disturbed_rounds_are_set_aside_and_run_again() -> None:
    from pytest_parscale.capacity import disturbed

    outcome = fake_run(
        {"serial": 1.0, "parallel": 0.5},
        Limits(3, 3, 100),
        probe=ListProbe([2.0, 1.0, 1.9, 1.95]),
        reject=disturbed,
    )
    assert outcome.samples.rounds == 3
    assert outcome.samples.capacity == [2.0, 1.9, 1.95]
    assert [r.capacity for r in outcome.samples.rejected] == [1.0]
    assert outcome.samples.rejected[0].parallel == 0.5


def test_rejection_stops_when_the_budget_is_spent() -> None:
    clock = FakeClock()
    outcome = fake_run(
        {"serial": 1.0, "parallel": 1.0},
        Limits(2, 50, 10.0),
        clock=clock,
        probe=ListProbe([2.0] + [0.5] * 60),
        reject=lambda capacities, index: index > 0,
    )
    # once min_rounds are in and the budget is spent, a disturbed round is kept
    assert outcome.samples.rounds >= 2
    assert outcome.stop_reason == "time budget"
    assert clock.now < 20
