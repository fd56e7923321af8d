"""Pure statistics for timings: medians, ratio intervals and scaling laws.

No pytest import and no clock: every function here is tested on synthetic samples.
"""

from __future__ import annotations

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

    The one bootstrap of the project: the in-run interval a report shows and the
    baseline comparison call it. Rounds are resampled as pairs (they were taken
    interleaved, so a slow patch of the machine hits both runs of a round).
    Vectorised on numpy, imported here so that pytest's start-up stays light. A
    fixed seed makes every interval a function of the data alone. Returns a numpy
    array of floats.
    """
    import numpy as np

    if len(numerator) != len(denominator):
        raise ValueError("paired samples must have equal length")
    if not numerator:
        raise ValueError("no samples")
    top = np.asarray(numerator, dtype=float)
    bottom = np.asarray(denominator, dtype=float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(top), size=(resamples, len(top)))
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


def _beta_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    total = d
    for m in range(1, 300):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            total *= c * d
        if abs(c * d - 1) < 1e-14:
            break
    return total


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), for the t distribution."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(a, b, x) / a
    return 1 - front * _beta_fraction(b, a, 1 - x) / b


def t_cdf(value: float, freedom: float) -> float:
    """P(T <= value) for Student's t with ``freedom`` degrees of freedom.

    Written here because scipy is only the report extra; checked against scipy in
    tests/unit/test_stats.py.
    """
    if freedom <= 0:
        raise ValueError("need a positive number of degrees of freedom")
    if math.isnan(value):
        raise ValueError("t_cdf of NaN")
    if math.isinf(value):
        return 1.0 if value > 0 else 0.0
    if freedom > 1e4:  # the fraction converges slowly there, and T is normal to 1e-5
        return 0.5 * math.erfc(-value / math.sqrt(2))
    tail = 0.5 * incomplete_beta(freedom / 2, 0.5, freedom / (freedom + value * value))
    return 1 - tail if value > 0 else tail


def t_quantile(probability: float, freedom: float) -> float:
    """Student's t quantile, by bisection on :func:`t_cdf` (0 < probability < 1)."""
    if not 0 < probability < 1 or freedom <= 0:
        raise ValueError("need 0 < probability < 1 and a positive number of degrees of freedom")
    if probability < 0.5:
        return -t_quantile(1 - probability, freedom)
    low, high = 0.0, 1.0
    while t_cdf(high, freedom) < probability:
        low, high = high, high * 2
    for _ in range(80):
        middle = (low + high) / 2
        low, high = (middle, high) if t_cdf(middle, freedom) < probability else (low, middle)
    return (low + high) / 2


@dataclass(frozen=True)
class Line:
    """The ordinary least-squares line y = intercept + slope * x, and the sums its
    standard errors and prediction intervals are made of."""

    slope: float
    intercept: float
    x_mean: float
    sxx: float  # sum of (x - x_mean)^2
    residual: float  # sum of the squared residuals
    count: int

    def at(self, x: float) -> float:
        return self.intercept + self.slope * x


def least_squares(xs: Sequence[float], ys: Sequence[float]) -> Line:
    """The one ordinary least-squares fit of the project (history's capacity fit, the
    Karp-Flatt trend): ``ys`` on ``xs``, at least two points whose x values vary."""
    count = len(xs)
    if count != len(ys) or count < 2:
        raise ValueError("need as many x as y, and at least 2 of them")
    x_mean, y_mean = math.fsum(xs) / count, math.fsum(ys) / count
    sxx = sum((x - x_mean) ** 2 for x in xs)
    if sxx <= 0:
        raise ValueError("the x values do not vary: no slope to fit")
    slope = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = y_mean - slope * x_mean
    residual = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    return Line(slope, intercept, x_mean, sxx, residual, count)


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


@dataclass(frozen=True)
class SerialFraction:
    """A Karp-Flatt serial fraction, or None and the sentence saying why there is none.

    The fraction explains a speedup under Amdahl's law only inside [0, 1]: below 1x the
    parallel run lost to overhead (the fraction exceeds 1), above N workers' worth the
    run was superlinear (the fraction is negative). Neither is a serial fraction, so
    none is printed and nothing is projected from it (docs/scaling.md).
    """

    value: float | None
    reason: str | None = None

    def text(self) -> str:
        """``0.123`` or a short ``none (speedup < 1)`` for a table cell."""
        if self.value is not None:
            return f"{self.value:.3g}"
        return "none" if self.reason is None else f"none ({self.short})"

    @property
    def short(self) -> str:
        if self.reason is None:
            return "-"
        return self.reason.split(":", 1)[0]


def serial_fraction(speedup: float, workers: int) -> SerialFraction:
    """The Karp-Flatt serial fraction when it means something, else the reason it does not."""
    if workers < 2:
        return SerialFraction(None, "one worker: the serial fraction needs 2 or more workers")
    if not math.isfinite(speedup) or speedup <= 0:
        return SerialFraction(None, f"no speedup measured: {speedup!r} is not a positive ratio")
    if speedup < 1:
        return SerialFraction(
            None,
            f"speedup < 1: at {speedup:.3g}x the parallel run is slower than serial, so "
            "overhead dominates and no serial fraction explains it",
        )
    value = karp_flatt(speedup, workers)
    if value < 0:
        return SerialFraction(
            None,
            f"speedup > workers: {speedup:.3g}x on {workers} workers is superlinear, "
            "which Amdahl's law does not describe",
        )
    if value > 1:  # unreachable for speedup >= 1; kept so the rule reads whole
        return SerialFraction(None, f"fraction > 1: {value:.3g} is outside [0, 1]")
    return SerialFraction(value)


def amdahl_speedup(serial_fraction: float, workers: int) -> float:
    """Speedup Amdahl's law predicts at ``workers`` for a serial fraction in [0, 1]."""
    fraction = min(max(serial_fraction, 0.0), 1.0)
    return 1 / (fraction + (1 - fraction) / workers)
