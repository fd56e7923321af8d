"""Where in a branch's history a test's scaling changed: one change point per test.

A trend shows drift; a change point names the commit that caused a step. The model
(docs/results-format.md, "Change points"): over the runs of one test, oldest first,
take the log speedup per worker; among the splits with at least MIN_SIDE runs on each
side pick the one with the largest pooled two-sample t statistic; it is significant
when a seeded permutation test of that maximum (the maximum over all splits again, so
trying many splits is paid for) gives p < 1 - confidence, and it is reported only when
the step is also beyond the speedup threshold: significant AND beyond, the one rule
of regression.judge_change. Pure: no pytest, no clock, no global random state.
"""

from __future__ import annotations

import hashlib
import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_parscale.regression import engine_mismatch
from pytest_parscale.thresholds import NOT_SAID, FailOn, effective_fail_on

if TYPE_CHECKING:
    from pytest_parscale.results import Record
    from pytest_parscale.storage import Results

MIN_SIDE = 3  # fewer runs on a side give no spread: a single odd run is not a change
PERMUTATIONS = 199  # smallest p is 1/200: enough for a 0.05 or 0.01 level


@dataclass(frozen=True)
class Split:
    """The best split of a series: ``index`` is the first value after the change."""

    index: int
    statistic: float
    p_value: float
    before: float  # mean of the values before the split
    after: float  # mean of the values from the split on


def _best(values: Sequence[float], min_side: int) -> tuple[int, float]:
    """The split with the largest |pooled two-sample t| of values[:i] against values[i:].

    Running sums make each split O(1): the permutation test recomputes every split
    of every shuffle.
    """
    count = len(values)
    centre = statistics.fmean(values)  # centred, the sums of squares lose no digits
    values = [value - centre for value in values]
    total = sum(values)
    squares = sum(v * v for v in values)
    # two flat sides: any step is infinitely clear, no step is no evidence at all
    tiny = 1e-12 * max(1.0, *map(abs, values))
    left_sum = left_squares = 0.0
    best = (min_side, -1.0)
    for index, value in enumerate(values[: count - min_side], start=1):
        left_sum += value
        left_squares += value * value
        if index < min_side:
            continue
        right = count - index
        left_mean, right_mean = left_sum / index, (total - left_sum) / right
        within = (left_squares - index * left_mean**2) + (
            (squares - left_squares) - right * right_mean**2
        )
        scale = math.sqrt(max(within, 0.0) / (count - 2) * (1 / index + 1 / right))
        difference = abs(right_mean - left_mean)
        if scale <= tiny:
            statistic = math.inf if difference > tiny else 0.0
        else:
            statistic = difference / scale
        if statistic > best[1]:
            best = (index, statistic)
    return best


def _seed(values: Sequence[float]) -> int:
    """A seed from the data: the same series always gets the same p-value."""
    text = ",".join(f"{value:.12g}" for value in values)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def best_split(
    values: Sequence[float], *, min_side: int = MIN_SIDE, permutations: int = PERMUTATIONS
) -> Split | None:
    """The split maximising the two-sample statistic, with its permutation p-value.

    None when the series is shorter than two sides of ``min_side``.
    """
    if min_side < 2:
        raise ValueError(f"min_side must be at least 2, not {min_side}")
    if len(values) < 2 * min_side:
        return None
    index, observed = _best(values, min_side)
    generator = random.Random(_seed(values))
    shuffled = list(values)
    as_large = 0
    for _ in range(permutations):
        generator.shuffle(shuffled)
        if _best(shuffled, min_side)[1] >= observed:
            as_large += 1
    return Split(
        index,
        observed,
        (as_large + 1) / (permutations + 1),
        statistics.fmean(values[:index]),
        statistics.fmean(values[index:]),
    )


@dataclass(frozen=True)
class ScalingChange:
    """A significant step beyond the threshold in one test's speedup over a history."""

    nodeid: str
    commit: str  # the first run after the change; "" when that run has no git commit
    run: int  # its index in the runs given
    before: float  # geometric mean speedup of the runs before
    after: float  # and of the runs from the change on
    change: float  # relative change of speedup per worker, after / before - 1
    p_value: float


def short_commit(commit: str) -> str:
    """The 7-character id people type (``git log --oneline``)."""
    return commit[:7]


def commit_of(run: Results) -> str:
    return str((run.git or {}).get("commit") or "")


def scaling_change(
    runs: Sequence[Results],
    nodeid: str,
    fail_on: FailOn = NOT_SAID,
    *,
    confidence: float = 0.95,
    min_side: int = MIN_SIDE,
) -> ScalingChange | None:
    """The change point of ``nodeid`` over ``runs`` (oldest first), or None.

    Runs without the test, or on another kind of engine than its latest run
    (regression.engine_mismatch), are left out. The threshold is the test's own
    (its latest record's marker) over ``fail_on``, as every verdict takes it.
    """
    found: list[tuple[int, Record]] = [
        (position, run.records[nodeid])
        for position, run in enumerate(runs)
        if nodeid in run.records
    ]
    if not found:
        return None
    latest = found[-1][1]
    # a speedup of 0 (a failed measurement) has no logarithm and no place in a trend
    found = [
        (position, record)
        for position, record in found
        if engine_mismatch(record, latest) is None
        and record.speedup.estimate > 0
        and record.speedup_per_worker > 0
    ]
    values = [math.log(record.speedup_per_worker) for _, record in found]
    split = best_split(values, min_side=min_side)
    if split is None or split.p_value >= 1 - confidence:
        return None
    change = math.expm1(split.after - split.before)
    threshold = effective_fail_on(latest.fail_on, fail_on).speedup
    assert threshold is not None  # effective_fail_on sets every field
    if abs(change) <= threshold:
        return None
    position = found[split.index][0]

    def geometric(records: Sequence[tuple[int, Record]]) -> float:
        return math.exp(statistics.fmean(math.log(r.speedup.estimate) for _, r in records))

    return ScalingChange(
        nodeid,
        commit_of(runs[position]),
        position,
        geometric(found[: split.index]),
        geometric(found[split.index :]),
        change,
        split.p_value,
    )
