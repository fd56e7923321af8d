"""Speedup against item size: where it crosses 1.0x, with the interval of that size."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_parscale.scaling.nodeids import size_series_test_id
from pytest_parscale.scaling.points import point_from_record
from pytest_parscale.sizes import approx_size

if TYPE_CHECKING:
    from pytest_parscale.results import Record


#: A crossover whose interval spans more than this factor of sizes is not reported.
CROSSOVER_MAX_SPAN = 10.0


@dataclass(frozen=True)
class SizePoint:
    item_size: int
    speedup: float
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Crossover:
    """Where speedup crosses 1.0 as items grow, or the sentence saying it does not.

    ``item_size`` is set only when the crossover is determined: its interval
    ``[low, high]`` (from the speedup intervals at the sizes around it) spans at most
    ``CROSSOVER_MAX_SPAN`` times. ``estimate`` is the interpolated point either way.
    """

    item_size: float | None
    sentence: str
    estimate: float | None = None
    low: float | None = None
    high: float | None = None


CROSSOVER_TEXT = {
    "always": "faster in parallel at every size measured (no crossover)",
    "never": "slower in parallel at every size measured (no crossover)",
    "falls": "speedup falls below 1.0x as items grow (no upward crossover)",
}


def _crossing(curve: Sequence[tuple[float, float]]) -> float | str:
    """First upward crossing of 1.0 of (size, speedup) pairs, log-log interpolated.

    ``"always"`` (every speedup >= 1), ``"never"`` (every one < 1) or ``"falls"`` (it
    only drops below 1 as items grow) when there is none. An end that is not a number
    (one round: unbounded) counts as above 1 when infinite, below when -infinite.
    """
    if all(speedup >= 1 for _, speedup in curve):
        return "always"
    if all(speedup < 1 for _, speedup in curve):
        return "never"
    for (size_a, speedup_a), (size_b, speedup_b) in itertools.pairwise(curve):
        if speedup_a < 1 <= speedup_b:
            if speedup_a <= 0:
                return size_b
            if not math.isfinite(speedup_b):
                return size_a
            log_a, log_b = math.log(size_a), math.log(size_b)
            fraction = -math.log(speedup_a) / (math.log(speedup_b) - math.log(speedup_a))
            return math.exp(log_a + fraction * (log_b - log_a))
    return "falls"


def crossover(points: Sequence[SizePoint]) -> Crossover:
    """The crossover size with its interval, or why it is absent or not determined.

    The estimate interpolates the speedups; the interval interpolates the high ends
    (the earliest the crossing can be) and the low ends (the latest) the same way
    (docs/scaling.md, "Crossover").
    """
    ordered = sorted(points, key=lambda point: point.item_size)
    if len({point.item_size for point in ordered}) < 2:
        return Crossover(None, "one item size only: no crossover can be located")
    found = _crossing([(p.item_size, p.speedup) for p in ordered])
    if isinstance(found, str):
        return Crossover(None, CROSSOVER_TEXT[found])
    near = f"~{approx_size(found)} per item"
    if any(p.low is None or p.high is None for p in ordered):
        return Crossover(
            None,
            f"crossover not determined: near {near}, but without speedup intervals "
            "its uncertainty is unknown",
            estimate=found,
        )
    earliest = _crossing([(p.item_size, p.high) for p in ordered if p.high is not None])
    latest = _crossing([(p.item_size, p.low) for p in ordered if p.low is not None])
    low = earliest if isinstance(earliest, float) else None
    high = latest if isinstance(latest, float) else None
    if low is None or high is None or high > CROSSOVER_MAX_SPAN * low:
        below = f"~{approx_size(low)}" if low is not None else "below the smallest size measured"
        above = f"~{approx_size(high)}" if high is not None else "beyond the largest size measured"
        return Crossover(
            None,
            f"crossover not determined: the estimates cross near {near}, but the speedup "
            f"intervals allow anything from {below} to {above}, more than a "
            f"{CROSSOVER_MAX_SPAN:.0f}x range of sizes; measure more rounds or sizes near it",
            estimate=found,
            low=low,
            high=high,
        )
    low, high = min(low, found), max(high, found)
    return Crossover(
        found,
        f"crosses 1.0x near ~{approx_size(found)} [{approx_size(low)}, {approx_size(high)}] "
        "per item",
        estimate=found,
        low=low,
        high=high,
    )


@dataclass(frozen=True)
class SizeSeries:
    """Speedup against item size, one line per backend, for one test and worker count."""

    test: str
    workers: int
    lines: dict[str, tuple[SizePoint, ...]]

    def crossovers(self) -> dict[str, Crossover]:
        return {backend: crossover(points) for backend, points in self.lines.items()}


def group_size_series(records: Iterable[Record]) -> list[SizeSeries]:
    """Records with an item size, by (test without backend/size/workers, requested count).

    A series is kept when at least one backend has two or more sizes.
    """
    groups: dict[tuple[str, int], dict[str, list[SizePoint]]] = {}
    for record in records:
        if record.item_size is None:
            continue
        point = point_from_record(record)
        key = (size_series_test_id(record), point.workers_requested or point.workers)
        lines = groups.setdefault(key, {})
        lines.setdefault(record.backend, []).append(
            SizePoint(record.item_size, point.speedup, point.low, point.high)
        )
        shared = record.executor.get("zero_copy")
        if shared:  # map(share=True): the zero-copy map's speedup, a point estimate
            lines.setdefault(f"{record.backend} zero-copy", []).append(
                SizePoint(record.item_size, shared["shared_speedup"], None, None)
            )
    series = []
    for (test, workers), lines in groups.items():
        if any(len({p.item_size for p in points}) >= 2 for points in lines.values()):
            ordered = {
                backend: tuple(sorted(points, key=lambda p: p.item_size))
                for backend, points in lines.items()
            }
            series.append(SizeSeries(test, workers, ordered))
    return series
