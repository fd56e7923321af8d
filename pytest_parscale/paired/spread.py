"""Why a paired test stayed uncertain, and what deciding it would take.

A paired run that ends with a test still uncertain leaves its user one question:
run longer, or measure differently? Two facts answer it, both from the sessions
already run:

- **where the spread comes from.** A session's speedup is the ratio of its rounds'
  medians; the scatter of its own rounds (``var(log serial/parallel) / rounds``)
  is the part more rounds per session, or more work per round, would shrink. What
  the sessions scatter beyond that is the machine moving between sessions, which
  only more pairs average out. On this project's 2-core machine a 50-case suite of
  ~30 ms cases put ~90% of a session's variance in its rounds
  (benchmarks/PAIRED_NOISE.md).
- **how many pairs would decide it at this spread.** The run's looks spend the
  error as pairwise.look_confidence does; a run capped at N pairs judges its last
  look (of K on schedule.looks) at what is left, ``alpha / K`` a side, and a regression needs
  the family's first step on top (family.first_step). The smallest N whose t
  interval at the observed mean and spread clears the threshold is the projection.
  It assumes the mean and spread stay as observed: a guide to ``--max-sessions``,
  not a promise.

Pure: records in, numbers out; no pytest, no clock.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_parscale.family import first_step
from pytest_parscale.paired.schedule import looks
from pytest_parscale.results import Record
from pytest_parscale.sequential import round_ratios
from pytest_parscale.stats import t_quantile

MOST_PAIRS = 200  # past this a projection says "more than": the change sits at the threshold


def log_differences(pairs: Sequence[tuple[Record, Record]]) -> list[float]:
    """Each pair's log speedup per worker, head minus base: what a paired run judges."""
    return [math.log(h.speedup_per_worker) - math.log(b.speedup_per_worker) for b, h in pairs]


def within_variance(record: Record) -> float | None:
    """The variance of a session's log speedup that its own rounds explain, or None
    with fewer than 2 rounds or a non-positive time."""
    if len(record.serial) != len(record.parallel):
        return None
    ratios = round_ratios(record.serial, record.parallel)
    if len(ratios) < 2 or not all(0 < ratio < math.inf for ratio in ratios):
        return None
    return statistics.variance([math.log(ratio) for ratio in ratios]) / len(ratios)


def within_share(pairs: Sequence[tuple[Record, Record]]) -> float | None:
    """The share of the per-pair variance that the sessions' own rounds explain (0-1),
    or None with fewer than 2 pairs or sessions without rounds to tell."""
    if len(pairs) < 2:
        return None
    total = statistics.variance(log_differences(pairs))
    inside = [within_variance(record) for pair in pairs for record in pair]
    known = [value for value in inside if value is not None]
    if len(known) < len(inside) or total <= 0:
        return None
    # a pair's difference holds two sessions' round scatter
    return min(1.0, 2 * statistics.fmean(known) / total)


def pairs_needed(
    mean: float,
    spread: float,
    bound: float,
    alpha: float,
    *,
    min_pairs: int,
    members: int = 1,
    rule: str = "holm",
    start: int = 2,
) -> int | None:
    """The fewest pairs (from ``start``) at which a run capped there would decide a
    test whose per-pair differences have this ``mean`` and ``spread`` (sd), against
    ``bound`` (the threshold in the same units); None past MOST_PAIRS.

    Below the bound the run must show a regression: the last look's share of the
    per-side ``alpha``, at the family's first step over ``members``. Above it, the
    interval must clear the bound at the last look's share alone (an unchanged call
    is never adjusted for the family).
    """
    distance = abs(mean - bound)
    if spread <= 0:
        return max(start, min_pairs)
    for count in range(max(start, min_pairs, 2), MOST_PAIRS + 1):
        last = alpha / len(looks(max(min_pairs, 2), count))  # what the last look may spend
        level = first_step(last, members, rule) if mean < bound else last
        if t_quantile(1 - level, count - 1) * spread / math.sqrt(count) < distance:
            return count
    return None


@dataclass(frozen=True)
class Projection:
    """A still-uncertain test's spread and what deciding it would take."""

    pairs: int  # pairs run
    spread: float  # sd of the per-pair log differences
    within: float | None  # share of it the sessions' own rounds explain
    needed: int | None  # pairs that would decide it at this spread; None: > MOST_PAIRS


def project(
    pairs: Sequence[tuple[Record, Record]],
    threshold: float,
    alpha: float,
    *,
    min_pairs: int,
    members: int,
    rule: str,
) -> Projection | None:
    """The projection of one test's speedup against a relative ``threshold`` (0.1 for
    10%), or None with fewer than 2 pairs."""
    if len(pairs) < 2 or not 0 < threshold < 1:
        return None
    differences = log_differences(pairs)
    spread = statistics.stdev(differences)
    needed = pairs_needed(
        statistics.fmean(differences),
        spread,
        math.log1p(-threshold),
        alpha,
        min_pairs=min_pairs,
        members=members,
        rule=rule,
        start=len(pairs) + 1,
    )
    return Projection(len(pairs), spread, within_share(pairs), needed)
