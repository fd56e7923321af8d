"""Rendering of records: failure lines and the terminal table. Renders, never decides."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pytest_parscale.sizes import format_size
from pytest_parscale.stats import median

if TYPE_CHECKING:
    from pytest_parscale.results import Record, RequirementResult
    from pytest_parscale.session import EngineStart


def seconds(value: float) -> str:
    """Human duration with three significant figures."""
    if value < 1e-3:
        return f"{value * 1e6:.3g}us"
    if value < 1:
        return f"{value * 1e3:.3g}ms"
    return f"{value:.3g}s"


def describe_run(record: Record) -> str:
    parts = [record.backend, f"{record.workers} workers"]
    if record.oversubscribed:
        parts[-1] += " (oversubscribed)"
    if record.item_size is not None:
        parts.append(f"{format_size(record.item_size)} items")
    return ", ".join(parts)


def requirement_line(record: Record, requirement: RequirementResult, where: str) -> str:
    """``speedup 0.63x [0.58, 0.69] < required 1.50x (pool, 2 workers, 10B items)``."""
    if requirement.metric == "speedup":
        interval = record.speedup
        measured = f"speedup {interval.estimate:.2f}x [{interval.low:.2f}, {interval.high:.2f}]"
        relation = {"fail": "<", "pass": ">="}.get(requirement.verdict, "undecided against")
        bar = f"required {requirement.threshold:.2f}x"
        if requirement.threshold != requirement.declared:
            bar += (
                f" (min {requirement.declared:.2f}x at {record.workers_requested} workers, "
                f"scaled to {record.workers} usable cores)"
            )
    else:
        interval = record.transport_share  # type: ignore[assignment]
        assert interval is not None
        measured = (
            f"transport share {interval.estimate:.2f} [{interval.low:.2f}, {interval.high:.2f}]"
        )
        relation = {"fail": ">", "pass": "<="}.get(requirement.verdict, "undecided against")
        bar = f"allowed {requirement.threshold:.2f}"
    return f"{measured} {relation} {bar} ({where})"


def _interval(record: Record) -> str:
    interval = record.speedup
    return f"{interval.estimate:.2f}x [{interval.low:.2f}, {interval.high:.2f}]"


def table(records: Sequence[Record]) -> list[str]:
    """The summary table, one row per measured test."""
    header = [
        "test",
        "backend",
        "workers",
        "size",
        "serial",
        "parallel",
        "speedup [CI]",
        "eff",
        "transport",
        "verdict",
    ]
    rows = [header]
    for record in records:
        workers = f"{record.workers}/{record.workers_requested}"
        if record.oversubscribed:
            workers += "!"
        share = record.transport_share
        rows.append(
            [
                record.nodeid.split("::", 1)[-1],
                record.backend,
                workers,
                format_size(record.item_size) if record.item_size is not None else "-",
                seconds(median(record.serial)),
                seconds(median(record.parallel)),
                _interval(record),
                f"{record.efficiency:.0%}",
                f"{share.estimate:.0%}" if share is not None else "-",
                record.verdict,
            ]
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = []
    for index, row in enumerate(rows):
        cells = [
            cell.ljust(width) if column < 4 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=False))
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return lines


def notes(records: Sequence[Record], starts: Sequence[EngineStart]) -> list[str]:
    """Lines under the table: projections, undecided verdicts, engine start-ups."""
    lines = []
    for record in records:
        if record.projection is not None:
            p = record.projection
            lines.append(
                f"projection (Amdahl, not measured): {record.nodeid.split('::', 1)[-1]} "
                f"~{p.speedup:.2f}x at {p.workers} workers from Karp-Flatt serial "
                f"fraction {p.serial_fraction:.3f} measured at {p.measured_workers} workers"
            )
        for warning in record.warnings:
            lines.append(f"undecided: {record.nodeid.split('::', 1)[-1]}: {warning}")
    for start in starts:
        line = (
            f"engine: {start.backend} with {start.workers} workers started once in "
            f"{seconds(start.seconds)}"
        )
        per_task = start.details.get("per_task_seconds")
        if per_task is not None:
            line += f"; {start.backend}: {per_task * 1e3:.2g} ms/task"
        lines.append(line)
    return lines
