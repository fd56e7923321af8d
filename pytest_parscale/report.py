"""Rendering of records: failure lines and the terminal table. Renders, never decides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pytest_parscale.scaling import CROSSOVER_TEXT, analyse_document
from pytest_parscale.sizes import approx_size, format_size
from pytest_parscale.stats import crossover, median

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


def ratio(value: float) -> str:
    """Speedups keep two decimals, or three significant figures below 0.1."""
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    return f"{value:.3g}" if abs(value) < 0.1 else f"{value:.2f}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def describe_run(record: Record) -> str:
    parts = [record.backend, plural(record.workers, "worker")]
    if record.oversubscribed:
        parts[-1] += " (oversubscribed)"
    if record.item_size is not None:
        parts.append(f"{format_size(record.item_size)} items")
    return ", ".join(parts)


def requirement_line(record: Record, requirement: RequirementResult, where: str) -> str:
    """``speedup 0.63x [0.58, 0.69] < required 1.50x (pool, 2 workers, 10B items)``."""
    if requirement.metric == "speedup":
        interval = record.speedup
        measured = (
            f"speedup {ratio(interval.estimate)}x [{ratio(interval.low)}, {ratio(interval.high)}]"
        )
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
    return f"{ratio(interval.estimate)}x [{ratio(interval.low)}, {ratio(interval.high)}]"


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


def test_name(record: Record) -> str:
    """The test's name without its file and parameters: ``test_checksum``."""
    return record.nodeid.split("::", 1)[-1].split("[", 1)[0]


def crossovers(records: Sequence[Record]) -> list[str]:
    """Per test and backend with three or more item sizes: where speedup crosses 1.0,
    pickled and, when ``map(share=True)`` measured it, zero-copy."""
    groups: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    for record in records:
        if record.item_size is not None:
            key = (test_name(record), record.backend, "crossover")
            groups.setdefault(key, []).append((record.item_size, record.speedup.estimate))
            zero_copy = record.executor.get("zero_copy")
            if zero_copy:
                key = (test_name(record), record.backend, "crossover with zero-copy")
                groups.setdefault(key, []).append((record.item_size, zero_copy["shared_speedup"]))
    lines = []
    for (name, backend, label), points in groups.items():
        if len({size for size, _ in points}) < 3:
            continue
        found = crossover(points)
        if isinstance(found, str):
            text = CROSSOVER_TEXT[found]
        else:
            text = f"~{approx_size(found)} per item (log-interpolated)"
        lines.append(f"{label}: {name} on {backend}: {text}")
    return lines


def serialisation(record: Record) -> str | None:
    cost = record.executor.get("serialisation")
    if not cost or record.item_size is None:
        return None
    return (
        f"serialisation: {record.nodeid.split('::', 1)[-1]}: "
        f"{cost['item_bytes']:.0f} B/item out, {cost['result_bytes']:.0f} B/result back, "
        f"{seconds(cost['seconds_per_item'])}/item to dump+load"
    )


def sweeps(document: Mapping[str, Any]) -> list[str]:
    """Per worker sweep: the Karp-Flatt trend and what could and could not be fitted."""
    lines = []
    for sweep, analysis in analyse_document(document):
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
                f"chunking: {record.nodeid.split('::', 1)[-1]}: chunksize {advice.chunksize} -> "
                f"{advice.suggested} (len // (4 * workers)) {verdict}: speedup "
                f"{ratio(advice.speedup)}x -> {ratio(advice.speedup_suggested)}x"
            )
        zero_copy = record.executor.get("zero_copy")
        if zero_copy:
            lines.append(
                f"zero-copy: {record.nodeid.split('::', 1)[-1]}: {zero_copy['method']} would "
                f"give {ratio(zero_copy['shared_speedup'])}x (pickled: "
                f"{ratio(zero_copy['pickle_speedup'])}x, {zero_copy['rounds']} rounds each)"
                + (
                    f"; transport {zero_copy['pickle_transport_share']:.0%} pickled, "
                    f"{zero_copy['shared_transport_share']:.0%} zero-copy"
                    if "shared_transport_share" in zero_copy
                    else ""
                )
            )
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
        address = start.details.get("engine", "embedded")
        if address == "embedded":
            line = (
                f"engine: {start.backend} with {plural(start.workers, 'worker')} started once "
                f"in {seconds(start.seconds)}"
            )
        else:
            nodes = start.details.get("nodes")
            kind = str(start.details.get("node_kind", "node"))
            on = f" on {plural(nodes, kind)}" if isinstance(nodes, int) else ""
            line = (
                f"engine: {start.backend} cluster at {address} with "
                f"{plural(start.workers, 'worker')}{on}, connected in {seconds(start.seconds)} "
                "(not started or stopped by pytest-parscale)"
            )
        per_task = start.details.get("per_task_seconds")
        if per_task is not None:
            line += f"; {start.backend}: {per_task * 1e3:.2g} ms/task"
        lines.append(line)
    return lines
