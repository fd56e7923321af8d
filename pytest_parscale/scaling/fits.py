"""Amdahl and USL fits of a sweep's speedups, with standard errors.

Fits are weighted least squares on the speedup itself (``scipy.optimize.least_squares``,
Levenberg-Marquardt), started from the linearised form of each law. Standard errors
come from the Jacobian at the optimum: ``cov = s^2 (J^T W J)^-1`` with
``s^2 = sum(w r^2) / (n - p)``. scipy and numpy load inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_parscale.scaling.points import (
    REPORT_EXTRA,
    ScalingPoint,
    ScipyMissing,
    counts_text,
    fittable,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray


#: The Universal Scalability Law needs this many distinct worker counts within the
#: usable cores: two parameters, and two more counts to see any curvature at all.
USL_MIN_COUNTS = 4
#: Amdahl's law has one parameter: two distinct counts, one of them at least 2.
AMDAHL_MIN_COUNTS = 2


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
            f"from {self.points} points at {counts_text(self.counts)} workers; "
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
            f"from {self.points} points at {counts_text(self.counts)} workers; "
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
    usable = fittable(points, usable_cores)
    counts = {point.workers for point in usable}
    if len(counts) < AMDAHL_MIN_COUNTS or max(counts, default=0) < 2:
        return NoFit(
            "Amdahl",
            f"No Amdahl fit: it needs at least {AMDAHL_MIN_COUNTS} distinct worker counts "
            f"within the usable cores, one of them 2 or more; usable counts measured: "
            f"{counts_text(counts)}.",
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


def _too_few_counts(
    points: Sequence[ScalingPoint], counts: set[int], usable_cores: int | None
) -> str:
    """Why no USL fit: the counts within the usable cores, those left out and why."""
    left_out = sorted({point.workers for point in points} - counts)
    reason = (
        f"No USL fit: it needs at least {USL_MIN_COUNTS} distinct worker counts within "
        f"the usable cores"
    )
    if usable_cores is not None:
        reason += f" ({usable_cores} on the machine that measured)"
    reason += f"; this sweep has {len(counts)} ({counts_text(counts)})"
    if left_out:
        reason += (
            f"; worker counts {counts_text(left_out)} ran oversubscribed (more workers "
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
        reason += f"; requested {counts_text(squeezed)} ran at fewer workers"
    if usable_cores is not None and usable_cores < USL_MIN_COUNTS:
        reason += (
            f". With {usable_cores} usable cores no sweep can be fitted here; "
            f"run it on a machine with at least {USL_MIN_COUNTS} cores"
        )
    return reason + "."


def fit_usl(
    points: Sequence[ScalingPoint], usable_cores: int | None = None, *, requested: int | None = None
) -> USLFit | NoFit:
    """Contention and coherency of the USL, with standard errors and the peak count.

    Fitted only with at least four distinct counts within the usable cores; otherwise
    the NoFit's reason names what was measured and what was left out. ``requested``
    is the number of distinct counts the sweep asked for, to say what was dropped.
    """
    usable = fittable(points, usable_cores)
    counts = {point.workers for point in usable}
    if len(counts) < USL_MIN_COUNTS:
        return NoFit("USL", _too_few_counts(points, counts, usable_cores))
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
