"""A sweep's measured points, and the helpers every part of the analysis shares.

scipy (the ``report`` extra) is imported only where a statistic needs it; without
it the caller gets ScipyMissing, whose message names the extra.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_parscale.stats import SerialFraction, serial_fraction, t_quantile

if TYPE_CHECKING:
    from pytest_parscale.results import Record


#: What to install when the fits cannot run.
REPORT_EXTRA = "pip install 'pytest-parscale[report]'"


class ScipyMissing(ImportError):
    """scipy (the ``report`` extra) is not installed; the message says how to get it."""


def t_critical_95(dof: int) -> float:
    """One-sided 95% Student t quantile (stats.t_quantile: no scipy needed)."""
    if dof < 1:
        raise ValueError("a t test needs at least one degree of freedom")
    return t_quantile(0.95, dof)


@dataclass(frozen=True)
class ScalingPoint:
    """One measured speedup at a worker count, with its interval when known."""

    workers: int
    speedup: float
    low: float | None = None
    high: float | None = None
    confidence: float = 0.95
    oversubscribed: bool = False
    workers_requested: int | None = None

    @property
    def efficiency(self) -> float:
        return self.speedup / self.workers

    @property
    def serial_fraction(self) -> SerialFraction:
        return serial_fraction(self.speedup, self.workers)

    @property
    def karp_flatt(self) -> float | None:
        """Serial fraction where it means something (see ``serial_fraction``), else None."""
        return self.serial_fraction.value

    def standard_deviation(self) -> float | None:
        """Normal-approximation spread of the speedup read off its interval."""
        if self.low is None or self.high is None:
            return None
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.high <= self.low:
            return None
        z = statistics.NormalDist().inv_cdf(0.5 + self.confidence / 2)
        return (self.high - self.low) / (2 * z)


def fittable(points: Sequence[ScalingPoint], usable_cores: int | None) -> list[ScalingPoint]:
    """Points a model may be fitted to: not oversubscribed and within the usable cores."""
    return [
        point
        for point in points
        if not point.oversubscribed and (usable_cores is None or point.workers <= usable_cores)
    ]


def counts_text(counts: Iterable[int]) -> str:
    ordered = sorted(set(counts))
    return ", ".join(str(count) for count in ordered) if ordered else "none"


def _end(value: float) -> float | None:
    """An interval end, or None where one round left it unbounded."""
    return value if math.isfinite(value) else None


def point_from_record(record: Record) -> ScalingPoint:
    """A ScalingPoint from one measured record."""
    speedup = record.speedup
    return ScalingPoint(
        workers=record.workers,
        speedup=speedup.estimate,
        low=_end(speedup.low),
        high=_end(speedup.high),
        confidence=speedup.confidence,
        oversubscribed=record.oversubscribed,
        workers_requested=record.workers_requested,
    )
