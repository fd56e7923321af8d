"""The measurement engine: warm-up, interleaved rounds, adaptive stopping.

It sees only callables and a clock: ``serial`` and ``parallel`` (and, for the
overhead marker, ``transport``). Rounds alternate their order (ABC, CBA, ...) so slow
drift of the machine hits every run alike. Thresholds stay outside: the caller
passes ``decided``, which says whether the samples so far settle every verdict.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Clock = Callable[[], float]


@dataclass
class Samples:
    """Seconds per round for each run; index i of each list is round i."""

    serial: list[float] = field(default_factory=list)
    parallel: list[float] = field(default_factory=list)
    transport: list[float] = field(default_factory=list)

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


def _timed(run: Callable[[], Any], clock: Clock) -> tuple[float, Any]:
    start = clock()
    value = run()
    return clock() - start, value


def _should_check(rounds: int, last_checked: int, min_rounds: int) -> bool:
    """Judge at min_rounds, then every time the sample grows by a fifth (bootstraps cost)."""
    if rounds < min_rounds:
        return False
    return rounds == min_rounds or rounds >= last_checked + max(1, last_checked // 5)


def run(
    serial: Callable[[], Any],
    parallel: Callable[[], Any],
    *,
    limits: Limits,
    check: Callable[[Any, Any], None],
    decided: Callable[[Samples], bool],
    transport: Callable[[], Any] | None = None,
    clock: Clock = time.perf_counter,
) -> Outcome:
    """Measure until the verdicts are decided, the budget is spent or max_rounds is hit.

    ``check(reference, result)`` compares each parallel result with the serial one
    taken during warm-up; it raises to fail the measurement.
    """
    started = clock()
    reference = serial()
    result = parallel()
    check(reference, result)
    if transport is not None:
        transport()
    warmup = clock() - started

    samples = Samples()
    runs: list[tuple[str, Callable[[], Any]]] = [("serial", serial), ("parallel", parallel)]
    if transport is not None:
        runs.append(("transport", transport))
    stop_reason = "max_rounds"
    last_checked = 0
    while samples.rounds < limits.max_rounds:
        round_start = clock()
        order = runs if samples.rounds % 2 == 0 else runs[::-1]
        for name, fn in order:
            seconds, value = _timed(fn, clock)
            getattr(samples, name).append(seconds)
            if name == "parallel":
                result = value
                check(reference, value)
        round_seconds = clock() - round_start
        if _should_check(samples.rounds, last_checked, limits.min_rounds):
            last_checked = samples.rounds
            if decided(samples):
                stop_reason = "decided"
                break
        if samples.rounds >= limits.min_rounds and (
            clock() - started + round_seconds > limits.max_time
        ):
            stop_reason = "time budget"
            break
    return Outcome(samples, reference, result, warmup, clock() - started, stop_reason)
