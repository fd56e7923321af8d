"""Rendering of records: failure lines and the terminal table. Renders, never decides."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pytest_parscale import fmt
from pytest_parscale.columns import cells, columns
from pytest_parscale.scaling import (
    analyse_records,
    group_size_series,
    usable_cores_of,
)
from pytest_parscale.sizes import format_size
from pytest_parscale.stats import Interval, serial_fraction

if TYPE_CHECKING:
    from pytest_parscale.backends.base import EngineStart
    from pytest_parscale.results import Record, RequirementResult

plural = fmt.plural


def describe_run(record: Record) -> str:
    parts = [record.backend, plural(record.workers, "worker")]
    if record.oversubscribed:
        parts[-1] += " (oversubscribed)"
    if record.item_size is not None:
        parts.append(f"{format_size(record.item_size)} items")
    return ", ".join(parts)


def _decisive(record: Record, requirement: RequirementResult) -> Interval | None:
    """The interval the verdict used: its per-round bounds over the looks, or, in a
    file older than them, the record's own interval."""
    shown = record.speedup if requirement.metric == "speedup" else record.transport_share
    if shown is None or (requirement.low is None and requirement.high is None):
        return shown
    low = -math.inf if requirement.low is None else requirement.low
    high = math.inf if requirement.high is None else requirement.high
    return Interval(shown.estimate, low, high, shown.confidence)


def requirement_line(record: Record, requirement: RequirementResult, where: str) -> str:
    """``speedup 0.63x [0.58, 0.69] < required 1.50x (pool, 2 workers, 10B items)``.

    The interval is the one the verdict used (sequential.py); ``?`` where no look
    bounded it yet.
    """
    interval = _decisive(record, requirement)
    assert interval is not None
    if requirement.metric == "speedup":
        measured = f"speedup {fmt.speedup_interval(interval)}"
        relation = {"fail": "<", "pass": ">="}.get(requirement.verdict, "undecided against")
        bar = f"required {fmt.speedup(requirement.threshold)}"
        if requirement.threshold != requirement.declared:
            bar += (
                f" (min {fmt.speedup(requirement.declared)} at {record.workers_requested} workers, "
                f"scaled to {record.workers} usable cores)"
            )
    else:
        measured = (
            f"transport share {fmt.fraction(interval.estimate)} "
            f"[{fmt.fraction(interval.low)}, {fmt.fraction(interval.high)}]"
        )
        relation = {"fail": ">", "pass": "<="}.get(requirement.verdict, "undecided against")
        bar = f"allowed {fmt.fraction(requirement.threshold)}"
    return f"{measured} {relation} {bar} ({where})"


def table(records: Sequence[Record]) -> list[str]:
    """The summary table, one row per measured test (columns.py defines the columns)."""
    chosen = columns(records)
    rows = [[column.header for column in chosen], *(cells(chosen, record) for record in records)]
    widths = [max(len(row[index]) for row in rows) for index in range(len(chosen))]
    lines = []
    for number, row in enumerate(rows):
        laid = [
            cell.ljust(width) if column.words else cell.rjust(width)
            for column, cell, width in zip(chosen, row, widths, strict=True)
        ]
        lines.append("  ".join(laid).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return lines


def crossovers(records: Sequence[Record]) -> list[str]:
    """Per test, worker count and backend with two or more item sizes: the crossover,
    pickled and, when ``map(share=True)`` measured it, zero-copy.

    The same ``scaling.crossover`` backs the HTML report and the plots, so they agree.
    """
    lines = []
    for series in group_size_series(records):
        for backend, found in series.crossovers().items():
            lines.append(
                f"crossover: {series.test} on {backend} ({plural(series.workers, 'worker')}): "
                f"{found.sentence}"
            )
    return lines


def serialisation(record: Record) -> str | None:
    cost = record.serialisation
    if cost is None or record.item_size is None:
        return None
    return (
        f"serialisation: {fmt.short_id(record.nodeid)}: "
        f"{cost.item_bytes:.0f} B/item out, {cost.result_bytes:.0f} B/result back, "
        f"{fmt.seconds(cost.seconds_per_item)}/item to dump+load"
    )


def projection_note(record: Record) -> tuple[str, str] | None:
    """The Amdahl projection, or why there is none, as (what, words) without the test's
    name: the HTML report groups tests that share the words (docs/scaling.md)."""
    if record.workers_requested <= record.workers:
        return None  # ran at the count asked for: nothing to project
    fraction = serial_fraction(record.speedup.estimate, record.workers)
    p = record.projection
    if fraction.value is None or p is None:
        return (
            "no projection (Amdahl)",
            f"at {record.workers_requested} workers: no serial fraction at "
            f"{record.workers} workers, {fraction.reason}",
        )
    return (
        "projection (Amdahl, not measured)",
        f"~{fmt.speedup(p.speedup)} at {p.workers} workers from Karp-Flatt serial "
        f"fraction {fraction.value:.3f} measured at {p.measured_workers} workers",
    )


def projection(record: Record) -> str | None:
    """The Amdahl projection line, or why there is none (docs/scaling.md, honesty rules)."""
    note = projection_note(record)
    if note is None:
        return None
    what, words = note
    return f"{what}: {fmt.short_id(record.nodeid)} {words}"


def sweeps(records: Sequence[Record], machine: Mapping[str, Any]) -> list[str]:
    """Per worker sweep: the Karp-Flatt trend and what could and could not be fitted."""
    lines = []
    for sweep, analysis in analyse_records(records, usable_cores_of(machine)):
        size = f", {format_size(sweep.item_size)} items" if sweep.item_size is not None else ""
        counts = ", ".join(str(count) for count in sweep.requested_counts)
        lines.append(f"scaling: {sweep.test} on {sweep.backend}{size} (workers {counts}):")
        lines.extend(f"  {sentence}" for sentence in analysis.summary())
    return lines


def notes(records: Sequence[Record], starts: Sequence[EngineStart]) -> list[str]:
    """Lines under the table: crossovers, advice, projections, undecided, engines."""
    lines = crossovers(records)
    for record in records:
        line = serialisation(record)
        if line:
            lines.append(line)
        advice = record.chunk_advice
        if advice is not None:
            verdict = "helps" if advice.helps else "does not help"
            lines.append(
                f"chunking: {fmt.short_id(record.nodeid)}: chunksize {advice.chunksize} -> "
                f"{advice.suggested} (len // (4 * workers)) {verdict}: speedup "
                f"{fmt.speedup(advice.speedup)} -> {fmt.speedup(advice.speedup_suggested)}"
            )
        zero_copy = record.executor.get("zero_copy")
        if zero_copy:
            lines.append(
                f"zero-copy: {fmt.short_id(record.nodeid)}: {zero_copy['method']} would "
                f"give {fmt.speedup(zero_copy['shared_speedup'])} (pickled: "
                f"{fmt.speedup(zero_copy['pickle_speedup'])}, {zero_copy['rounds']} rounds each)"
                + (
                    f"; transport {fmt.clipped_fraction(zero_copy['pickle_transport_share'])} "
                    f"pickled, {fmt.clipped_fraction(zero_copy['shared_transport_share'])} "
                    "zero-copy"
                    if "shared_transport_share" in zero_copy
                    else ""
                )
            )
    for record in records:
        projected = projection(record)
        if projected is not None:
            lines.append(projected)
        for warning in record.warnings:
            lines.append(f"undecided: {fmt.short_id(record.nodeid)}: {warning}")
    lines += [
        "engine: " + engine_line(start.backend, start.workers, start.seconds, start.details)
        for start in starts
    ]
    return lines


def engine_line(backend: str, workers: int, seconds: float, details: Mapping[str, Any]) -> str:
    """How one executor was started (or reached), with its per-task cost where measured."""
    address = details.get("engine", "embedded")
    where = details.get("where")  # an engine the user's fixtures started
    if where:
        line = (
            f"{backend} on {where}, adopted in {fmt.seconds(seconds)} "
            "(not started or stopped by pytest-parscale)"
        )
    elif address == "embedded":
        line = f"{backend} with {plural(workers, 'worker')} started once in {fmt.seconds(seconds)}"
    else:
        nodes = details.get("nodes")
        kind = str(details.get("node_kind", "node"))
        on = f" on {plural(nodes, kind)}" if isinstance(nodes, int) else ""
        line = (
            f"{backend} cluster at {address} with {plural(workers, 'worker')}{on}, connected in "
            f"{fmt.seconds(seconds)} (not started or stopped by pytest-parscale)"
        )
    per_task = details.get("per_task_seconds")
    if per_task is not None:
        line += f"; {backend}: {per_task * 1e3:.2g} ms/task"
    return line
