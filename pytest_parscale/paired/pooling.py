"""Pooling one side's sessions and judging the change: pure, tested on synthetic results.

The interval comes from a session-level (cluster) bootstrap, so the noise between
sessions counts (docs/paired.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_parscale.regression import (
    Sessions,
    Status,
    TestChange,
    compare_records,
    compare_results,
)
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
    every = all(capacity.per_round for capacity in known)
    return Capacity(
        cores=median(rounds) if every else median([capacity.cores for capacity in known]),
        low=min(capacity.low for capacity in known),
        usable=known[0].usable,
        rounds_rejected=sum(capacity.rounds_rejected for capacity in known),
        quiet_wait_seconds=sum(capacity.quiet_wait_seconds for capacity in known),
        per_round=tuple(rounds) if every else (),
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


def compare_pooled(
    base: Pooled, head: Pooled, fail_on: FailOn, *, confidence: float = 0.95
) -> list[TestChange]:
    """Every test's change, its interval from a session-level (cluster) bootstrap."""

    def judge(before: Record | None, after: Record | None, thresholds: FailOn) -> TestChange:
        either = after if after is not None else before
        nodeid = either.nodeid if either is not None else ""
        split: tuple[Sessions | None, Sessions | None] = (
            base.sessions.get(nodeid),
            head.sessions.get(nodeid),
        )
        # both sides shared the machine, alternating: a capacity gap is the code's own
        return compare_records(
            before,
            after,
            thresholds,
            confidence=confidence,
            sessions=split,
            excuse_capacity=False,
        )

    return compare_results(
        base.results.records, head.results.records, fail_on, confidence=confidence, judge=judge
    )


def undecided(changes: Sequence[TestChange]) -> list[str]:
    """Tests whose change is beyond the threshold but not yet significant."""
    return [test.nodeid for test in changes if test.status is Status.UNCERTAIN]
