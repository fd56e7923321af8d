"""Rendering of baseline comparisons: failure lines, terminal, text table, Markdown.

Renders, never decides: every status comes from regression.py. The Markdown is
what a reviewer reads in a pull request, so every string a user controls (test
ids, parameters, host and CPU names) goes through ``md`` and renders as text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pytest_parscale import fmt
from pytest_parscale.columns import share_text, size_text
from pytest_parscale.markdown import cell, code, md, md_table, plain
from pytest_parscale.notewords import RULE_WORDS, note_texts
from pytest_parscale.regression import Change, Status, TestChange
from pytest_parscale.show import run_label
from pytest_parscale.thresholds import FailOn

if TYPE_CHECKING:
    from pytest_parscale.family import Family
    from pytest_parscale.results import Record
    from pytest_parscale.storage import Results

_HEADINGS = {
    Status.REGRESSION: "Regressions",
    Status.ERROR: "Failed on one side without a measurement",
    Status.INCOMPARABLE: "Not compared",
    Status.IMPROVEMENT: "Improvements",
    Status.NEW: "New tests (not in the baseline)",
    Status.MISSING: "Missing tests (in the baseline, not in this run)",
    Status.UNCERTAIN: "Not shown beyond the threshold, not ruled out",
    Status.UNCHANGED: "Unchanged",
}


# -- numbers --------------------------------------------------------------------


def change_text(change: Change) -> str:
    """``-32% [-36%, -28%]`` for speedup, ``+19pp [+15pp, +22pp]`` for transport share."""
    return fmt.signed_interval(change.change, change.low, change.high, FailOn.unit(change.metric))


def _workers(test: TestChange) -> str:
    counts = [str(r.workers) for r in (test.base, test.head) if r is not None]
    return " -> ".join(counts) if len(set(counts)) > 1 else counts[0]


def _speedup(record: Record | None) -> str:
    return fmt.speedup_interval(record.speedup) if record is not None else "-"


def _metric(test: TestChange, metric: str) -> Change | None:
    return next((change for change in test.changes if change.metric == metric), None)


def _threshold(change: Change) -> str:
    return FailOn.threshold_text(change.metric, change.threshold)


def _incomparable_heading(group: Sequence[TestChange]) -> str:
    """Say why the group was not compared: engine kinds, machine capacity, or both."""
    reasons = {test.reason for test in group}
    why = [
        text
        for reason, text in (
            ("engine", "embedded engine on one side, cluster on the other"),
            ("config", "engine configuration differs"),
            ("capacity", "machine capacity differs materially"),
        )
        if reason in reasons
    ]
    return f"Not compared: {'; '.join(why)}" if why else "Not compared"


def _capacities(test: TestChange) -> str:
    """``2.0/2 -> 1.4/2``: the capacity each side measured with."""
    sides = [fmt.capacity(record.capacity) if record else "-" for record in (test.base, test.head)]
    return " -> ".join(sides)


def _with_capacity(changes: Sequence[TestChange]) -> bool:
    """Whether any record measured its capacity: only then the reports show a column."""
    return any(
        record is not None and record.capacity is not None
        for test in changes
        for record in (test.base, test.head)
    )


def _count(changes: Sequence[TestChange], status: Status) -> int:
    return sum(1 for test in changes if test.status is status)


def verdict_line(changes: Sequence[TestChange]) -> str:
    regressions = _count(changes, Status.REGRESSION)
    counts = (
        ", ".join(
            f"{_count(changes, status)} {status.value}"
            for status in Status
            if status is not Status.REGRESSION and _count(changes, status)
        )
        or "nothing else to compare"
    )
    if not regressions and _count(changes, Status.ERROR):
        errors = _count(changes, Status.ERROR)
        failed = fmt.plural(errors, "test")
        return f"FAIL: {failed} failed on one side without a measurement ({counts})"
    if regressions:
        plural = "regression" if regressions == 1 else "regressions"
        return f"FAIL: {regressions} {plural} against the baseline ({counts})"
    busier = sum(1 for test in changes if test.reason == "capacity")
    if busier:
        return (
            f"OK: no regression against the baseline; {fmt.plural(busier, 'test')} not judged: "
            f"machine capacity differed ({counts})"
        )
    return f"OK: no regression against the baseline ({counts})"


def family_lines(family: Family, confidence: float) -> list[str]:
    """How many tests formed the run's family, and which calls its rule withdrew."""
    alpha = (1 - confidence) / 2
    promise = {
        "holm": f"any false alarm in this run at most {alpha:.1%}",
        "bh": f"false alarms at most {alpha:.1%} of the regressions called",
        "none": f"each test at {alpha:.1%} alone",
    }[family.rule]
    lines = [
        f"family: {fmt.plural(family.cases, 'test')} ({fmt.plural(family.members, 'comparison')})"
        f", {RULE_WORDS[family.rule]}: {promise}"
    ]
    lines += [
        f"family: {nodeid} {metric}: {before.value} -> {after.value} (adjusted for the family)"
        for nodeid, metric, before, after in family.changed
    ]
    if family.rule != "none" and not family.changed:
        lines.append("family: the adjustment changed no verdict")
    return lines


# -- the pytest run ---------------------------------------------------------------


def failure_message(test: TestChange, baseline_path: str) -> str:
    """Why one test failed against the baseline, with both intervals and the threshold."""
    lines = [f"regressed against baseline {baseline_path}:"]
    for change in test.changes:
        if change.status is not Status.REGRESSION:
            continue
        if change.metric == "speedup":
            assert test.base is not None
            assert test.head is not None
            lines.append(
                f"  speedup {fmt.speedup_interval(test.base.speedup)} -> "
                f"{fmt.speedup_interval(test.head.speedup)}: {change_text(change)} per worker, "
                f"beyond the {_threshold(change)} threshold"
            )
        else:
            lines.append(
                f"  transport share {fmt.clipped_fraction(change.base)} -> "
                f"{fmt.clipped_fraction(change.head)}: "
                f"{change_text(change)}, beyond the {_threshold(change)} threshold"
            )
    lines.extend(f"  note: {note}" for note in note_texts(test.notes))
    return "\n".join(lines)


def summary_lines(changes: Sequence[TestChange], baseline: Results, usable_cores: int) -> list[str]:
    """The terminal section under the speedup table when --parscale-compare is given."""
    lines = [f"baseline {baseline.path} ({run_label(baseline)})", verdict_line(changes)]
    lines += [f"warning: {warning}" for warning in incomparable_warnings(changes)]
    if int(baseline.machine["usable_cores"]) != usable_cores:
        lines.append(
            f"warning: the baseline had {baseline.machine['usable_cores']} usable cores, "
            f"this run {usable_cores}: speedups are compared per worker"
        )
    lines += [
        f"{test.status.value:<11} {plain(test.nodeid)}: {_changes_text(test)}"
        for test in changes
        if test.status is not Status.UNCHANGED
    ]
    return lines


def _changes_text(test: TestChange) -> str:
    if test.status is Status.NEW:
        return f"speedup {_speedup(test.head)} (no baseline)"
    parts = []
    for change in test.changes:
        name = "speedup" if change.metric == "speedup" else "transport share"
        parts.append(f"{name} {change.base:.2f} -> {change.head:.2f} {change_text(change)}")
    return "; ".join([*parts, *note_texts(test.notes)])


# -- parscale compare -------------------------------------------------------------


def _rows(test: TestChange, capacity: bool = False) -> list[str]:
    record = test.head or test.base
    assert record is not None
    speedup = _metric(test, "speedup")
    overhead = _metric(test, "overhead")
    share = f"{share_text(test.base)} -> {share_text(test.head)}"
    if overhead is not None:
        share += f" ({change_text(overhead)})"
    return [
        test.nodeid,
        record.backend,
        _workers(test),
        size_text(record),
        _speedup(test.base),
        _speedup(test.head),
        change_text(speedup) if speedup is not None else "-",
        share,
        *([_capacities(test)] if capacity else []),
    ]


_COLUMNS = [
    "test",
    "backend",
    "workers",
    "size",
    "speedup baseline",
    "speedup head",
    "change per worker",
    "transport share",
]


def _machine_rows(base: Results, head: Results) -> list[list[str]]:
    def row(label: str, key: str) -> list[str]:
        return [label, str(base.machine.get(key, "-")), str(head.machine.get(key, "-"))]

    def git(results: Results) -> str:
        if not results.git:
            return "-"
        return str(results.git["commit"])[:12] + (" (dirty)" if results.git["dirty"] else "")

    def load(results: Results) -> str:
        return " ".join(f"{value:.2f}" for value in results.machine.get("load_average", []))

    return [
        ["file", base.path, head.path],
        ["created", base.created, head.created],
        ["git commit", git(base), git(head)],
        row("usable cores", "usable_cores"),
        row("CPU model", "cpu_model"),
        row("Python", "python"),
        row("start method", "start_method"),
        ["load average", load(base), load(head)],
        row("host", "hostname"),
    ]


def machine_warning(base: Results, head: Results) -> str | None:
    before, after = int(base.machine["usable_cores"]), int(head.machine["usable_cores"])
    if before == after:
        return None
    return (
        f"the runs had different usable cores (baseline {before}, head {after}): "
        "speedups are compared per worker, and may still differ for reasons of scale"
    )


def _columns(capacity: bool) -> list[str]:
    return [*_COLUMNS, "capacity"] if capacity else _COLUMNS


def engine_warning(changes: Sequence[TestChange]) -> str | None:
    """One line for the verdict section when embedded and cluster runs met."""
    return _count_line(
        changes,
        "engine",
        "not compared: measured on an embedded engine on one side and "
        "on a cluster on the other (see each test's note)",
    )


def capacity_warning(changes: Sequence[TestChange]) -> str | None:
    """One line for the verdict section when the machine was materially busier or quieter.

    Neither a pass nor a fail: the reader must know these tests were not judged.
    """
    return _count_line(
        changes,
        "capacity",
        "NOT JUDGED: the machine's capacity differed materially from the "
        "baseline's (see each test's note); rerun on a quiet machine, or use parscale paired",
    )


def _count_line(changes: Sequence[TestChange], reason: str, what: str) -> str | None:
    """``N test(s) was/were <what>`` for the tests set aside for ``reason``; None for none."""
    count = sum(1 for test in changes if test.reason == reason)
    if not count:
        return None
    tests = "test was" if count == 1 else "tests were"
    return f"{count} {tests} {what}"


def incomparable_warnings(changes: Sequence[TestChange]) -> list[str]:
    """Every warning about tests that were not compared, engines first."""
    config = _count_line(
        changes, "config", "not compared: the engine's configuration differs (see each test's note)"
    )
    found = (engine_warning(changes), config, capacity_warning(changes))
    return [warning for warning in found if warning]


def render_text(
    changes: Sequence[TestChange], base: Results, head: Results, fail_on: FailOn
) -> str:
    """Plain text for a terminal: verdict, one table of every changed test, machines."""
    lines = [verdict_line(changes), f"thresholds: {fail_on}"]
    warning = machine_warning(base, head)
    if warning:
        lines.append(f"warning: {warning}")
    lines += [f"warning: {warning}" for warning in incomparable_warnings(changes)]
    shown = [test for test in changes if test.status is not Status.UNCHANGED]
    capacity = _with_capacity(changes)
    if shown:
        lines.append("")
        rows = [["status", *_columns(capacity)]]
        rows += [[test.status.value, *map(plain, _rows(test, capacity))] for test in shown]
        lines += _aligned(rows)
        lines += [
            f"note: {plain(test.nodeid)}: {plain(note)}"
            for test in shown
            if test.status in (Status.INCOMPARABLE, Status.ERROR)
            for note in note_texts(test.notes)
        ]
    lines.append("")
    lines += _aligned(
        [["", "baseline", "head"], *[[plain(c) for c in r] for r in _machine_rows(base, head)]]
    )
    return "\n".join(lines)


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _md_row(test: TestChange, capacity: bool = False) -> list[str]:
    """A table row: the test id as a code span, the rest as text."""
    nodeid, *rest = _rows(test, capacity)
    return [code(nodeid, table=True), *map(cell, rest)]


def markdown_heading(changes: Sequence[TestChange]) -> str:
    """The comparison's verdict as a Markdown heading, its mark first."""
    regressions = _count(changes, Status.REGRESSION) + _count(changes, Status.ERROR)
    mark = ":x:" if regressions else ":white_check_mark:"
    if not regressions and any(test.reason == "capacity" for test in changes):
        mark = ":warning:"  # not a pass: some tests could not be judged at all
    return f"### {mark} pytest-parscale: {md(verdict_line(changes))}"


def markdown_sections(
    changes: Sequence[TestChange],
    base: Results,
    head: Results,
    fail_on: FailOn,
    *,
    titles: Mapping[Status, str] | None = None,
    notes: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """Everything under the heading: thresholds, warnings, the tests that moved by
    status, the rest folded, then machines.

    ``titles`` replaces a group's heading (the Action's "flagged against the
    baseline"), ``notes`` adds lines under a test's own notes: the caller's words,
    laid out here, never patched into the rendered text.
    """
    lines = [
        "",
        f"Thresholds `{fail_on}` (a change's interval must lie wholly beyond them), "
        "speedups compared per worker.",
    ]
    warning = machine_warning(base, head)
    if warning:
        lines += ["", f"> :warning: {md(warning)}"]
    for warning in incomparable_warnings(changes):
        lines += ["", f"> :warning: {md(warning)}"]
    capacity = _with_capacity(changes)
    for status in _SHOWN:
        group = [test for test in changes if test.status is status]
        if group:
            title = (titles or {}).get(status) or _group_title(status, group)
            lines += ["", f"#### {title} ({len(group)})", ""]
            lines += _group_lines(group, capacity, notes or {})
    rest = [t for t in changes if t.status in (Status.UNCERTAIN, Status.UNCHANGED)]
    if rest:
        lines += ["", f"<details><summary>Unchanged or uncertain ({len(rest)})</summary>", ""]
        lines += md_table(
            ["status", *_columns(capacity)],
            [[cell(t.status.value), *_md_row(t, capacity)] for t in rest],
        )
        lines += ["", "</details>"]
    lines += ["", "#### Machines", ""]
    lines += md_table(
        ["", "baseline", "head"],
        [[cell(text) for text in row] for row in _machine_rows(base, head)],
    )
    return lines


# the groups the comment shows in full, worst first; the rest is folded
_SHOWN = (
    Status.REGRESSION,
    Status.ERROR,
    Status.INCOMPARABLE,
    Status.IMPROVEMENT,
    Status.NEW,
    Status.MISSING,
)


def _group_title(status: Status, group: Sequence[TestChange]) -> str:
    if status is Status.INCOMPARABLE:
        return _incomparable_heading(group)
    return _HEADINGS[status]


def _group_lines(
    group: Sequence[TestChange], capacity: bool, extra: Mapping[str, Sequence[str]]
) -> list[str]:
    """One group's table, then each test's notes."""
    lines = md_table(_columns(capacity), [_md_row(test, capacity) for test in group])
    notes = [
        f"- {code(test.nodeid)}: {md(note)}"
        for test in group
        for note in (*note_texts(test.notes), *extra.get(test.nodeid, ()))
    ]
    return [*lines, "", *notes] if notes else lines


def render_markdown(
    changes: Sequence[TestChange], base: Results, head: Results, fail_on: FailOn
) -> str:
    """The pull-request comment: verdict first, then the tests that moved, then machines."""
    lines = [markdown_heading(changes), *markdown_sections(changes, base, head, fail_on)]
    return "\n".join(lines) + "\n"
