"""In-run verdicts that keep their level however many looks the engine takes.

The engine judges at 5, 6, 7, 8, 9, 10, 12... rounds and stops at the first
decisive look. Judging every look at the same 95% level calls a true speedup
exactly at the bar a failure about 12% of the time (and a pass as often), not the
nominal 2.5% a side. The rule here (docs/measurement.md, "Looks that keep their
level"):

- Each round votes: is its own ratio (serial / parallel, or transport / parallel)
  above the bar? At a true ratio exactly at the bar the votes are fair coin flips,
  whatever the distribution of the timings (the sign test).
- Look k may have spent at most ``alpha * k / (k + 1)`` in total of the chance
  that fair coins cross the boundary (alpha a side, ``(1 - confidence) / 2``); the
  look that ends the measurement for its budget spends what is left. The boundary
  of each look is computed exactly from the binomial walk of the votes, given that
  no earlier look was crossed, so the correlation between looks costs nothing.
- Equivalently, each look gives an interval of the per-round ratios (two order
  statistics); the verdict's interval is the intersection over the looks, which
  holds the true median ratio at every look at once with probability at least
  ``1 - 2 alpha`` (a confidence sequence).

At 5 rounds even all five votes on one side happen by chance 1 time in 32 (3.1%),
more than 2.5% allows: no verdict is reached before 6 rounds at the default level.
Pure: no pytest, no clock; calibrated in benchmarks/calibration.py.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence

from pytest_parscale.stats import Interval, median


def spent(look: int, alpha: float, *, final: bool = False) -> float:
    """The error look ``look`` (1, 2, ...) may have spent in total; all of it when final."""
    if look < 1:
        raise ValueError("looks are counted from 1")
    return alpha if final else alpha * look / (look + 1)


def look_alpha(look: int, alpha: float, *, final: bool = False) -> float:
    """The error look ``look`` may spend on its own, for a rule with no exact boundary
    (a bootstrap): its increment of :func:`spent`, so the looks add up to at most
    ``alpha`` whatever their correlation (Bonferroni over the looks)."""
    earlier = spent(look - 1, alpha) if look > 1 else 0.0
    return spent(look, alpha, final=final) - earlier


@functools.lru_cache(maxsize=512)
def _boundaries(looks: tuple[int, ...], alpha: float, final: bool) -> tuple[int, ...]:
    # counts[s]: the chance that fair votes sit at s "above" votes with no look crossed
    counts = [1.0]
    crossed = 0.0
    found = []
    previous = 0
    for index, rounds in enumerate(looks):
        for _ in range(rounds - previous):  # one more fair vote
            counts = [
                0.5 * ((counts[s] if s < len(counts) else 0.0) + (counts[s - 1] if s else 0.0))
                for s in range(len(counts) + 1)
            ]
        previous = rounds
        allowed = spent(index + 1, alpha, final=final and index == len(looks) - 1) - crossed
        boundary, tail = rounds + 1, 0.0
        while boundary > 0 and tail + counts[boundary - 1] <= allowed * (1 + 1e-12):
            boundary -= 1
            tail += counts[boundary]
        if boundary <= rounds:
            crossed += tail
            counts = counts[:boundary] + [0.0] * (len(counts) - boundary)
        found.append(boundary)
    return tuple(found)


def boundaries(looks: Sequence[int], alpha: float, *, final: bool = False) -> tuple[int, ...]:
    """Per look, the fewest votes on one side of the bar that decide (> rounds: none can).

    ``looks`` are the round counts at which the engine judged, increasing; ``final``
    says the last of them ended the measurement for its budget (it spends the rest).
    The two sides are computed alike: the chance of crossing either, at a true ratio
    at the bar, is at most ``alpha`` each.
    """
    if any(later <= earlier for earlier, later in itertools.pairwise(looks)) or (
        looks and looks[0] < 1
    ):
        raise ValueError(f"looks must be increasing round counts, got {list(looks)}")
    if not 0 < alpha < 0.5:
        raise ValueError("alpha must be in (0, 0.5)")
    return _boundaries(tuple(looks), alpha, final)


def sequence_interval(
    ratios: Sequence[float], looks: Sequence[int], confidence: float, *, final: bool = False
) -> Interval:
    """The always-valid interval of the per-round ratios after ``looks``.

    At a look of n rounds with boundary u the interval runs from the u-th smallest to
    the u-th largest ratio of the first n; the result is their intersection over the
    looks (unbounded while no look can decide). ``estimate`` is the median ratio of
    all ``ratios``; ``confidence`` is what the sequence holds over every look at once.
    """
    if not ratios:
        raise ValueError("no rounds")
    if not looks or looks[-1] > len(ratios):
        raise ValueError("the looks must end within the rounds measured")
    alpha = (1 - confidence) / 2
    low, high = -math.inf, math.inf
    for rounds, boundary in zip(looks, boundaries(looks, alpha, final=final), strict=True):
        if boundary > rounds:
            continue
        ordered = sorted(ratios[:rounds])
        low = max(low, ordered[rounds - boundary])
        high = min(high, ordered[boundary - 1])
    return Interval(median(ratios), low, high, confidence)


def round_ratios(numerator: Sequence[float], denominator: Sequence[float]) -> list[float]:
    """Each round's own ratio (its vote is whether this is above the bar)."""
    if len(numerator) != len(denominator):
        raise ValueError("paired samples must have equal length")
    pairs = zip(numerator, denominator, strict=True)
    return [top / bottom if bottom > 0 else math.inf for top, bottom in pairs]
