"""A paired run judged pair by pair: the t-test of per-pair differences against the threshold.

``parscale paired`` runs the two sides in adjacent sessions, pair after pair, in
ABBA order. Whatever the machine did during a pair (a neighbour, a slow patch) hits
both of its sessions, so the difference within a pair cancels it. Each pair gives
one difference of log speedup per worker (the head's session against the base's;
for the transport share, the difference of shares), and the mean difference is
tested against the threshold with Student's t on ``pairs - 1`` degrees of freedom:
the threshold is the null, as everywhere (regression.judge_change).

The run looks on a schedule of pair counts (schedule.looks): ``look_confidence``
spends the error over those looks (sequential.look_alpha), so a clear case decides
after few pairs and the level holds at the threshold; ``within_reach`` tells the
run whether more pairs could still call a test at all. Simulated in
benchmarks/calibration_cross.py (benchmarks/CALIBRATION.md): a head at the threshold
is called in 0.8% of runs, a real 25% drop in 100%. Pure: records in, a verdict out.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from pytest_parscale.history import Band, judge_on_band
from pytest_parscale.paired.schedule import out_of_reach
from pytest_parscale.paired.spread import log_differences
from pytest_parscale.regression import Change, Note, Status, TestChange, engine_difference
from pytest_parscale.results import Record
from pytest_parscale.sequential import look_alpha
from pytest_parscale.thresholds import FailOn


def look_confidence(look: int, confidence: float, *, final: bool = False) -> float:
    """The two-sided confidence of look ``look`` (1 at the minimum sessions, then one a
    pair), so the looks together err at most ``(1 - confidence) / 2`` a side; the last
    look of a run ended by its budget or its session limit spends what is left."""
    return 1 - 2 * look_alpha(look, (1 - confidence) / 2, final=final)


def _band(differences: Sequence[float]) -> Band:
    """The mean difference and its standard error (one new pair is not predicted here:
    the question is the true mean change, not where the next pair lands)."""
    count = len(differences)
    spread = statistics.stdev(differences)
    return Band(statistics.fmean(differences), spread / math.sqrt(count), count - 1)


def _speedup(pairs: Sequence[tuple[Record, Record]], threshold: float, confidence: float) -> Change:
    band = _band(log_differences(pairs))
    base = statistics.fmean(b.sample_speedup for b, _ in pairs)
    head = statistics.fmean(h.sample_speedup for _, h in pairs)
    return judge_on_band("speedup", base, head, band, threshold, confidence)


def _shares(pairs: Sequence[tuple[Record, Record]]) -> list[tuple[float, float]] | None:
    """Each pair's (base, head) transport share, or None when a session lacks one."""
    shares = [(b.sample_transport_share, h.sample_transport_share) for b, h in pairs]
    known = [(b, h) for b, h in shares if b is not None and h is not None]
    return known if len(known) == len(pairs) else None


def _overhead(
    pairs: Sequence[tuple[Record, Record]], threshold: float, confidence: float
) -> Change | None:
    known = _shares(pairs)
    if known is None:
        return None
    band = _band([h - b for b, h in known])
    base = statistics.fmean(b for b, _ in known)
    return judge_on_band(
        "overhead", base, statistics.fmean(h for _, h in known), band, threshold, confidence
    )


def compare_pairs(
    pairs: Sequence[tuple[Record, Record]],
    fail_on: FailOn,
    *,
    confidence: float = 0.95,
    pooled: tuple[Record, Record] | None = None,
) -> TestChange:
    """One test's change over its pairs of sessions ``(base, head)``, in run order.

    ``pooled`` (each side's sessions pooled) is what the report shows as the two
    sides; the pairs decide. Fewer than 2 pairs give no spread: uncertain.
    """
    if fail_on.speedup is None or fail_on.overhead is None:
        raise ValueError("fail_on must give both thresholds")
    if not pairs:
        raise ValueError("no pairs to compare")
    base, head = pooled if pooled is not None else pairs[-1]
    mixed = engine_difference(base, head)
    if mixed is not None:
        reason, why = mixed
        return TestChange(head.nodeid, Status.INCOMPARABLE, base, head, (), (why,), reason)
    note = Note("pairs", (len(pairs),))
    if len(pairs) < 2:
        return TestChange(head.nodeid, Status.UNCERTAIN, base, head, (), (note,))
    changes = [_speedup(pairs, fail_on.speedup, confidence)]
    overhead = _overhead(pairs, fail_on.overhead, confidence)
    if overhead is not None:
        changes.append(overhead)
    status = min((change.status for change in changes), key=lambda status: status.rank)
    notes = [note]
    if base.workers != head.workers:
        notes.append(Note("workers-differ", (base.workers, head.workers, "the baseline")))
    return TestChange(head.nodeid, status, base, head, tuple(changes), tuple(notes))


def within_reach(
    pairs: Sequence[tuple[Record, Record]], fail_on: FailOn, *, max_pairs: int, level: float
) -> bool:
    """Whether more pairs, up to ``max_pairs``, could still call this test a regression
    at the one-sided ``level`` (schedule.out_of_reach), on its speedup or its
    transport share; with fewer than 2 pairs nothing is known yet, so it could."""
    if fail_on.speedup is None or fail_on.overhead is None:
        raise ValueError("fail_on must give both thresholds")
    if len(pairs) < 2:
        return True
    measured = []
    if fail_on.speedup < 1:  # a drop of 100% or more is no bar
        differences = log_differences(pairs)
        bound = math.log1p(-fail_on.speedup)
        measured.append((bound - statistics.fmean(differences), differences))
    known = _shares(pairs)
    if known is not None:
        shifts = [h - b for b, h in known]
        measured.append((statistics.fmean(shifts) - fail_on.overhead, shifts))
    return not all(
        out_of_reach(
            worse,
            statistics.stdev(values),
            len(values),
            max_pairs=max_pairs,
            level=level,
        )
        for worse, values in measured
        if math.isfinite(worse)
    )
