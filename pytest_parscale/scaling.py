"""Scaling analysis of worker sweeps: efficiency, Karp-Flatt trend, Amdahl and USL fits.

No pytest import and no module-level numpy or scipy: the fits import scipy (the
``report`` extra) inside the functions that need it, so the plugin starts light and a
machine without scipy gets a sentence naming the extra instead of a crash. Every
number here is tested on synthetic data with known parameters (docs/scaling.md).

Fits are weighted least squares on the speedup itself (``scipy.optimize.least_squares``,
Levenberg-Marquardt), started from the linearised form of each law. Standard errors
come from the Jacobian at the optimum: ``cov = s^2 (J^T W J)^-1`` with
``s^2 = sum(w r^2) / (n - p)``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_parscale.sizes import approx_size, format_size
from pytest_parscale.stats import SerialFraction, karp_flatt, serial_fraction

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from pytest_parscale.results import Record

#: The Universal Scalability Law needs this many distinct worker counts within the
#: usable cores: two parameters, and two more counts to see any curvature at all.
USL_MIN_COUNTS = 4
#: Amdahl's law has one parameter: two distinct counts, one of them at least 2.
AMDAHL_MIN_COUNTS = 2
#: What to install when the fits cannot run.
REPORT_EXTRA = "pip install 'pytest-parscale[report]'"
#: A crossover whose interval spans more than this factor of sizes is not reported.
CROSSOVER_MAX_SPAN = 10.0


class ScipyMissing(ImportError):
    """scipy (the ``report`` extra) is not installed; the message says how to get it."""


def t_critical_95(dof: int) -> float:
    """One-sided 95% Student t quantile (scipy.stats.t)."""
    if dof < 1:
        raise ValueError("a t test needs at least one degree of freedom")
    try:
        from scipy.stats import t
    except ImportError as error:
        raise ScipyMissing(f"the scaling statistics need scipy: {REPORT_EXTRA}") from error
    return float(t.ppf(0.95, dof))


# ------------------------------------------------------------ serial fraction


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


Model = Callable[["NDArray[Any]", "NDArray[Any]"], "NDArray[Any]"]


def _fit(
    model: Model,
    jacobian: Model,
    xs: Sequence[float],
    ys: Sequence[float],
    weights: Sequence[float],
    start: tuple[float, ...],
) -> _Solution | None:
    """Levenberg-Marquardt on ``sum(w (y - model(x))^2)``; None if it cannot converge.

    ``model(params, x)`` and ``jacobian(params, x)`` take numpy arrays; the Jacobian
    has one row per x and one column per parameter.
    """
    try:
        import numpy as np
        from scipy.optimize import least_squares
    except ImportError as error:
        raise ScipyMissing(f"the scaling fits need scipy: {REPORT_EXTRA}") from error

    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    root = np.sqrt(np.asarray(weights, dtype=float))

    def residuals(params: NDArray[Any]) -> NDArray[Any]:
        weighted: NDArray[Any] = root * (model(params, x) - y)
        return weighted

    def weighted_jacobian(params: NDArray[Any]) -> NDArray[Any]:
        weighted: NDArray[Any] = root[:, None] * jacobian(params, x)
        return weighted

    with np.errstate(all="ignore"):
        first = residuals(np.asarray(start, dtype=float))
        if not np.all(np.isfinite(first)):
            return None
        try:
            result = least_squares(
                residuals,
                np.asarray(start, dtype=float),
                jac=weighted_jacobian,
                method="lm",
                xtol=1e-15,
                ftol=1e-15,
                gtol=1e-15,
            )
        except (ValueError, np.linalg.LinAlgError):
            return None
    if result.status <= 0 or not np.all(np.isfinite(result.x)):
        return None
    final = result.jac
    normal = final.T @ final
    if not np.all(np.isfinite(normal)) or np.linalg.matrix_rank(normal) < len(start):
        return None
    inverse = np.linalg.inv(normal)
    rss = float(np.sum(result.fun**2))
    dof = len(xs) - len(start)
    covariance = None
    if dof > 0:
        scaled = inverse * (rss / dof)
        covariance = tuple(tuple(float(value) for value in row) for row in scaled)
    return _Solution(tuple(float(value) for value in result.x), covariance, rss, dof)


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


def _usl_model(params: NDArray[Any], workers: NDArray[Any]) -> NDArray[Any]:
    sigma, kappa = params
    denominator = 1 + sigma * (workers - 1) + kappa * workers * (workers - 1)
    return workers / denominator  # type: ignore[no-any-return]


def _usl_jacobian(params: NDArray[Any], workers: NDArray[Any]) -> NDArray[Any]:
    import numpy as np

    sigma, kappa = params
    denominator = 1 + sigma * (workers - 1) + kappa * workers * (workers - 1)
    factor = -workers / denominator**2
    return np.column_stack((factor * (workers - 1), factor * workers * (workers - 1)))


def _amdahl_model(params: NDArray[Any], workers: NDArray[Any]) -> NDArray[Any]:
    return 1 / (params[0] + (1 - params[0]) / workers)  # type: ignore[no-any-return]


def _amdahl_jacobian(params: NDArray[Any], workers: NDArray[Any]) -> NDArray[Any]:
    speedup = _amdahl_model(params, workers)
    return (-(speedup**2) * (1 - 1 / workers))[:, None]


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
    try:
        solution = _fit(_amdahl_model, _amdahl_jacobian, xs, ys, weights, (min(start, 0.99),))
    except ScipyMissing as error:
        return NoFit("Amdahl", f"No Amdahl fit: {error}.")
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
    try:
        start = _usl_linearised(xs, ys, weights)
        solution = _fit(_usl_model, _usl_jacobian, xs, ys, weights, start)
    except ScipyMissing as error:
        return NoFit("USL", f"No USL fit: {error}.")
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
    try:
        import numpy as np
    except ImportError as error:  # numpy comes with scipy
        raise ScipyMissing(f"the scaling fits need scipy: {REPORT_EXTRA}") from error
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    root = np.sqrt(np.asarray(weights, dtype=float))
    rows = np.column_stack((x - 1, x * (x - 1))) * root[:, None]
    targets = np.where(y > 0, x / np.where(y > 0, y, 1.0) - 1, 0.0) * root
    solved, _, rank, _ = np.linalg.lstsq(rows, targets, rcond=None)
    return (float(solved[0]), float(solved[1])) if rank == 2 else (0.0, 0.0)


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
    left_out = sorted(
        {
            (point.workers, point.serial_fraction.short)
            for point in _usable(points, usable_cores)
            if point.workers >= 2 and point.karp_flatt is None
        }
    )
    trend = _trend(points, usable_cores, pairs, counts)
    if not left_out:
        return trend
    dropped = "; ".join(f"{workers} workers: {why}" for workers, why in left_out)
    sentence = trend.sentence.removesuffix(".") + f" (left out, no serial fraction: {dropped})."
    return KarpFlattTrend(trend.slope, trend.standard_error, trend.rises, sentence)


def _trend(
    points: Sequence[ScalingPoint],
    usable_cores: int | None,
    pairs: Sequence[tuple[float, float]],
    counts: Sequence[int],
) -> KarpFlattTrend:
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
        try:
            critical = t_critical_95(dof)
        except ScipyMissing as missing:
            return KarpFlattTrend(
                slope,
                error,
                None,
                f"Karp-Flatt serial fraction slope {slope:.3g} per worker; not tested: {missing}.",
            )
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
    no_projection: str | None = None  # why counts beyond the measured ones are not projected

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
        if self.no_projection is not None:
            lines.append(self.no_projection)
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
    beyond = [count for count in sorted(wanted) if count > measured]
    if not beyond:
        return analysis
    outside = _outside_its_law(model)
    if outside is not None:
        counts = _counts_text(beyond)
        return dataclasses.replace(
            analysis, no_projection=f"No projection to {counts} workers: {outside}."
        )
    projections = tuple(ModelProjection(n, model.predict(n), model.model) for n in beyond)
    return dataclasses.replace(analysis, projections=projections)


def _outside_its_law(model: AmdahlFit | USLFit) -> str | None:
    """Why a fitted model must not be projected from, or None when it may be."""
    if isinstance(model, AmdahlFit) and not 0 <= model.serial_fraction <= 1:
        return (
            f"the Amdahl serial fraction {model.serial_fraction:.3g} is outside [0, 1], "
            "so Amdahl's law does not describe this sweep"
        )
    if isinstance(model, USLFit) and not 0 <= model.sigma <= 1:
        return (
            f"the USL contention sigma {model.sigma:.3g} is outside [0, 1], "
            "so the USL does not describe this sweep"
        )
    return None


# ------------------------------------------------------------------- records

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


def sweep_test_id(record: Record) -> str:
    """The node id without its worker part (``4``, ``w4``, ``4w``, ``workers=4``...)."""
    requested = record.workers_requested or record.workers
    return _strip_token(record.nodeid, _WORKER_TOKEN.format(count=int(requested)))


def size_series_test_id(record: Record) -> str:
    """The node id without its worker, backend and item-size parts."""
    nodeid = _strip_token(sweep_test_id(record), re.escape(record.backend))
    if record.item_size is not None:
        nodeid = _strip_token(nodeid, re.escape(format_size(record.item_size)))
    return nodeid


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


@dataclass(frozen=True)
class Sweep:
    """The records of one test on one backend at one item size, across worker counts."""

    test: str
    backend: str
    item_size: int | None
    records: tuple[Record, ...]

    @property
    def points(self) -> list[ScalingPoint]:
        return [point_from_record(record) for record in self.records]

    @property
    def requested_counts(self) -> list[int]:
        return sorted({r.workers_requested or r.workers for r in self.records})

    @property
    def label(self) -> str:
        parts = [self.test, self.backend]
        if self.item_size is not None:
            parts.append(format_size(self.item_size))
        return " · ".join(parts)


def group_sweeps(records: Iterable[Record]) -> list[Sweep]:
    """Group records by (test without the worker part, backend, item size).

    Order follows the first appearance of each group; records keep their order within
    a group.
    """
    groups: dict[tuple[str, str, int | None], list[Record]] = {}
    for record in records:
        key = (sweep_test_id(record), record.backend, record.item_size)
        groups.setdefault(key, []).append(record)
    return [
        Sweep(test, backend, size, tuple(rows)) for (test, backend, size), rows in groups.items()
    ]


def usable_cores_of(machine: Mapping[str, Any]) -> int | None:
    """The usable cores a results document's machine recorded, if it did."""
    value = machine.get("usable_cores")
    return int(value) if isinstance(value, (int, float)) and value > 0 else None


def analyse_records(
    records: Iterable[Record], usable_cores: int | None
) -> list[tuple[Sweep, SweepAnalysis]]:
    """Every sweep (two or more requested worker counts) among the records, analysed."""
    return [
        (sweep, analyse(sweep.points, usable_cores))
        for sweep in group_sweeps(records)
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
