"""``parscale show``: one results file as text or Markdown, and how to name a run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_parscale import fmt
from pytest_parscale.markdown import cell, code, md, md_table, plain
from pytest_parscale.report import table
from pytest_parscale.sizes import format_size

if TYPE_CHECKING:
    from pytest_parscale.results import Record
    from pytest_parscale.storage import Results


def share_text(record: Record | None) -> str:
    """A record's transport share, ``-`` where it has none (or there is no record)."""
    share = record.transport_share if record is not None else None
    return fmt.clipped_fraction(share.estimate) if share is not None else "-"


def size_text(record: Record) -> str:
    """A record's item size, ``-`` where the test gave none."""
    return format_size(record.item_size) if record.item_size is not None else "-"


def run_label(results: Results) -> str:
    """Which run a results file holds: commit, usable cores and when."""
    git = results.git
    commit = f"{git['commit'][:10]}{' dirty' if git['dirty'] else ''}" if git else "no git"
    return f"{commit}, {results.machine['usable_cores']} usable cores, {results.created}"


def show_text(results: Results) -> str:
    """One results file for a terminal: where it ran, then the usual speedup table."""
    lines = [
        f"{plain(results.path)}: schema v{results.schema_version}, {plain(run_label(results))}"
    ]
    machine = results.machine
    described = (
        f"{machine.get('cpu_model', '-')}, Python {machine.get('python', '-')}, "
        f"start method {machine.get('start_method', '-')}"
    )
    lines.append(f"machine: {plain(described)}")
    records = list(results.records.values())
    if records:
        lines += ["", *(plain(line) for line in table(records))]
    else:
        lines.append("no measured tests")
    return "\n".join(lines)


def show_markdown(results: Results) -> str:
    """One results file as a GitHub table (the Action's summary without a baseline)."""
    header = [
        "test",
        "backend",
        "workers",
        "size",
        "speedup",
        "efficiency",
        "transport share",
        "verdict",
    ]
    records = list(results.records.values())
    capacity = any(record.capacity is not None for record in records)
    rows = [
        [
            code(record.nodeid, table=True),
            cell(record.backend),
            str(record.workers),
            cell(size_text(record)),
            cell(fmt.speedup_interval(record.speedup)),
            cell(fmt.clipped_fraction(record.efficiency)),
            cell(share_text(record)),
            cell(record.verdict),
            *([cell(fmt.capacity(record.capacity))] if capacity else []),
        ]
        for record in records
    ]
    if capacity:
        header.append("capacity")
    lines = [f"### pytest-parscale results: {md(results.path)}", "", md(run_label(results)), ""]
    return "\n".join(lines + md_table(header, rows)) + "\n"
