"""Pure statistics for timings: medians, ratio intervals and scaling laws.

No pytest import and no clock: every function here is tested on synthetic samples.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float

    def __str__(self) -> str:
        return f"{self.estimate:.2f} [{self.low:.2f}, {self.high:.2f}]"


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    if not values:
        raise ValueError("median of no values")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


RESAMPLES = 2000


def bootstrap_ratios(
    numerator: Sequence[float],
    denominator: Sequence[float],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Any:
    """``resamples`` bootstrap replicates of ``median(numerator) / median(denominator)``.

    The one bootstrap of the project: the in-run interval and the baseline comparison
    both call it. Rounds are resampled as pairs (they were taken interleaved, so a
    slow patch of the machine hits both runs of a round). Vectorised on numpy, which
    is imported here and not at module level so that pytest's start-up stays light.
    A fixed seed makes every interval a function of the data alone. Returns a numpy
    array of floats.
    """
    import numpy as np

    if len(numerator) != len(denominator):
        raise ValueError("paired samples must have equal length")
    if not numerator:
        raise ValueError("no samples")
    top = np.asarray(numerator, dtype=float)
    bottom = np.asarray(denominator, dtype=float)
    picks = np.random.default_rng(seed).integers(0, len(top), size=(resamples, len(top)))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.median(top[picks], axis=1) / np.median(bottom[picks], axis=1)


def percentile_interval(values: Any, confidence: float) -> tuple[float, float]:
    """Equal-tailed percentile interval of bootstrap replicates (order statistics)."""
    import numpy as np

    ordered = np.sort(np.asarray(values, dtype=float))
    tail = (1 - confidence) / 2
    last = len(ordered) - 1
    return float(ordered[math.floor(tail * last)]), float(ordered[math.ceil((1 - tail) * last)])


def ratio_of_medians_ci(
    numerator: Sequence[float],
    denominator: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Interval:
    """Bootstrap interval of ``median(numerator) / median(denominator)``.

    Percentile interval of :func:`bootstrap_ratios`. Calibrated on synthetic rounds
    in tests/unit/test_stats.py: coverage of the true ratio and the decided rate
    under lognormal noise, disturbed rounds, drift and the engine's adaptive looks.
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
    if len(numerator) == 1:
        return Interval(estimate, -math.inf, math.inf, confidence)
    replicates = bootstrap_ratios(numerator, denominator, resamples=resamples, seed=seed)
    low, high = percentile_interval(replicates, confidence)
    return Interval(estimate, min(low, estimate), max(high, estimate), confidence)


def relative_spread(values: Sequence[float]) -> float:
    """Coefficient of variation: standard deviation over mean (0 for fewer than 2)."""
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    variance = sum((value - mean) ** 2 for value in values) / (len(values) - 1)
    return math.sqrt(variance) / mean if mean else math.inf


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


def crossover(points: Sequence[tuple[float, float]]) -> float | str:
    """Item size where speedup crosses 1.0, interpolated on a log-log scale.

    ``points`` are (item size, speedup). Returns the first upward crossing, or
    ``"always"`` (every speedup >= 1), ``"never"`` (every one < 1), or ``"falls"``
    when speedup only drops below 1 as items grow.
    """
    ordered = sorted(points)
    if not ordered:
        raise ValueError("no points")
    if all(speedup >= 1 for _, speedup in ordered):
        return "always"
    if all(speedup < 1 for _, speedup in ordered):
        return "never"
    for (size_a, speedup_a), (size_b, speedup_b) in itertools.pairwise(ordered):
        if speedup_a < 1 <= speedup_b:
            if speedup_a <= 0:
                return size_b
            log_a, log_b = math.log(size_a), math.log(size_b)
            fraction = -math.log(speedup_a) / (math.log(speedup_b) - math.log(speedup_a))
            return math.exp(log_a + fraction * (log_b - log_a))
    return "falls"
