"""Is a run worse than its baseline? Pure decisions on recorded samples, no pytest.

Only ratios are compared (speedup per worker, transport share), never absolute
times, so a baseline taken on another machine still means something. The threshold
is the null: a change is a regression only when its whole interval lies beyond the
threshold, so neither noise nor a real drift within the threshold fails a test; an
interval that straddles the threshold is ``uncertain``. Each change also carries the
one-sided p-value of that test, and apply_family controls the error over all the
cases of a run (family.py, docs/measurement.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pytest_parscale.changes import Change, Note, Status, TestChange
from pytest_parscale.excuse import capacity_unknown, excuse_by_capacity
from pytest_parscale.results import Record
from pytest_parscale.stats import RESAMPLES, bootstrap_ratios, percentile_interval
from pytest_parscale.thresholds import DEFAULT_FAIL_ON, FailOn, effective_fail_on

__all__ = ["Change", "Note", "Status", "TestChange"]  # their home: changes.py

MIN_ROUNDS = 3  # fewer rounds on either side: the change is never called significant


def _bootstrap(
    base: tuple[Sequence[float], Sequence[float]],
    head: tuple[Sequence[float], Sequence[float]],
    combine: str,
    seed: int,
) -> Any:
    """Bootstrap replicates of the change between two ratios of medians, or None.

    Each run's rounds are resampled as (numerator, denominator) pairs by the one
    bootstrap in stats.py; the two runs are resampled independently (two seeds).
    Fewer than MIN_ROUNDS on either side gives None: an unbounded interval.
    """
    if min(len(base[1]), len(head[1])) < MIN_ROUNDS:
        return None
    import numpy as np

    base_ratios = bootstrap_ratios(*base, resamples=RESAMPLES, seed=seed)
    head_ratios = bootstrap_ratios(*head, resamples=RESAMPLES, seed=seed + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if combine == "relative":
            return np.where(base_ratios > 0, head_ratios / base_ratios - 1, np.inf)
        return head_ratios - base_ratios


def bootstrap_evidence(
    values: Any, confidence: float, threshold: float, worse_when_lower: bool
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(percentile interval, (p_value, p_better)) of replicate changes; unbounded for None.

    The p-value of "worse by no more than the threshold" is the share of replicates
    on the no-regression side, k / (B - 1): the percentile interval at tail ``a``
    lies wholly beyond the threshold exactly when it is <= ``a``, so one case alone
    is called by its interval and by its p-value alike.
    """
    if values is None:
        return (-math.inf, math.inf), (1.0, 1.0)
    import numpy as np

    signed = -values if worse_when_lower else values  # worse is positive
    last = max(1, len(values) - 1)
    p_value = min(1.0, float(np.count_nonzero(signed <= threshold)) / last)
    p_better = min(1.0, float(np.count_nonzero(signed >= -threshold)) / last)
    return percentile_interval(values, confidence), (p_value, p_better)


def judge_change(
    metric: str,
    base_value: float,
    head_value: float,
    change: float,
    interval: tuple[float, float],
    threshold: float,
    worse_when_lower: bool,
    p_values: tuple[float, float] = (1.0, 1.0),
    confidence: float = 0.95,
) -> Change:
    """The threshold is the null: the one rule every comparison applies.

    A regression (improvement) needs its p-value at most the per-side error
    ``(1 - confidence) / 2`` and the whole interval beyond the threshold; an interval
    that reaches past the threshold on the worse side, but not wholly, is uncertain.
    """
    low, high = min(interval[0], change), max(interval[1], change)
    alpha = (1 - confidence) / 2
    # in "worse is positive" terms: the interval's ends and the change
    worst_low, worst_high = (-high, -low) if worse_when_lower else (low, high)
    worse = -change if worse_when_lower else change
    significant = low > 0 or high < 0
    beyond = worst_low > threshold or worst_high < -threshold
    p_value, p_better = p_values
    if p_value <= alpha and worst_low > threshold and worse > threshold:
        status = Status.REGRESSION
    elif p_better <= alpha and worst_high < -threshold and worse < -threshold:
        status = Status.IMPROVEMENT
    elif worst_high > threshold:
        status = Status.UNCERTAIN
    else:
        status = Status.UNCHANGED
    return Change(
        metric,
        base_value,
        head_value,
        change,
        low,
        high,
        threshold,
        significant,
        beyond,
        status,
        p_value,
        p_better,
    )


def compare_speedup(
    base: Record,
    head: Record,
    threshold: float,
    *,
    confidence: float = 0.95,
    seed: int = 0,
) -> Change:
    """Relative change of speedup per worker (plain speedup when worker counts match)."""
    base_value, head_value = base.speedup_per_worker, head.speedup_per_worker
    change = head_value / base_value - 1
    relative = _bootstrap(
        (base.serial, base.parallel), (head.serial, head.parallel), "relative", seed
    )
    # per-worker scaling is a constant (positive) factor: it shifts the ratio, not its
    # spread, and an unbounded interval stays unbounded
    values = None if relative is None else (1 + relative) * (base.workers / head.workers) - 1
    interval, p_values = bootstrap_evidence(values, confidence, threshold, worse_when_lower=True)
    return judge_change(
        "speedup",
        base_value * base.workers,
        head_value * head.workers,
        change,
        interval,
        threshold,
        True,
        p_values,
        confidence,
    )


def compare_overhead(
    base: Record,
    head: Record,
    threshold: float,
    *,
    confidence: float = 0.95,
    seed: int = 0,
) -> Change | None:
    """Absolute change of the transport share; None when either run did not measure it."""
    base_value, head_value = base.sample_transport_share, head.sample_transport_share
    if base_value is None or head_value is None:
        return None
    change = head_value - base_value
    values = _bootstrap(
        (base.transport, base.parallel), (head.transport, head.parallel), "absolute", seed
    )
    interval, p_values = bootstrap_evidence(values, confidence, threshold, worse_when_lower=False)
    return judge_change(
        "overhead", base_value, head_value, change, interval, threshold, False, p_values, confidence
    )


def compare_records(
    base: Record | None,
    head: Record | None,
    fail_on: FailOn = DEFAULT_FAIL_ON,
    *,
    confidence: float = 0.95,
) -> TestChange:
    """Compare one test id; ``fail_on`` must be complete (no None fields)."""
    if head is None and base is None:
        raise ValueError("nothing to compare")
    if head is None:
        assert base is not None
        return TestChange(base.nodeid, Status.MISSING, base, None)
    if base is None:
        return TestChange(head.nodeid, Status.NEW, None, head)
    if fail_on.speedup is None or fail_on.overhead is None:
        raise ValueError("fail_on must give both thresholds")
    mixed = engine_difference(base, head)
    if mixed is not None:
        reason, note = mixed
        return TestChange(head.nodeid, Status.INCOMPARABLE, base, head, (), (note,), reason)
    notes = capacity_unknown(base, head)
    if base.workers != head.workers:
        notes.append(Note("workers-differ", (base.workers, head.workers, "the baseline")))
    if min(len(base.parallel), len(head.parallel)) < MIN_ROUNDS:
        notes.append(Note("few-rounds", (MIN_ROUNDS,)))
    changes = [compare_speedup(base, head, fail_on.speedup, confidence=confidence)]
    overhead = compare_overhead(base, head, fail_on.overhead, confidence=confidence)
    if overhead is not None:
        changes.append(overhead)
    status = min((change.status for change in changes), key=lambda status: status.rank)
    judged = TestChange(head.nodeid, status, base, head, tuple(changes), tuple(notes))
    return excuse_by_capacity(judged, base, fail_on.speedup)


def engine_of(record: Record) -> str:
    """``embedded``, or the address of the cluster the record was measured on."""
    return str(record.executor.get("engine", "embedded"))


def engine_mismatch(base: Record, head: Record) -> Note | None:
    """Why two runs of one test are not compared for their engines, or None."""
    found = engine_difference(base, head)
    return None if found is None else found[1]


def engine_difference(base: Record, head: Record) -> tuple[str, Note] | None:
    """(reason, note) when the runs' engines differ in kind or configuration, or None.

    ``engine``: an embedded run and a cluster (or user's) run; a cluster's workers are
    other machines or processes with their own transport, so a change of speedup
    between the two says nothing about the code. Two clusters at different addresses
    are compared: CI clusters move. ``config``: see configuration_mismatch.
    """
    before, after = engine_of(base), engine_of(head)
    if (before == "embedded") != (after == "embedded"):
        return "engine", Note("engine", (base, head))
    differs = configuration_mismatch(base, head)
    return None if not differs else ("config", Note("config", (head.backend, differs)))


# Configuration keys that are the engine's size: a different size is compared per
# worker (with a note), as the worker counts of any two runs are.
SIZE_KEYS = frozenset({"concurrency", "n_workers", "num_cpus"})


def configuration_mismatch(base: Record, head: Record) -> tuple[tuple[str, Any, Any], ...]:
    """The engine settings two runs differ in, as (key, baseline's, head's); empty when
    they match (notewords.py says why such runs are not compared).

    ``executor.config`` holds what shapes a measurement besides the worker count: a
    Celery pool type, serializer, broker and result store, Dask's threads per worker
    and whether workers are processes. A prefork and a threads pool, or JSON and
    pickle, measure different things; only keys both runs recorded are matched.
    """
    before, after = base.executor.get("config"), head.executor.get("config")
    if not isinstance(before, dict) or not isinstance(after, dict):
        return ()
    keys = sorted((set(before) & set(after)) - SIZE_KEYS)
    return tuple((key, before[key], after[key]) for key in keys if before[key] != after[key])


def worst_first(changes: Sequence[TestChange]) -> list[TestChange]:
    """Regressions first, the largest speedup loss at the top of each group."""

    def key(test: TestChange) -> tuple[int, float, str]:
        speedup = next((c.change for c in test.changes if c.metric == "speedup"), 0.0)
        return (test.status.rank, speedup, test.nodeid)

    return sorted(changes, key=key)


Judge = Callable[[Record | None, Record | None, FailOn], TestChange]


def compare_results(
    base: Mapping[str, Record],
    head: Mapping[str, Record],
    fail_on: FailOn = DEFAULT_FAIL_ON,
    *,
    confidence: float = 0.95,
    judge: Judge | None = None,
    base_errors: Mapping[str, str] | None = None,
    head_errors: Mapping[str, str] | None = None,
) -> list[TestChange]:
    """Join two runs on test id (every id of either side) and compare each pair, worst
    first.

    A head record's own ``fail_on`` (from its parscale marker) wins over ``fail_on``,
    the same precedence the plugin applies while the tests run. ``judge`` replaces
    ``compare_records`` for one pair (a history baseline, a paired run's pairs).
    ``base_errors``/``head_errors`` name the tests that failed without a record on
    that side (Results.errors): measured on the other side, they are ERROR, not
    missing or new. Plain Python: the Action's trusted comment job judges with it and
    installs no pandas.
    """

    def single(before: Record | None, after: Record | None, thresholds: FailOn) -> TestChange:
        return compare_records(before, after, thresholds, confidence=confidence)

    found = []
    for nodeid in sorted(set(base) | set(head)):
        before, after = base.get(nodeid), head.get(nodeid)
        failed = errored(before, after, base_errors or {}, head_errors or {})
        if failed is not None:
            found.append(failed)
            continue
        thresholds = effective_fail_on(after.fail_on if after is not None else None, fail_on)
        found.append((judge or single)(before, after, thresholds))
    return worst_first(found)


def errored(
    base: Record | None,
    head: Record | None,
    base_errors: Mapping[str, str],
    head_errors: Mapping[str, str],
) -> TestChange | None:
    """ERROR when one side measured the test and the other failed it without a record."""
    if base is not None and head is None and base.nodeid in head_errors:
        note = Note("error", ("head", head_errors[base.nodeid]))
        return TestChange(base.nodeid, Status.ERROR, base, None, (), (note,))
    if head is not None and base is None and head.nodeid in base_errors:
        note = Note("error", ("base", base_errors[head.nodeid]))
        return TestChange(head.nodeid, Status.ERROR, None, head, (), (note,))
    return None
