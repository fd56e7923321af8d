"""Whether the Karp-Flatt serial fraction rises with the worker count (a slope test).

A fixed serial section gives a constant fraction; one that grows with the workers
is overhead (transport, contention, coordination): docs/scaling.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_parscale.scaling.points import (
    ScalingPoint,
    counts_text,
    fittable,
    t_critical_95,
)
from pytest_parscale.stats import karp_flatt, least_squares


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
        for point in fittable(points, usable_cores)
        if (e := point.karp_flatt) is not None
    ]
    counts = sorted({int(n) for n, _ in pairs})
    left_out = sorted(
        {
            (point.workers, point.serial_fraction.short)
            for point in fittable(points, usable_cores)
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
            f"more ({counts_text(counts)}): no trend with N can be judged.",
        )
    line = least_squares([n for n, _ in pairs], [e for _, e in pairs])
    slope = line.slope
    dof = len(pairs) - 2
    if dof < 1:
        return _two_count_trend(points, usable_cores, slope, meaning)
    error = math.sqrt(line.residual / dof / line.sxx)
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
        (p for p in fittable(points, usable_cores) if p.karp_flatt is not None),
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
