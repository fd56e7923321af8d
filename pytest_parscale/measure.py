"""The measurement engine: warm-up, interleaved rounds, adaptive stopping.

It sees only callables and a clock: ``serial`` and ``parallel`` (and, for the
overhead marker, ``transport``). Rounds alternate their order (ABC, CBA, ...) so slow
drift of the machine hits every run alike. Thresholds stay outside: the caller
passes ``decided``, which says whether the samples so far settle every verdict.

Optional hooks (capacity.py provides them): ``quiet`` waits for a quiet machine
before the warm-up, ``probe`` measures how many cores each round had, and
``reject`` drops a round that another process disturbed and runs another one in
its place, within the same budget (docs/measurement.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Clock = Callable[[], float]


class RoundProbe(Protocol):
    """Measures the machine around one round (capacity.Probe is one)."""

    def start(self) -> None: ...

    def stop(self) -> float | None: ...


# capacities of every round so far (kept and rejected) and the index of the newest
RejectRule = Callable[[Sequence[float | None], int], bool]


@dataclass(frozen=True)
class Rejected:
    """A round dropped because another process took part of the machine."""

    serial: float
    parallel: float
    transport: float | None
    capacity: float | None


@dataclass
class Samples:
    """Seconds per round for each run; index i of each list is round i."""

    serial: list[float] = field(default_factory=list)
    parallel: list[float] = field(default_factory=list)
    transport: list[float] = field(default_factory=list)
    # cores the round had (capacity.Probe), None where unknown; empty without a probe
    capacity: list[float | None] = field(default_factory=list)
    # cores this process tree itself used in each kept round (capacity.Probe.last_own)
    own: list[float | None] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    # the round counts at which the verdicts were judged, the final count last
    # (sequential.py keeps the verdicts' level over these looks)
    looks: list[int] = field(default_factory=list)

    @property
    def rounds(self) -> int:
        return len(self.parallel)


@dataclass(frozen=True)
class Limits:
    min_rounds: int
    max_rounds: int
    max_time: float


@dataclass
class Outcome:
    samples: Samples
    reference: Any
    result: Any
    warmup_seconds: float
    elapsed: float
    stop_reason: str
    quiet_wait_seconds: float = 0.0


def _timed(run: Callable[[], Any], clock: Clock) -> tuple[float, Any]:
    start = clock()
    value = run()
    return clock() - start, value


def _should_check(rounds: int, last_checked: int, min_rounds: int) -> bool:
    """Judge at min_rounds, then every time the sample grows by a fifth (bootstraps cost)."""
    if rounds < min_rounds:
        return False
    return rounds == min_rounds or rounds >= last_checked + max(1, last_checked // 5)


def schedule(min_rounds: int, max_rounds: int) -> list[int]:
    """The round counts at which ``run`` judges, up to ``max_rounds`` (its looks)."""
    found, checked = [], 0
    for rounds in range(1, max_rounds + 1):
        if _should_check(rounds, checked, min_rounds):
            found.append(rounds)
            checked = rounds
    return found


def _round(
    order: list[tuple[str, Callable[[], Any]]],
    clock: Clock,
    probe: RoundProbe | None,
    check: Callable[[Any], None],
) -> tuple[dict[str, float], Any, float | None, float | None]:
    """One interleaved round: each run timed in ``order``, the parallel result checked.

    Returns the timings by run, the parallel result, and the probe's capacity and own
    share of the round (None where not measured).
    """
    timings: dict[str, float] = {}
    result = None
    if probe is not None:
        probe.start()
    for name, fn in order:
        seconds, value = _timed(fn, clock)
        timings[name] = seconds
        if name == "parallel":
            result = value
            check(value)
    capacity = probe.stop() if probe is not None else None
    own = getattr(probe, "last_own", None)  # a probe may not measure it
    return timings, result, capacity, own


def _warm_up(
    serial: Callable[[], Any],
    parallel: Callable[[], Any],
    transport: Callable[[], Any] | None,
    check: Callable[[Any, Any], None],
) -> tuple[Any, Any]:
    """Each run once, untimed: the serial reference and the parallel result, checked."""
    reference, result = serial(), parallel()
    check(reference, result)
    if transport is not None:
        transport()
    return reference, result


def _rejected(
    reject: RejectRule | None,
    capacities: list[float | None],
    rejected: int,
    max_rounds: int,
    over_budget: bool,
) -> bool:
    """Whether the last round is set aside as disturbed: at most ``max_rounds`` of them,
    and only while the time budget lasts."""
    if reject is None or rejected >= max_rounds or over_budget:
        return False
    return reject(capacities, len(capacities) - 1)


def _keep(
    samples: Samples,
    timings: dict[str, float],
    capacity: float | None,
    own: float | None,
    *,
    probed: bool,
) -> None:
    """Add a kept round to the samples (its capacity too, when a probe measured it)."""
    for name, seconds in timings.items():
        getattr(samples, name).append(seconds)
    if probed:
        samples.capacity.append(capacity)
        samples.own.append(own)


def run(
    serial: Callable[[], Any],
    parallel: Callable[[], Any],
    *,
    limits: Limits,
    check: Callable[[Any, Any], None],
    decided: Callable[[Samples], bool],
    transport: Callable[[], Any] | None = None,
    clock: Clock = time.perf_counter,
    quiet: Callable[[], float] | None = None,
    probe: RoundProbe | None = None,
    reject: RejectRule | None = None,
) -> Outcome:
    """Measure until the verdicts are decided, the budget is spent or max_rounds is hit.

    ``decided`` is asked at each look; ``samples.looks`` holds the round counts of
    the looks so far, the current one last, and after the run the final count too.

    ``check(reference, result)`` compares each parallel result with the serial one
    taken during warm-up; it raises to fail the measurement. ``quiet()`` returns the
    seconds it waited (kept in the outcome, not in the budget). A round ``reject``
    calls disturbed is kept aside in ``Samples.rejected`` and run again, at most
    ``max_rounds`` times per test and only while the time budget lasts.
    """
    waited = quiet() if quiet is not None else 0.0
    started = clock()
    runs: list[tuple[str, Callable[[], Any]]] = [("serial", serial), ("parallel", parallel)]
    if transport is not None:
        runs.append(("transport", transport))
    reference, result = _warm_up(serial, parallel, transport, check)
    warmup = clock() - started

    samples = Samples()
    stop_reason, last_checked = "max_rounds", 0
    capacities: list[float | None] = []  # every round, rejected ones included
    while samples.rounds < limits.max_rounds:
        round_start = clock()
        order = runs if len(capacities) % 2 == 0 else runs[::-1]  # alternate, round by round
        timings, result, capacity, own = _round(order, clock, probe, lambda v: check(reference, v))
        capacities.append(capacity)
        round_seconds = clock() - round_start
        over_budget = clock() - started + round_seconds > limits.max_time
        if _rejected(reject, capacities, len(samples.rejected), limits.max_rounds, over_budget):
            samples.rejected.append(
                Rejected(timings["serial"], timings["parallel"], timings.get("transport"), capacity)
            )
            continue
        _keep(samples, timings, capacity, own, probed=probe is not None)
        if _should_check(samples.rounds, last_checked, limits.min_rounds):
            last_checked = samples.rounds
            samples.looks.append(samples.rounds)
            if decided(samples):
                stop_reason = "decided"
                break
        if samples.rounds >= limits.min_rounds and over_budget:
            stop_reason = "time budget"
            break
    if samples.rounds and (not samples.looks or samples.looks[-1] != samples.rounds):
        samples.looks.append(samples.rounds)  # the verdict is judged on every round kept
    return Outcome(samples, reference, result, warmup, clock() - started, stop_reason, waited)
