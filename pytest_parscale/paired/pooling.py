"""Pooling one side's sessions, and judging the change pair by pair: pure, tested on
synthetic results.

The pooled records are what the report shows; the pairs of sessions decide
(pairwise.py, docs/paired.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pytest_parscale.paired.pairwise import compare_pairs
from pytest_parscale.regression import Note, Status, TestChange, compare_records, compare_results
from pytest_parscale.results import Capacity, Record
from pytest_parscale.stats import median, ratio_of_medians_ci
from pytest_parscale.storage import Results
from pytest_parscale.thresholds import FailOn


def pool_records(records: Sequence[Record]) -> Record:
    """One record holding every round of one test over a side's sessions, in order.

    Transport rounds are kept only when every session measured them, so the
    samples still pair up round by round with the parallel ones.
    """
    if not records:
        raise ValueError("no sessions to pool")
    first = records[0]
    serial = [value for record in records for value in record.serial]
    parallel = [value for record in records for value in record.parallel]
    every = all(record.transport for record in records)
    transport = [value for record in records for value in record.transport] if every else []
    speedup = ratio_of_medians_ci(serial, parallel)
    return dataclasses.replace(
        first,
        serial=serial,
        parallel=parallel,
        transport=transport,
        speedup=speedup,
        transport_share=ratio_of_medians_ci(transport, parallel) if transport else None,
        efficiency=speedup.estimate / first.workers,
        rounds=len(parallel),
        elapsed=sum(record.elapsed for record in records),
        warnings=sorted({warning for record in records for warning in record.warnings}),
        capacity=pool_capacity([record.capacity for record in records]),
    )


def pool_capacity(capacities: Sequence[Capacity | None]) -> Capacity | None:
    """The capacity of pooled sessions: the median over every round where each is known.

    One session without a capacity makes the pool's unknown: a figure from the
    other sessions would claim more than was measured (docs/results-format.md).
    """
    known = [capacity for capacity in capacities if capacity is not None]
    if not known or len(known) < len(capacities):
        return None
    rounds = [value for capacity in known for value in capacity.per_round]
    owns = [capacity.own for capacity in known if capacity.own is not None]
    every = all(capacity.per_round for capacity in known)
    return Capacity(
        cores=median(rounds) if every else median([capacity.cores for capacity in known]),
        low=min(capacity.low for capacity in known),
        usable=known[0].usable,
        rounds_rejected=sum(capacity.rounds_rejected for capacity in known),
        quiet_wait_seconds=sum(capacity.quiet_wait_seconds for capacity in known),
        per_round=tuple(rounds) if every else (),
        own=median(owns) if len(owns) == len(known) else None,
    )


@dataclass(frozen=True)
class Pooled:
    """A side's sessions pooled: the records, and each test's rounds per session."""

    results: Results
    sessions: dict[str, tuple[int, ...]]


def pool(runs: Sequence[Results], label: str) -> Pooled:
    """Pool one side's session results; a test's sessions of other worker counts are dropped.

    Worker counts must agree to pool rounds (the speedup of 2 and 4 workers are
    different quantities); the count of the first session wins.
    """
    if not runs:
        raise ValueError("no sessions to pool")
    by_test: dict[str, list[Record]] = {}
    for run in runs:
        for nodeid, record in run.records.items():
            by_test.setdefault(nodeid, []).append(record)
    records: dict[str, Record] = {}
    sessions: dict[str, tuple[int, ...]] = {}
    for nodeid, found in by_test.items():
        same = [record for record in found if record.workers == found[0].workers]
        records[nodeid] = pool_records(same)
        sessions[nodeid] = tuple(len(record.parallel) for record in same)
    # the first session's run metadata; runs=() as the pool is one run, not a history
    results = dataclasses.replace(runs[0], path=label, records=records, runs=())
    return Pooled(results, sessions)


def compare_paired(
    base: Sequence[Results],
    head: Sequence[Results],
    pooled: tuple[Pooled, Pooled],
    fail_on: FailOn,
    *,
    confidence: float = 0.95,
) -> list[TestChange]:
    """Every test's change, judged pair by pair (pairwise.compare_pairs), worst first.

    ``base[i]`` and ``head[i]`` are the sessions of pair ``i``; ``pooled`` pools each
    side (what the report shows). A test measured on one side that failed without a
    record in any session of the other is an error (item 7 of issue 21).
    """
    base_errors = {nodeid: text for run in base for nodeid, text in run.errors.items()}
    head_errors = {nodeid: text for run in head for nodeid, text in run.errors.items()}

    def judge(before: Record | None, after: Record | None, thresholds: FailOn) -> TestChange:
        if before is None or after is None:
            return compare_records(before, after, thresholds)  # new or missing
        nodeid = after.nodeid
        for side, errors in (("head", head_errors), ("base", base_errors)):
            if nodeid in errors:
                note = Note("error", (side, errors[nodeid]))
                return TestChange(nodeid, Status.ERROR, before, after, (), (note,))
        pairs = test_pairs(base, head, nodeid, (before.workers, after.workers))
        # both sides shared the machine, alternating: a capacity gap is the code's own,
        # so it excuses nothing (compare_pairs never weighs capacity)
        return compare_pairs(pairs, thresholds, confidence=confidence, pooled=(before, after))

    return compare_results(
        pooled[0].results.records,
        pooled[1].results.records,
        fail_on,
        confidence=confidence,
        judge=judge,
        base_errors=base_errors,
        head_errors=head_errors,
    )


def test_pairs(
    base: Sequence[Results], head: Sequence[Results], nodeid: str, workers: tuple[int, int]
) -> list[tuple[Record, Record]]:
    """The test's (base, head) records pair by pair, in run order: the pairs where
    both sessions measured it on the pooled sides' worker counts ``workers``."""
    return [
        (b.records[nodeid], h.records[nodeid])
        for b, h in zip(base, head, strict=False)
        if nodeid in b.records
        and nodeid in h.records
        and b.records[nodeid].workers == workers[0]
        and h.records[nodeid].workers == workers[1]
    ]


def judged_pairs(
    runs: Mapping[str, Sequence[Results]], test: TestChange
) -> list[tuple[Record, Record]]:
    """The pairs a compared test was judged on (test_pairs at its pooled sides' worker
    counts); none for a test not compared on both sides."""
    if test.base is None or test.head is None:
        return []
    workers = (test.base.workers, test.head.workers)
    return test_pairs(runs["base"], runs["head"], test.nodeid, workers)
