"""Pure statistics for timings: medians, ratio intervals and scaling laws.

No pytest import and no clock: every function here is tested on synthetic samples.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def ratio_of_medians_ci(
    numerator: Sequence[float],
    denominator: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """Bootstrap interval of ``median(numerator) / median(denominator)``.

    The samples are paired by round (they were taken interleaved, so a slow patch
    of the machine hits both), hence rounds are resampled as pairs. The percentile
    interval is used; a fixed seed makes the verdict a function of the data alone.
    """
    if len(numerator) != len(denominator):
        raise ValueError("paired samples must have equal length")
    if not numerator:
        raise ValueError("no samples")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    if min(denominator) <= 0:
        raise ValueError("denominator samples must be positive")
    estimate = median(numerator) / median(denominator)
    count = len(numerator)
    if count == 1:
        return Interval(estimate, -math.inf, math.inf, confidence)
    rng = random.Random(seed)
    ratios = []
    indices = range(count)
    for _ in range(resamples):
        picks = rng.choices(indices, k=count)
        ratios.append(
            median([numerator[i] for i in picks]) / median([denominator[i] for i in picks])
        )
    ratios.sort()
    tail = (1 - confidence) / 2
    low = ratios[math.floor(tail * (resamples - 1))]
    high = ratios[math.ceil((1 - tail) * (resamples - 1))]
    return Interval(estimate, min(low, estimate), max(high, estimate), confidence)


def karp_flatt(speedup: float, workers: int) -> float:
    """Experimentally determined serial fraction ``e = (1/S - 1/N) / (1 - 1/N)``.

    A value that grows with N points at overhead (transport, contention) rather than
    at a fixed serial section.
    """
    if workers < 2:
        raise ValueError("the Karp-Flatt metric needs at least 2 workers")
    if speedup <= 0:
        raise ValueError("speedup must be positive")
    return (1 / speedup - 1 / workers) / (1 - 1 / workers)


def amdahl_speedup(serial_fraction: float, workers: int) -> float:
    """Speedup Amdahl's law predicts at ``workers`` for a serial fraction in [0, 1]."""
    fraction = min(max(serial_fraction, 0.0), 1.0)
    return 1 / (fraction + (1 - fraction) / workers)
