"""From samples to a complete, frozen Record: intervals, verdicts, Karp-Flatt, projection.

Pure: no pytest, no executor, no clock. The fixture measures and gathers the facts
(serialisation cost, chunk advice, the test's own thresholds) first, then builds the
record once; nothing changes it after it is handed to the session.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pytest_parscale.results import Capacity, ChunkAdvice, Projection, Record, RequirementResult
from pytest_parscale.sequential import round_ratios, sequence_interval
from pytest_parscale.stats import (
    Interval,
    amdahl_speedup,
    median,
    ratio_of_medians_ci,
    serial_fraction,
)
from pytest_parscale.verdicts import Requirement, Verdict, combine

if TYPE_CHECKING:
    from pytest_parscale.markers import MarkSpec
    from pytest_parscale.measure import Outcome, Samples
    from pytest_parscale.parametrize import ParscaleParam
    from pytest_parscale.transport import SerialisationCost


def requirements_for(param: ParscaleParam, spec: MarkSpec) -> list[Requirement]:
    """The bars this run is judged against: none at the unjudged counts of a sweep.

    A speedup bar with ``from_size`` applies from that item size on; the plan's
    scale moves the bar on an undersized machine or cluster.
    """
    found: list[Requirement] = []
    if not param.judged:
        return found
    speedup = spec.speedup
    if speedup is not None and (
        speedup.from_size is None or param.item_size is None or param.item_size >= speedup.from_size
    ):
        found.append(Requirement("speedup", speedup.min * param.plan.scale, speedup.min, True))
    if spec.overhead is not None:
        maximum = spec.overhead.max
        found.append(Requirement("overhead", maximum, maximum, False))
    return found


def intervals_of(samples: Samples, confidence: float) -> dict[str, Interval]:
    """Speedup (serial / parallel) and, with transport samples, the transport share."""
    found = {
        "speedup": ratio_of_medians_ci(samples.serial, samples.parallel, confidence=confidence)
    }
    if samples.transport:
        found["overhead"] = ratio_of_medians_ci(
            samples.transport, samples.parallel, confidence=confidence
        )
    return found


# the engine ran out of time or rounds: its last look spends the error left (sequential.py)
FINAL_STOPS = ("time budget", "max_rounds")


def verdict_intervals(
    samples: Samples, confidence: float, *, final: bool = False
) -> dict[str, Interval]:
    """The intervals the verdicts use: per-round ratios over every look so far.

    Unlike :func:`intervals_of` (the bootstrap interval a report shows), these keep
    their level however many looks the engine took (docs/measurement.md).
    """
    looks = samples.looks
    if not looks:  # samples judged once, whole: one look, which spends everything
        looks, final = [samples.rounds], True
    found = {
        "speedup": sequence_interval(
            round_ratios(samples.serial, samples.parallel), looks, confidence, final=final
        )
    }
    if samples.transport:
        found["overhead"] = sequence_interval(
            round_ratios(samples.transport, samples.parallel), looks, confidence, final=final
        )
    return found


def judge(requirement: Requirement, intervals: Mapping[str, Interval]) -> RequirementResult:
    """One bar's verdict, with the bounds of the interval that decided it."""
    interval = intervals[requirement.metric]
    return RequirementResult(
        requirement.metric,
        requirement.threshold,
        requirement.declared,
        requirement.judge(interval).value,
        interval.low if math.isfinite(interval.low) else None,
        interval.high if math.isfinite(interval.high) else None,
    )


def build_record(
    *,
    nodeid: str,
    param: ParscaleParam,
    outcome: Outcome,
    requirements: list[Requirement],
    confidence: float,
    kind: str,
    item_count: int | None,
    chunksize: int | None,
    executor: Mapping[str, Any],
    strict: bool,
    serialisation: SerialisationCost | None = None,
    chunk_advice: ChunkAdvice | None = None,
    fail_on: str | None = None,
    usable: int | None = None,
) -> Record:
    """The complete record of one measured run; its warning is :func:`ending`'s."""
    samples, plan = outcome.samples, param.plan
    intervals = intervals_of(samples, confidence)
    speedup = intervals["speedup"]
    # no fraction (and no projection) where it means nothing: below 1x, superlinear
    fraction = serial_fraction(speedup.estimate, plan.workers).value
    decisive = verdict_intervals(samples, confidence, final=outcome.stop_reason in FINAL_STOPS)
    judged = [judge(req, decisive) for req in requirements]
    record = Record(
        nodeid=nodeid,
        backend=param.backend,
        kind=kind,
        workers_requested=plan.requested,
        workers=plan.workers,
        oversubscribed=plan.oversubscribed,
        item_size=param.item_size,
        item_count=item_count,
        chunksize=chunksize,
        serial=list(samples.serial),
        parallel=list(samples.parallel),
        transport=list(samples.transport),
        speedup=speedup,
        transport_share=intervals.get("overhead"),
        efficiency=speedup.estimate / plan.workers,
        karp_flatt=fraction,
        projection=projection_of(fraction, plan.requested, plan.workers),
        requirements=judged,
        verdict=combine(Verdict(result.verdict) for result in judged).value,
        rounds=samples.rounds,
        elapsed=outcome.elapsed,
        warmup_seconds=outcome.warmup_seconds,
        stop_reason=outcome.stop_reason,
        executor=dict(executor),
        chunk_advice=chunk_advice,
        fail_on=fail_on,
        serialisation=serialisation,
        capacity=capacity_of(outcome, usable),
    )
    _, warning = ending(record, strict)
    return dataclasses.replace(record, warnings=[warning]) if warning else record


def projection_of(fraction: float | None, requested: int, workers: int) -> Projection | None:
    """Amdahl's speedup at the asked worker count, when the run had fewer workers and
    a serial fraction that means something."""
    if fraction is None or requested <= workers:
        return None
    return Projection(requested, amdahl_speedup(fraction, requested), fraction, workers)


def capacity_of(outcome: Outcome, usable: int | None) -> Capacity | None:
    """What the record keeps of the per-round capacity probe; None when nothing was read."""
    known = [value for value in outcome.samples.capacity if value is not None]
    if usable is None or not known:
        return None
    # a probe reading can exceed the usable cores by rounding of /proc/stat ticks
    per_round = tuple(min(max(value, 0.0), float(usable)) for value in known)
    own = [value for value in outcome.samples.own if value is not None]
    return Capacity(
        cores=median(per_round),
        low=min(per_round),
        usable=usable,
        rounds_rejected=len(outcome.samples.rejected),
        quiet_wait_seconds=outcome.quiet_wait_seconds,
        per_round=per_round,
        own=median(own) if own else None,
    )


def ending(record: Record, strict: bool) -> tuple[str, str]:
    """(failure, warning) of a finished run, "" where none: a failed bar fails the test;
    an undecided one is a warning, or a failure under ``strict`` (--parscale-strict).

    The one home of that rule: the record keeps the warning, the fixture acts on both.
    """
    failed = verdict_text(record, Verdict.FAIL, "\n")
    if failed:
        return failed, ""
    undecided = verdict_text(record, Verdict.UNDECIDED, "; ")
    if undecided and strict:
        return f"undecided under --parscale-strict: {undecided}", ""
    return "", undecided


def verdict_text(record: Record, verdict: Verdict, separator: str) -> str:
    """The record's requirements with ``verdict``, one failure line each, or ""."""
    # The wording belongs to the report; imported here so plugin start-up skips it.
    from pytest_parscale.report import describe_run, requirement_line

    where = describe_run(record)
    return separator.join(
        requirement_line(record, result, where)
        for result in record.requirements
        if result.verdict == verdict.value
    )
