"""Scaling analysis of worker sweeps: efficiency, Karp-Flatt trend, Amdahl and USL fits.

Pure Python (no pytest, numpy or scipy) so the analysis runs wherever results files
are read, and every number here is tested on synthetic data with known parameters.

Fits are weighted least squares on the speedup itself, solved by Gauss-Newton with
Levenberg-Marquardt damping, started from the linearised form of each law. Standard
errors come from the Jacobian at the optimum: ``cov = s^2 (J^T W J)^-1`` with
``s^2 = sum(w r^2) / (n - p)``.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_parscale.sizes import approx_size, format_size
from pytest_parscale.stats import amdahl_speedup, karp_flatt
from pytest_parscale.stats import crossover as stats_crossover

#: The Universal Scalability Law needs this many distinct worker counts within the
#: usable cores: two parameters, and two more counts to see any curvature at all.
USL_MIN_COUNTS = 4
#: Amdahl's law has one parameter: two distinct counts, one of them at least 2.
AMDAHL_MIN_COUNTS = 2

# One-sided 95% Student t quantiles by degrees of freedom; a df between entries uses
# the smaller df's (larger, hence conservative) value.
_T95_ONE_SIDED = (
    (1, 6.314),
    (2, 2.920),
    (3, 2.353),
    (4, 2.132),
    (5, 2.015),
    (6, 1.943),
    (7, 1.895),
    (8, 1.860),
    (9, 1.833),
    (10, 1.812),
    (12, 1.782),
    (15, 1.753),
    (20, 1.725),
    (30, 1.697),
    (60, 1.671),
    (120, 1.658),
)


def t_critical_95(dof: int) -> float:
    """One-sided 95% Student t quantile, conservative between tabulated df."""
    if dof < 1:
        raise ValueError("a t test needs at least one degree of freedom")
    return next(quantile for tabulated, quantile in reversed(_T95_ONE_SIDED) if dof >= tabulated)


# --------------------------------------------------------------------------- points


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
    def karp_flatt(self) -> float | None:
        """Serial fraction; undefined at one worker and for a non-positive speedup."""
        if self.workers < 2 or self.speedup <= 0:
            return None
        return karp_flatt(self.speedup, self.workers)

    def standard_deviation(self) -> float | None:
        """Normal-approximation spread of the speedup read off its interval."""
        if self.low is None or self.high is None:
            return None
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.high <= self.low:
            return None
        z = statistics.NormalDist().inv_cdf(0.5 + self.confidence / 2)
        return (self.high - self.low) / (2 * z)


def _usable(points: Sequence[ScalingPoint], usable_cores: int | None) -> list[ScalingPoint]:
    """Points a model may be fitted to: not oversubscribed and within the usable cores."""
    return [
        point
        for point in points
        if not point.oversubscribed and (usable_cores is None or point.workers <= usable_cores)
    ]


# ----------------------------------------------------------------- least squares


@dataclass(frozen=True)
class _Solution:
    params: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...] | None
    rss: float
    dof: int


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float] | None:
    """Gaussian elimination with partial pivoting; None for a singular system."""
    size = len(vector)
    rows = [[*matrix[i], vector[i]] for i in range(size)]
    scale = max((abs(value) for row in matrix for value in row), default=0.0)
    if scale == 0:
        return None
    for column in range(size):
        pivot = max(range(column, size), key=lambda row: abs(rows[row][column]))
        if abs(rows[pivot][column]) <= 1e-13 * scale:
            return None
        rows[column], rows[pivot] = rows[pivot], rows[column]
        for row in range(size):
            if row != column:
                factor = rows[row][column] / rows[column][column]
                for k in range(column, size + 1):
                    rows[row][k] -= factor * rows[column][k]
    return [rows[i][size] / rows[i][i] for i in range(size)]


def _inverse(matrix: list[list[float]]) -> list[list[float]] | None:
    size = len(matrix)
    columns = []
    for index in range(size):
        unit = [1.0 if row == index else 0.0 for row in range(size)]
        column = _solve(matrix, unit)
        if column is None:
            return None
        columns.append(column)
    return [[columns[j][i] for j in range(size)] for i in range(size)]


def _normal_equations(
    rows: Sequence[Sequence[float]], residuals: Sequence[float], weights: Sequence[float]
) -> tuple[list[list[float]], list[float]]:
    """``J^T W J`` and ``J^T W r`` for a Jacobian given row by row."""
    size = len(rows[0])
    jtj = [
        [
            sum(w * row[i] * row[j] for row, w in zip(rows, weights, strict=True))
            for j in range(size)
        ]
        for i in range(size)
    ]
    jtr = [
        sum(w * row[i] * r for row, r, w in zip(rows, residuals, weights, strict=True))
        for i in range(size)
    ]
    return jtj, jtr


def _fit(
    model: Callable[[tuple[float, ...], float], float],
    gradient: Callable[[tuple[float, ...], float], tuple[float, ...]],
    xs: Sequence[float],
    ys: Sequence[float],
    weights: Sequence[float],
    start: tuple[float, ...],
    *,
    iterations: int = 200,
) -> _Solution | None:
    """Levenberg-Marquardt on ``sum(w (y - model(x))^2)``; None if it cannot converge."""

    def rss_of(params: tuple[float, ...]) -> float:
        total = 0.0
        for x, y, w in zip(xs, ys, weights, strict=True):
            value = model(params, x)
            if not math.isfinite(value):
                return math.inf
            total += w * (y - value) ** 2
        return total

    params = start
    rss = rss_of(params)
    if not math.isfinite(rss):
        return None
    damping = 1e-3
    converged = False
    for _ in range(iterations):
        rows = [gradient(params, x) for x in xs]
        residuals = [y - model(params, x) for x, y in zip(xs, ys, strict=True)]
        jtj, jtr = _normal_equations(rows, residuals, weights)
        improved = False
        while damping < 1e12:
            damped = [
                [value * (1 + damping) if i == j else value for j, value in enumerate(row)]
                for i, row in enumerate(jtj)
            ]
            step = _solve(damped, jtr)
            if step is None:
                damping *= 10
                continue
            trial = tuple(p + s for p, s in zip(params, step, strict=True))
            trial_rss = rss_of(trial)
            if trial_rss <= rss:
                improved = True
                converged = rss - trial_rss <= 1e-15 * max(rss, 1e-300) or all(
                    abs(s) <= 1e-12 * max(abs(p), 1.0) for s, p in zip(step, params, strict=True)
                )
                params, rss = trial, trial_rss
                damping = max(damping / 10, 1e-12)
                break
            damping *= 10
        if not improved or converged:
            break
    rows = [gradient(params, x) for x in xs]
    jtj, _ = _normal_equations(rows, [0.0] * len(xs), weights)
    dof = len(xs) - len(params)
    inverse = _inverse(jtj)
    if inverse is None:
        return None
    covariance = None
    if dof > 0:
        variance = rss / dof
        covariance = tuple(tuple(variance * value for value in row) for row in inverse)
    return _Solution(params, covariance, rss, dof)


def _weights(points: Sequence[ScalingPoint]) -> tuple[list[float], bool]:
    """Inverse-variance weights from the intervals; relative weights if any is missing.

    Timing noise is multiplicative, so without intervals each point is assumed to
    carry the same relative error: weight ``1 / S^2``.
    """
    spreads = [point.standard_deviation() for point in points]
    if all(spread is not None for spread in spreads):
        return [1 / spread**2 for spread in spreads if spread is not None], True
    return [1 / max(point.speedup, 1e-12) ** 2 for point in points], False


def _standard_error(solution: _Solution, index: int) -> float | None:
    if solution.covariance is None:
        return None
    return math.sqrt(max(solution.covariance[index][index], 0.0))


def _counts_text(counts: Iterable[int]) -> str:
    ordered = sorted(set(counts))
    return ", ".join(str(count) for count in ordered) if ordered else "none"


# ------------------------------------------------------------------------ models


@dataclass(frozen=True)
class NoFit:
    """A model that was not fitted, and the sentence that says why."""

    model: str
    reason: str


@dataclass(frozen=True)
class AmdahlFit:
    """``S(N) = 1 / (f + (1 - f) / N)`` fitted to the usable points."""

    serial_fraction: float
    standard_error: float | None
    points: int
    counts: tuple[int, ...]
    weighted: bool
    model: str = "Amdahl"

    def predict(self, workers: float) -> float:
        return 1 / (self.serial_fraction + (1 - self.serial_fraction) / workers)

    def describe(self) -> str:
        error = f" ± {self.standard_error:.3g}" if self.standard_error is not None else ""
        return (
            f"Amdahl fit: serial fraction {self.serial_fraction:.3g}{error} "
            f"from {self.points} points at {_counts_text(self.counts)} workers; "
            f"ceiling {self.ceiling_text()}"
        )

    def ceiling_text(self) -> str:
        if not 0 <= self.serial_fraction <= 1:
            return (
                "none: a serial fraction outside [0, 1] means Amdahl's law "
                "does not describe this sweep"
            )
        if self.serial_fraction == 0:
            return "none (no serial fraction measured)"
        return f"{1 / self.serial_fraction:.3g}x at any worker count (projection)"


@dataclass(frozen=True)
class USLFit:
    """Universal Scalability Law ``S(N) = N / (1 + sigma (N-1) + kappa N (N-1))``.

    ``sigma`` is contention (queueing on a shared resource, Amdahl's serial part);
    ``kappa`` is coherency (pairwise crosstalk), which makes speedup fall past a peak.
    """

    sigma: float
    sigma_se: float | None
    kappa: float
    kappa_se: float | None
    peak_workers: float | None
    peak_workers_se: float | None
    peak_speedup: float | None
    points: int
    counts: tuple[int, ...]
    weighted: bool
    model: str = "USL"

    def predict(self, workers: float) -> float:
        return usl_speedup(self.sigma, self.kappa, workers)

    @property
    def peak_is_projection(self) -> bool:
        """True when the peak lies beyond the largest measured count."""
        return self.peak_workers is not None and self.peak_workers > max(self.counts)

    def describe(self) -> str:
        def with_error(value: float, error: float | None) -> str:
            return f"{value:.3g} ± {error:.2g}" if error is not None else f"{value:.3g}"

        text = (
            f"USL fit: contention sigma {with_error(self.sigma, self.sigma_se)}, "
            f"coherency kappa {with_error(self.kappa, self.kappa_se)} "
            f"from {self.points} points at {_counts_text(self.counts)} workers; "
        )
        if not 0 <= self.sigma <= 1:
            text += "sigma outside [0, 1] means the USL does not describe this sweep; "
        if self.peak_workers is None or self.peak_speedup is None:
            return text + "no peak (kappa <= 0: speedup does not turn down in this model)"
        label = " (projection, beyond the measured counts)" if self.peak_is_projection else ""
        error = f" ± {self.peak_workers_se:.2g}" if self.peak_workers_se is not None else ""
        text += (
            f"predicted peak {self.peak_speedup:.3g}x at N* = "
            f"{self.peak_workers:.3g}{error} workers{label}"
        )
        if self.kappa_se is not None and self.kappa < 2 * self.kappa_se:
            text += " (kappa is within two standard errors of 0: the peak is not established)"
        return text


def usl_speedup(sigma: float, kappa: float, workers: float) -> float:
    """Speedup the Universal Scalability Law predicts at ``workers`` (NaN where undefined)."""
    denominator = 1 + sigma * (workers - 1) + kappa * workers * (workers - 1)
    return workers / denominator if denominator > 0 else math.nan


def _usl_model(params: tuple[float, ...], workers: float) -> float:
    denominator = 1 + params[0] * (workers - 1) + params[1] * workers * (workers - 1)
    return workers / denominator if denominator > 0 else math.inf


def _usl_gradient(params: tuple[float, ...], workers: float) -> tuple[float, ...]:
    denominator = 1 + params[0] * (workers - 1) + params[1] * workers * (workers - 1)
    factor = -workers / denominator**2
    return (factor * (workers - 1), factor * workers * (workers - 1))


def _amdahl_model(params: tuple[float, ...], workers: float) -> float:
    denominator = params[0] + (1 - params[0]) / workers
    return 1 / denominator if denominator > 0 else math.inf


def _amdahl_gradient(params: tuple[float, ...], workers: float) -> tuple[float, ...]:
    speedup = _amdahl_model(params, workers)
    return (-(speedup**2) * (1 - 1 / workers),)


def fit_amdahl(
    points: Sequence[ScalingPoint], usable_cores: int | None = None
) -> AmdahlFit | NoFit:
    """Serial fraction of Amdahl's law, from the points within the usable cores."""
    usable = _usable(points, usable_cores)
    counts = {point.workers for point in usable}
    if len(counts) < AMDAHL_MIN_COUNTS or max(counts, default=0) < 2:
        return NoFit(
            "Amdahl",
            f"No Amdahl fit: it needs at least {AMDAHL_MIN_COUNTS} distinct worker counts "
            f"within the usable cores, one of them 2 or more; usable counts measured: "
            f"{_counts_text(counts)}.",
        )
    xs = [float(point.workers) for point in usable]
    ys = [point.speedup for point in usable]
    weights, weighted = _weights(usable)
    # Linearised start: 1/S - 1/N = f (1 - 1/N).
    a = [1 - 1 / x for x in xs]
    b = [1 / y - 1 / x if y > 0 else 1.0 for x, y in zip(xs, ys, strict=True)]
    start = sum(w * ai * bi for w, ai, bi in zip(weights, a, b, strict=True)) / sum(
        w * ai * ai for w, ai in zip(weights, a, strict=True)
    )
    solution = _fit(_amdahl_model, _amdahl_gradient, xs, ys, weights, (min(start, 0.99),))
    if solution is None:
        return NoFit("Amdahl", "No Amdahl fit: the least-squares problem did not converge.")
    return AmdahlFit(
        serial_fraction=solution.params[0],
        standard_error=_standard_error(solution, 0),
        points=len(usable),
        counts=tuple(sorted(counts)),
        weighted=weighted,
    )


def fit_usl(
    points: Sequence[ScalingPoint], usable_cores: int | None = None, *, requested: int | None = None
) -> USLFit | NoFit:
    """Contention and coherency of the USL, with standard errors and the peak count.

    Fitted only with at least four distinct counts within the usable cores; otherwise
    the NoFit's reason names what was measured and what was left out. ``requested``
    is the number of distinct counts the sweep asked for, to say what was dropped.
    """
    usable = _usable(points, usable_cores)
    counts = {point.workers for point in usable}
    if len(counts) < USL_MIN_COUNTS:
        left_out = sorted({point.workers for point in points} - counts)
        reason = (
            f"No USL fit: it needs at least {USL_MIN_COUNTS} distinct worker counts within "
            f"the usable cores"
        )
        if usable_cores is not None:
            reason += f" ({usable_cores} on the machine that measured)"
        reason += f"; this sweep has {len(counts)} ({_counts_text(counts)})"
        if left_out:
            reason += (
                f"; worker counts {_counts_text(left_out)} ran oversubscribed (more workers "
                "than usable cores) and are not fitted"
            )
        squeezed = sorted(
            {
                point.workers_requested
                for point in points
                if point.workers_requested is not None and point.workers_requested > point.workers
            }
        )
        if squeezed:
            reason += f"; requested {_counts_text(squeezed)} ran at fewer workers"
        if usable_cores is not None and usable_cores < USL_MIN_COUNTS:
            reason += (
                f". With {usable_cores} usable cores no sweep can be fitted here; "
                f"run it on a machine with at least {USL_MIN_COUNTS} cores"
            )
        return NoFit("USL", reason + ".")
    xs = [float(point.workers) for point in usable]
    ys = [point.speedup for point in usable]
    weights, weighted = _weights(usable)
    start = _usl_linearised(xs, ys, weights)
    solution = _fit(_usl_model, _usl_gradient, xs, ys, weights, start)
    if solution is None:
        return NoFit(
            "USL",
            "No USL fit: the least-squares problem is singular or did not converge "
            "(the counts do not separate contention from coherency).",
        )
    sigma, kappa = solution.params
    peak, peak_se, peak_speedup = None, None, None
    if kappa > 0 and sigma < 1:
        peak = math.sqrt((1 - sigma) / kappa)
        peak_speedup = usl_speedup(sigma, kappa, peak)
        if solution.covariance is not None:
            # Delta method: dN*/dsigma = -1 / (2 kappa N*), dN*/dkappa = -N* / (2 kappa).
            d_sigma, d_kappa = -1 / (2 * kappa * peak), -peak / (2 * kappa)
            cov = solution.covariance
            variance = (
                d_sigma**2 * cov[0][0] + 2 * d_sigma * d_kappa * cov[0][1] + d_kappa**2 * cov[1][1]
            )
            peak_se = math.sqrt(max(variance, 0.0))
    return USLFit(
        sigma=sigma,
        sigma_se=_standard_error(solution, 0),
        kappa=kappa,
        kappa_se=_standard_error(solution, 1),
        peak_workers=peak,
        peak_workers_se=peak_se,
        peak_speedup=peak_speedup,
        points=len(usable),
        counts=tuple(sorted(counts)),
        weighted=weighted,
    )


def _usl_linearised(
    xs: Sequence[float], ys: Sequence[float], weights: Sequence[float]
) -> tuple[float, float]:
    """Start values from ``N/S - 1 = sigma (N-1) + kappa N (N-1)`` (exact on exact data)."""
    rows = [(x - 1, x * (x - 1)) for x in xs]
    targets = [x / y - 1 if y > 0 else 0.0 for x, y in zip(xs, ys, strict=True)]
    jtj, jtr = _normal_equations(rows, targets, weights)
    solved = _solve(jtj, jtr)
    return (solved[0], solved[1]) if solved is not None else (0.0, 0.0)


# ------------------------------------------------------------------ Karp-Flatt


@dataclass(frozen=True)
class KarpFlattTrend:
    """Whether the Karp-Flatt serial fraction rises with the worker count.

    ``rises`` is None when the data cannot say (fewer than two counts of 2 or more).
    """

    slope: float | None
    standard_error: float | None
    rises: bool | None
    sentence: str


def karp_flatt_trend(
    points: Sequence[ScalingPoint], usable_cores: int | None = None
) -> KarpFlattTrend:
    """One-sided slope test of e(N) against N, on the points within the usable cores.

    A fixed serial section gives a constant e; an e that grows with N is overhead that
    grows with the workers (transport, contention, coordination).
    """
    pairs = [
        (float(point.workers), e)
        for point in _usable(points, usable_cores)
        if (e := point.karp_flatt) is not None
    ]
    counts = sorted({int(n) for n, _ in pairs})
    meaning = (
        "the loss grows with the worker count, which points at overhead "
        "(transport, contention), not at a fixed serial section"
    )
    if len(counts) < 2:
        return KarpFlattTrend(
            None,
            None,
            None,
            f"Karp-Flatt serial fraction measured at {len(counts)} worker count(s) of 2 or "
            f"more ({_counts_text(counts)}): no trend with N can be judged.",
        )
    mean_n = sum(n for n, _ in pairs) / len(pairs)
    mean_e = sum(e for _, e in pairs) / len(pairs)
    sxx = sum((n - mean_n) ** 2 for n, _ in pairs)
    slope = sum((n - mean_n) * (e - mean_e) for n, e in pairs) / sxx
    dof = len(pairs) - 2
    if dof < 1:
        return _two_count_trend(points, usable_cores, slope, meaning)
    residual = sum((e - mean_e - slope * (n - mean_n)) ** 2 for n, e in pairs)
    error = math.sqrt(residual / dof / sxx)
    scale = max(abs(e) for _, e in pairs) or 1.0
    if error <= 1e-12 * scale:
        rises = slope > 1e-9 * scale
        test = "exact data"
    else:
        critical = t_critical_95(dof)
        rises = slope / error > critical
        test = f"t = {slope / error:.2f} vs {critical:.2f} at 95%"
    verdict = (
        f"rises with N (slope {slope:.3g} per worker, {test}): {meaning}"
        if rises
        else f"does not rise significantly with N (slope {slope:.3g} per worker, {test}): "
        "consistent with a fixed serial fraction"
    )
    return KarpFlattTrend(slope, error, rises, f"Karp-Flatt serial fraction {verdict}.")


def _two_count_trend(
    points: Sequence[ScalingPoint], usable_cores: int | None, slope: float, meaning: str
) -> KarpFlattTrend:
    """Two counts: judged only when their Karp-Flatt intervals do not overlap."""
    usable = sorted(
        (p for p in _usable(points, usable_cores) if p.karp_flatt is not None),
        key=lambda p: p.workers,
    )
    first, last = usable[0], usable[-1]

    def interval(point: ScalingPoint) -> tuple[float, float] | None:
        if point.low is None or point.high is None or point.low <= 0:
            return None
        # e falls as S rises, so the ends swap.
        return karp_flatt(point.high, point.workers), karp_flatt(point.low, point.workers)

    a, b = interval(first), interval(last)
    values = f"{first.karp_flatt:.3g} at {first.workers} to {last.karp_flatt:.3g} at {last.workers}"
    if a is None or b is None:
        return KarpFlattTrend(
            slope,
            None,
            None,
            f"Karp-Flatt serial fraction goes from {values} workers; two counts without "
            "intervals cannot be tested.",
        )
    rises = b[0] > a[1]
    verdict = (
        f"rises from {values} workers and the intervals do not overlap: {meaning}"
        if rises
        else f"goes from {values} workers with overlapping intervals: no significant rise"
    )
    return KarpFlattTrend(slope, None, rises, f"Karp-Flatt serial fraction {verdict}.")


# ------------------------------------------------------------------ the analysis


@dataclass(frozen=True)
class ModelProjection:
    """A speedup a fitted model predicts at a count that was not measured usably."""

    workers: int
    speedup: float
    model: str
    label: str = "projection"

    def describe(self) -> str:
        return (
            f"projection ({self.model}, not measured): ~{self.speedup:.3g}x "
            f"at {self.workers} workers"
        )


@dataclass(frozen=True)
class SweepAnalysis:
    """Everything the reports show about one sweep; renders never recompute it."""

    points: tuple[ScalingPoint, ...]
    usable_cores: int | None
    trend: KarpFlattTrend
    amdahl: AmdahlFit | NoFit
    usl: USLFit | NoFit
    projections: tuple[ModelProjection, ...] = field(default=())

    @property
    def model(self) -> AmdahlFit | USLFit | None:
        """The model to draw and project with: USL when fitted, else Amdahl, else None."""
        if isinstance(self.usl, USLFit):
            return self.usl
        if isinstance(self.amdahl, AmdahlFit):
            return self.amdahl
        return None

    def summary(self) -> list[str]:
        """Sentences saying what was and was not fitted, for every report."""
        lines = [self.trend.sentence]
        for fit in (self.amdahl, self.usl):
            lines.append(fit.reason if isinstance(fit, NoFit) else fit.describe())
        lines.extend(projection.describe() for projection in self.projections)
        return lines


def analyse(points: Sequence[ScalingPoint], usable_cores: int | None = None) -> SweepAnalysis:
    """Trend, fits and labelled projections for one sweep's points."""
    ordered = tuple(sorted(points, key=lambda p: (p.workers, p.workers_requested or 0)))
    amdahl: AmdahlFit | NoFit = fit_amdahl(ordered, usable_cores)
    usl: USLFit | NoFit = fit_usl(ordered, usable_cores)
    parallel = [p.speedup for p in _usable(ordered, usable_cores) if p.workers >= 2]
    if parallel and max(parallel) < 1:
        # Overhead swamps the work: neither law (both have S >= 1) can describe it.
        reason = (
            f"parallel runs are slower than serial at every usable count (best "
            f"{max(parallel):.3g}x): overhead dominates and the scaling laws do not apply."
        )
        if isinstance(amdahl, AmdahlFit):
            amdahl = NoFit("Amdahl", f"No Amdahl fit: {reason}")
        if isinstance(usl, USLFit):
            usl = NoFit("USL", f"No USL fit: {reason}")
    analysis = SweepAnalysis(
        ordered, usable_cores, karp_flatt_trend(ordered, usable_cores), amdahl, usl
    )
    model = analysis.model
    if model is None:
        return analysis
    measured = max(model.counts)
    wanted = {p.workers_requested or p.workers for p in ordered} | {p.workers for p in ordered}
    projections = [
        ModelProjection(count, model.predict(count), model.model)
        for count in sorted(wanted)
        if count > measured
    ]
    return SweepAnalysis(
        ordered, usable_cores, analysis.trend, amdahl, usl, projections=tuple(projections)
    )


def amdahl_projection(serial_fraction: float, workers: int) -> ModelProjection:
    """Amdahl projection from one Karp-Flatt value, labelled like the fitted ones."""
    return ModelProjection(workers, amdahl_speedup(serial_fraction, workers), "Amdahl")


# ----------------------------------------------------------- results documents

_WORKER_TOKEN = r"(?:w|workers?[=_]?|n)?{count}(?:w|workers?)?"


def _strip_token(nodeid: str, pattern: str) -> str:
    """Remove the first dash-separated parameter token fully matching ``pattern``."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return nodeid
    head, _, params = nodeid[:-1].partition("[")
    tokens = params.split("-")
    for index, token in enumerate(tokens):
        if re.fullmatch(pattern, token, flags=re.IGNORECASE):
            del tokens[index]
            break
    rest = "-".join(tokens)
    return f"{head}[{rest}]" if rest else head


def sweep_test_id(record: Mapping[str, Any]) -> str:
    """The node id without its worker part (``4``, ``w4``, ``4w``, ``workers=4``...)."""
    nodeid = str(record["nodeid"])
    requested = record.get("workers_requested") or record.get("workers")
    if requested is None:
        return nodeid
    return _strip_token(nodeid, _WORKER_TOKEN.format(count=int(requested)))


def size_series_test_id(record: Mapping[str, Any]) -> str:
    """The node id without its worker, backend and item-size parts."""
    nodeid = sweep_test_id(record)
    nodeid = _strip_token(nodeid, re.escape(str(record["backend"])))
    size = record.get("item_size")
    if size is not None:
        nodeid = _strip_token(nodeid, re.escape(format_size(int(size))))
    return nodeid


def point_from_record(record: Mapping[str, Any]) -> ScalingPoint:
    """A ScalingPoint from one record dict of a results document."""
    speedup = record["speedup"]
    return ScalingPoint(
        workers=int(record["workers"]),
        speedup=float(speedup["estimate"]),
        low=None if speedup.get("low") is None else float(speedup["low"]),
        high=None if speedup.get("high") is None else float(speedup["high"]),
        confidence=float(speedup.get("confidence") or 0.95),
        oversubscribed=bool(record.get("oversubscribed", False)),
        workers_requested=(
            None if record.get("workers_requested") is None else int(record["workers_requested"])
        ),
    )


@dataclass(frozen=True)
class Sweep:
    """The records of one test on one backend at one item size, across worker counts."""

    test: str
    backend: str
    item_size: int | None
    records: tuple[Mapping[str, Any], ...]

    @property
    def points(self) -> list[ScalingPoint]:
        return [point_from_record(record) for record in self.records]

    @property
    def requested_counts(self) -> list[int]:
        return sorted({int(r.get("workers_requested") or r["workers"]) for r in self.records})

    @property
    def label(self) -> str:
        parts = [self.test, self.backend]
        if self.item_size is not None:
            parts.append(format_size(self.item_size))
        return " · ".join(parts)


def group_sweeps(records: Iterable[Mapping[str, Any]]) -> list[Sweep]:
    """Group result records by (test without the worker part, backend, item size).

    Order follows the first appearance of each group; records keep the document's order
    within a group.
    """
    groups: dict[tuple[str, str, int | None], list[Mapping[str, Any]]] = {}
    for record in records:
        size = record.get("item_size")
        key = (sweep_test_id(record), str(record["backend"]), None if size is None else int(size))
        groups.setdefault(key, []).append(record)
    return [
        Sweep(test, backend, size, tuple(rows)) for (test, backend, size), rows in groups.items()
    ]


def usable_cores_of(results_document: Mapping[str, Any]) -> int | None:
    """The usable cores the results document's machine recorded, if it did."""
    machine = results_document.get("machine") or {}
    value = machine.get("usable_cores") if isinstance(machine, Mapping) else None
    return int(value) if isinstance(value, (int, float)) and value > 0 else None


def analyse_document(results_document: Mapping[str, Any]) -> list[tuple[Sweep, SweepAnalysis]]:
    """Every sweep (two or more requested worker counts) of a results document, analysed."""
    cores = usable_cores_of(results_document)
    sweeps = group_sweeps(results_document.get("results") or [])
    return [
        (sweep, analyse(sweep.points, cores))
        for sweep in sweeps
        if len(sweep.requested_counts) >= 2
    ]


# ---------------------------------------------------------------- item sizes


@dataclass(frozen=True)
class SizePoint:
    item_size: int
    speedup: float
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Crossover:
    """Where speedup crosses 1.0 as items grow, or the sentence saying it does not."""

    item_size: float | None
    sentence: str


CROSSOVER_TEXT = {
    "always": "faster in parallel at every size measured (no crossover)",
    "never": "slower in parallel at every size measured (no crossover)",
    "falls": "speedup falls below 1.0x as items grow (no upward crossover)",
}


def crossover(points: Sequence[SizePoint]) -> Crossover:
    """First upward crossing of 1.0, interpolated on log size and log speedup."""
    if len({point.item_size for point in points}) < 2:
        return Crossover(None, "one item size only: no crossover can be located")
    found = stats_crossover([(point.item_size, point.speedup) for point in points])
    if isinstance(found, str):
        return Crossover(None, CROSSOVER_TEXT[found])
    return Crossover(found, f"crosses 1.0x near ~{approx_size(found)} per item")


@dataclass(frozen=True)
class SizeSeries:
    """Speedup against item size, one line per backend, for one test and worker count."""

    test: str
    workers: int
    lines: dict[str, tuple[SizePoint, ...]]

    def crossovers(self) -> dict[str, Crossover]:
        return {backend: crossover(points) for backend, points in self.lines.items()}


def group_size_series(records: Iterable[Mapping[str, Any]]) -> list[SizeSeries]:
    """Records with an item size, by (test without backend/size/workers, requested count).

    A series is kept when at least one backend has two or more sizes.
    """
    groups: dict[tuple[str, int], dict[str, list[SizePoint]]] = {}
    for record in records:
        if record.get("item_size") is None:
            continue
        point = point_from_record(record)
        key = (size_series_test_id(record), point.workers_requested or point.workers)
        groups.setdefault(key, {}).setdefault(str(record["backend"]), []).append(
            SizePoint(int(record["item_size"]), point.speedup, point.low, point.high)
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
