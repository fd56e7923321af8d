"""Moderated spreads: each test's variance shrunk towards the suite's (empirical Bayes).

A test judged against K saved runs has K - 1 degrees of freedom for its spread; with
K = 5 the t quantile a prediction band needs is wide. The other tests of the suite
were saved in the same runs and say how spreads are distributed: model each test's
true variance as drawn from a scaled inverse chi-square prior (scale ``s0^2``,
``d0`` degrees of freedom), estimate the prior from the tests' sample variances by
the method of moments on their logarithms, and let each test use the posterior
variance ``(d0 s0^2 + d s^2) / (d0 + d)`` on ``d0 + d`` degrees of freedom. Tests
whose spreads agree give a large ``d0`` (strong pooling); tests whose spreads differ
widely give a small one (each keeps its own). docs/paired.md, "History baselines",
states the rates. Pure math: no pytest, no clock.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MIN_TESTS = 8  # fewer sample variances say too little about their spread to pool them
# standard errors by which the prior's share of the log variances' spread is taken high:
# d0 is then a lower bound, and its sampling error errs towards each test's own spread
GUARD = 1.0


def digamma(x: float) -> float:
    """psi(x) = d/dx log Gamma(x) for x > 0: recurrence up to 6, then the asymptotic series."""
    if x <= 0:
        raise ValueError(f"digamma needs x > 0, got {x!r}")
    shift = 0.0
    while x < 6:
        shift -= 1 / x
        x += 1
    inverse = 1 / (x * x)
    series = inverse * (1 / 12 - inverse * (1 / 120 - inverse * (1 / 252 - inverse / 240)))
    return shift + math.log(x) - 1 / (2 * x) - series


def trigamma(x: float) -> float:
    """psi'(x) for x > 0: recurrence up to 6, then the asymptotic series."""
    if x <= 0:
        raise ValueError(f"trigamma needs x > 0, got {x!r}")
    shift = 0.0
    while x < 6:
        shift += 1 / (x * x)
        x += 1
    inverse = 1 / (x * x)
    series = 1 / 6 - inverse * (1 / 30 - inverse * (1 / 42 - inverse / 30))
    return shift + 1 / x + inverse / 2 + series * inverse / x


def trigamma_inverse(value: float) -> float:
    """The y > 0 with trigamma(y) = value; trigamma falls from +inf to 0, so bisect on log y."""
    if value <= 0:
        raise ValueError(f"trigamma takes only positive values, got {value!r}")
    low, high = -30.0, 30.0
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if trigamma(math.exp(middle)) > value else (low, middle)
    return math.exp((low + high) / 2)


@dataclass(frozen=True)
class Prior:
    """The suite's spread of variances: scale ``variance`` (s0^2) on ``freedom`` (d0)
    degrees of freedom, estimated from ``tests`` sample variances. ``freedom`` is
    ``inf`` when the tests' variances differ no more than sampling explains (they are
    taken as one) and 0 when there is nothing to pool."""

    variance: float
    freedom: float
    tests: int

    def moderate(self, variance: float, freedom: float) -> tuple[float, float]:
        """One test's (variance, degrees of freedom) after pooling with the prior."""
        if math.isinf(self.freedom):
            return self.variance, math.inf
        total = self.freedom + freedom
        return (self.freedom * self.variance + freedom * variance) / total, total


def estimate_prior(
    variances: Sequence[float], freedoms: Sequence[float], guard: float = GUARD
) -> Prior | None:
    """The prior of the tests' variances, each on its degrees of freedom; None when
    fewer than MIN_TESTS of them are positive (a zero variance has no logarithm).

    log s_i^2 has mean log s0^2 + digamma(d_i/2) - log(d_i/2) + [the prior's part] and
    variance trigamma(d_i/2) + trigamma(d0/2): the sampling part of each is known, so
    what the logs' spread exceeds it by is the prior's, trigamma(d0/2), which gives d0;
    their mean then gives s0^2. That spread is taken ``guard`` standard errors high:
    with a few dozen tests it is loosely known, and too large a d0 pulls the noisiest
    test's spread far towards the others' (benchmarks/CALIBRATION.md).
    """
    if len(variances) != len(freedoms):
        raise ValueError("need one number of degrees of freedom per variance")
    kept = [(v, d) for v, d in zip(variances, freedoms, strict=True) if v > 0 and d > 0]
    if len(kept) < MIN_TESTS:
        return None
    centred = [math.log(v) - digamma(d / 2) + math.log(d / 2) for v, d in kept]
    middle = statistics.fmean(centred)
    spread = statistics.variance(centred) + guard * _variance_error(centred)
    excess = spread - statistics.fmean(trigamma(d / 2) for _, d in kept)
    if excess <= 0:
        return Prior(math.exp(middle), math.inf, len(kept))
    freedom = 2 * trigamma_inverse(excess)
    variance = math.exp(middle + digamma(freedom / 2) - math.log(freedom / 2))
    return Prior(variance, freedom, len(kept))


def _variance_error(values: Sequence[float]) -> float:
    """Standard error of the sample variance of ``values``, from their fourth moment."""
    count, variance = len(values), statistics.variance(values)
    middle = statistics.fmean(values)
    fourth = statistics.fmean((value - middle) ** 4 for value in values)
    return math.sqrt(max(0.0, (fourth - variance**2 * (count - 3) / (count - 1)) / count))
