"""``parscale show``: one results file as text or Markdown, and how to name a run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_parscale.columns import TEST, cells, columns
from pytest_parscale.markdown import cell, code, md, md_table, plain
from pytest_parscale.report import table

if TYPE_CHECKING:
    from pytest_parscale.storage import Results


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
    """One results file as a GitHub table (the Action's summary without a baseline), with
    the terminal table's columns (columns.py): the test id as code, the rest as text."""
    records = list(results.records.values())
    chosen = columns(records)
    rows = [
        [
            code(text, table=True) if column is TEST else cell(text)
            for column, text in zip(chosen, cells(chosen, record), strict=True)
        ]
        for record in records
    ]
    header = [cell(column.header) for column in chosen]
    right = [not column.words for column in chosen]
    lines = [f"### pytest-parscale results: {md(results.path)}", "", md(run_label(results)), ""]
    return "\n".join(lines + md_table(header, rows, right=right)) + "\n"
