"""The self-contained HTML report: tables, scaling fits and plots from a results document.

``index.html`` needs nothing from the network: CSS is inline, there is no JavaScript,
plots are embedded as PNG data URIs (the PNG and SVG files sit beside it in
``plots/``), and a Content-Security-Policy forbids anything else. Every string that
came from a user (test ids, backend names, machine fields) is HTML-escaped.
"""

from __future__ import annotations

import base64
import functools
import html
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_parscale import facts, fmt
from pytest_parscale.columns import (
    EFFICIENCY,
    SPEEDUP,
    TEST,
    VERDICT,
    WORKERS,
    Column,
    cells,
    columns,
)
from pytest_parscale.notewords import change_point_text
from pytest_parscale.record import verdict_text
from pytest_parscale.regression import Status
from pytest_parscale.report import describe_run, engine_line, projection_note, requirement_line
from pytest_parscale.scaling import (
    NoFit,
    SizeSeries,
    Sweep,
    SweepAnalysis,
    analyse_records,
    group_size_series,
    group_sweeps,
    usable_cores_of,
)
from pytest_parscale.storage import load
from pytest_parscale.thresholds import NOT_SAID, FailOn
from pytest_parscale.verdicts import Verdict

if TYPE_CHECKING:
    from pytest_parscale.regression import TestChange
    from pytest_parscale.results import Record
    from pytest_parscale.storage import Results

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_VERDICT_CLASSES = {verdict.value: verdict.value for verdict in Verdict}
_PAST = {Verdict.PASS: "passed", Verdict.FAIL: "failed", Verdict.UNDECIDED: "undecided"}
_BREAK = re.compile(r"(?=\[)|(?<=[-_/,])")  # before [, after - _ / ,
_ASIDE = re.compile(r" (?=[\[(])")  # the space before a bracketed interval or raw figure
_RANK: Mapping[str, int] = defaultdict(lambda: 3, {"failed": 0, "undecided": 1, "warning": 2})
_NOTE_CLASSES = {
    "failed": "fail",
    "undecided": "undecided",
    "warning": "undecided",
    "no projection (Amdahl)": "nofit",
    "projection (Amdahl, not measured)": "projection",
}
_UNFOLDED = 6  # a note names up to this many tests in the open
# The style sheet, inlined into each page: the policy above lets the page load nothing.
_STYLE = resources.files("pytest_parscale").joinpath("report.css").read_text(encoding="utf-8")


def _e(value: object) -> str:
    """Escape anything for text and attribute context alike."""
    return html.escape(str(value), quote=True)


def write_html_report(
    results: Results,
    out_dir: Path | str,
    *,
    plots: bool = True,
    changes: Sequence[TestChange] | None = None,
) -> Path:
    """Write ``out_dir/index.html`` (and ``out_dir/plots/``) and return the page's path.

    ``results`` comes from ``storage.load`` or ``storage.from_document``: the one
    loader checks the schema version. ``changes`` are the tests judged against a
    baseline (``--parscale-compare``), None when there was none. Without matplotlib
    (the ``plot`` extra) the page is still written, with tables and fits, and says how
    to get the pictures.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = list(results.records.values())
    sweeps = analyse_records(records, usable_cores_of(results.machine))
    series = group_size_series(records)
    figures = _Figures(out / "plots", enabled=plots)

    body = [
        _headline(records, changes),
        _record_notes(records),
        "<h2>Results: one row per measured test</h2>",
        _results_table(records),
        "<h2>Where and when it ran</h2>",
        _facts(results),
        "<h2>Scaling with workers</h2>",
        _sweeps_section(sweeps, records, figures),
        "<h2>Speedup against item size</h2>",
        _sizes_section(series, figures),
    ]
    return _write_page(out, "pytest-parscale report", body, figures)


def _headline(records: Sequence[Record], changes: Sequence[TestChange] | None) -> str:
    """How many tests passed, failed and were undecided; regressions when compared."""
    counts = Counter(record.verdict for record in records)
    said = ", ".join(
        f'<span class="{verdict.value if counts[verdict.value] else ""}">'
        f"{counts[verdict.value]} {_PAST[verdict]}</span>"
        for verdict in Verdict
    )
    line = (
        f'<p class="headline"><strong>{_e(fmt.plural(len(records), "test"))} measured</strong>: '
        f"{said}.</p>"
    )
    if changes is None:
        compared = (
            "Not compared with a baseline: <code>--parscale-compare</code> or "
            "<code>parscale compare</code> says what regressed."
        )
    else:
        from pytest_parscale.diffreport import verdict_line

        regressed = any(test.status is Status.REGRESSION for test in changes)
        css = "fail" if regressed else "pass"
        compared = f'<span class="{css}">{_e(verdict_line(changes))}</span>'
    return f'{line}<p class="compared">{compared}</p>'


def _facts(results: Results) -> str:
    """When, which checkout, which machine and engines: labelled phrases, nothing raw."""
    found = [("created", facts.created(results.created))]
    where = facts.checkout(results.git)
    if where is not None:
        found.append(("commit", where))
    found += facts.machine_facts(results.machine)
    items = [f"<dt>{_e(label)}</dt><dd>{_e(phrase)}</dd>" for label, phrase in found]
    engines = [
        engine_line(
            str(engine.get("backend", "?")),
            int(engine.get("workers", 0)),
            float(engine.get("start_seconds", math.nan)),
            engine,
        )
        for engine in results.engines
    ]
    if engines:
        listed = "".join(f"<li>{_e(line)}</li>" for line in engines)
        items.append(f"<dt>engines</dt><dd><ul>{listed}</ul></dd>")
    return f'<dl class="facts">{"".join(items)}</dl>'


def _write_page(out: Path, title: str, sections: list[str], figures: _Figures) -> Path:
    """``out/index.html``: the title as its heading, why plots are missing (known once
    the sections drew them), then the sections."""
    body = [f"<h1>{_e(title)}</h1>"]
    if figures.missing is not None:
        body.append(f'<p class="nofit">Plots not drawn: {_e(figures.missing)}.</p>')
    body += sections
    page = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head>\n"
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def write_trend_report(
    runs: Sequence[Results],
    out_dir: Path | str,
    fail_on: FailOn = NOT_SAID,
    *,
    plots: bool = True,
) -> Path:
    """``out_dir/index.html``: per test, its speedup over the runs of a history.

    ``runs`` are oldest first (history.load_runs). Each test gets a plot of its
    speedup with the interval, the change point when changepoint.py finds one, and
    a table of the runs; without matplotlib the tables alone, and the hint.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = _Figures(out / "plots", enabled=plots)
    nodeids = list(dict.fromkeys(n for run in reversed(runs) for n in run.records))
    first, last = (runs[0], runs[-1]) if runs else (None, None)
    span = f" from {_e(first.created)} to {_e(last.created)}" if first and last else ""
    body = [
        f"<p>{fmt.plural(len(nodeids), 'test')} over {fmt.plural(len(runs), 'run')}{span}, "
        "oldest first. A change point is named when the split of a test's runs is "
        "significant and the step beyond its speedup threshold (docs/results-format.md, "
        "&quot;Change points&quot;).</p>",
    ]
    body += [_trend_section(runs, nodeid, fail_on, figures) for nodeid in nodeids]
    return _write_page(out, "pytest-parscale trend", body, figures)


def _trend_section(runs: Sequence[Results], nodeid: str, fail_on: FailOn, figures: _Figures) -> str:
    from pytest_parscale.changepoint import commit_of, scaling_change, short_commit

    present = [(i, run.records[nodeid]) for i, run in enumerate(runs) if nodeid in run.records]
    labels = [short_commit(commit_of(runs[i])) or f"run {i + 1}" for i, _ in present]
    step = scaling_change(runs, nodeid, fail_on)
    where = next((k for k, (i, _) in enumerate(present) if step and i == step.run), None)
    said = (
        f'<p class="fail">{_e(change_point_text(step))} ({step.change:+.0%} speedup per worker, '
        f"permutation p = {step.p_value:.3f}).</p>"
        if step is not None
        else "<p>No change point: no split of these runs is significant and beyond the "
        "threshold.</p>"
    )
    from pytest_parscale.plots import speedup_trend

    figure = figures.draw(
        "trend",
        f"speedup over the history: {nodeid}",
        lambda base: speedup_trend(
            fmt.short_id(nodeid),
            list(zip(labels, [record for _, record in present], strict=True)),
            None if step is None or where is None else (where, step),
            base,
        ),
    )
    chosen = [WORKERS, SPEEDUP, EFFICIENCY, VERDICT]
    rows = "".join(
        f'<tr><td>{i + 1}</td><td class="text"><code>{_e(label)}</code></td>'
        f'<td class="text">{_e(facts.created(runs[i].created))}</td>'
        f"{_cells(chosen, record)}</tr>"
        for label, (i, record) in zip(labels, present, strict=True)
    )
    table = (
        '<table class="trend"><tr><th>run</th><th class="text">commit</th>'
        f'<th class="text">created</th>{_headers(chosen)}</tr>{rows}</table>'
    )
    if figure:
        table = f"<details><summary>the runs</summary>{table}</details>"
    return f'<section class="sweep"><h3>{_e(nodeid)}</h3><div>{said}{table}</div>{figure}</section>'


def write_html_report_from_file(results_path: Path | str, out_dir: Path | str) -> Path:
    """Read a results file (``--parscale-json``) and write its HTML report."""
    return write_html_report(load(results_path), out_dir)


class _Figures:
    """Draws plots into ``folder`` and returns ``<figure>`` markup, or notes why not."""

    def __init__(self, folder: Path, *, enabled: bool) -> None:
        self.folder = folder
        self.enabled = enabled
        self.missing: str | None = None if enabled else "disabled by the caller"
        self.count = 0

    def draw(self, kind: str, alt: str, render: Callable[[Path], list[Path]]) -> str:
        if self.missing is not None:
            return ""
        from pytest_parscale.plots import PlotUnavailable

        self.count += 1
        # File names come from a counter, never from a test id.
        base = self.folder / f"{kind}-{self.count:02d}"
        try:
            paths = render(base)
        except PlotUnavailable as error:
            self.missing = str(error)
            return ""
        png = next(path for path in paths if path.suffix == ".png")
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        links = " · ".join(
            f'<a href="plots/{_e(path.name)}">{_e(path.suffix[1:].upper())}</a>' for path in paths
        )
        return (
            f'<figure><img src="data:image/png;base64,{data}" alt="{_e(alt)}">'
            f"<figcaption>{_e(alt)} ({links})</figcaption></figure>"
        )


def _breakable(text: str) -> str:
    """Escaped, with line-break chances before ``[`` and after ``-``, ``_``, ``/`` and
    ``,``: a long test id wraps between its parts, never inside a word."""
    return "<wbr>".join(_e(part) for part in _BREAK.split(text))


def _figure(text: str) -> str:
    """Escaped, wrapping only before a bracketed part: ``1.62x`` over ``[1.50, 1.75]``."""
    parts = _ASIDE.split(text)
    if len(parts) == 1:
        return _e(text)
    return " ".join(f'<span class="nobr">{_e(part)}</span>' for part in parts)


def _results_table(records: Sequence[Record]) -> str:
    """One row per measured test, in the document's order. The table scrolls inside
    itself if it must, with the test column held in place."""
    if not records:
        return "<p>No measured tests in this results file.</p>"
    chosen = columns(records)
    rows = "".join(f'<tr class="result">{_cells(chosen, record)}</tr>' for record in records)
    return (
        f'<div class="wide"><table class="results"><tr>{_headers(chosen)}</tr>{rows}</table></div>'
    )


def _headers(chosen: Sequence[Column]) -> str:
    return "".join(
        f"<th{_attribute('class', _css(column))}{_attribute('title', column.meaning)}>"
        f"{_e(column.header)}</th>"
        for column in chosen
    )


def _cells(chosen: Sequence[Column], record: Record) -> str:
    """One row's cells as columns.py defines them; what a cell leaves out on hover."""
    laid = []
    for column, text in zip(chosen, cells(chosen, record), strict=True):
        detail = column.detail(record) if column.detail is not None else ""
        detail = "" if detail == text else detail
        css = _css(column, _VERDICT_CLASSES.get(text, "") if column is VERDICT else "")
        shown = _breakable(text) if column is TEST else _figure(text)
        laid.append(f"<td{_attribute('class', css)}{_attribute('title', detail)}>{shown}</td>")
    return "".join(laid)


def _attribute(name: str, value: str) -> str:
    """`` name="value"``, or nothing for an empty value."""
    return f' {name}="{_e(value)}"' if value else ""


def _css(column: Column, extra: str = "") -> str:
    names = ["test" if column is TEST else "", "text" if column.words else "", extra]
    return " ".join(name for name in names if name)


def _record_notes(records: Sequence[Record]) -> str:
    """Why tests failed or stayed undecided, then projections (or why none): each text
    once, with the tests it applies to."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for record in records:
        for note in _notes_of(record):
            grouped.setdefault(note, []).append(record.nodeid)
    if not grouped:
        return ""
    items = []
    for (what, words), nodeids in sorted(grouped.items(), key=lambda item: _RANK[item[0][0]]):
        css = _NOTE_CLASSES.get(what, "")
        items.append(
            f'<li><span class="what {css}">{_e(what)}</span>: {_e(words)}<br>{_tests(nodeids)}</li>'
        )
    return f'<ul class="notes">{"".join(items)}</ul>'


def _notes_of(record: Record) -> list[tuple[str, str]]:
    """(what, words) for one record, the test's name left out so that tests can share."""
    where = describe_run(record)
    found = [
        (_PAST[Verdict(result.verdict)], requirement_line(record, result, where))
        for result in record.requirements
        if result.verdict != Verdict.PASS.value
    ]
    undecided = verdict_text(record, Verdict.UNDECIDED, "; ")
    found += [("warning", text) for text in record.warnings if text != undecided]
    projected = projection_note(record)
    return found + ([projected] if projected is not None else [])


def _tests(nodeids: Sequence[str]) -> str:
    """The tests a note applies to; folded away when there are many."""
    names = ", ".join(_breakable(fmt.short_id(nodeid)) for nodeid in nodeids)
    if len(nodeids) <= _UNFOLDED:
        return f'<span class="tests">{names}</span>'
    return (
        f"<details><summary>{_e(fmt.plural(len(nodeids), 'test'))}</summary>"
        f'<span class="tests">{names}</span></details>'
    )


def _sweeps_section(
    sweeps: Sequence[tuple[Sweep, SweepAnalysis]],
    records: Sequence[Record],
    figures: _Figures,
) -> str:
    single = [sweep for sweep in group_sweeps(records) if len(sweep.requested_counts) < 2]
    parts = []
    if not sweeps:
        parts.append(
            "<p>No worker sweeps in these results: a sweep needs a test measured at two or "
            "more worker counts (<code>@pytest.mark.parscale(workers=[1, 2, 4, 8])</code>).</p>"
        )
    for sweep, analysis in sweeps:
        parts.append(_sweep(sweep, analysis, figures))
    if single and sweeps:
        parts.append(
            f"<p>{len(single)} other test(s) were measured at a single worker count: "
            "no scaling fit is made for them.</p>"
        )
    return "\n".join(parts)


def _sweep(sweep: Sweep, analysis: SweepAnalysis, figures: _Figures) -> str:
    """What was measured, what could and could not be fitted, and the picture."""
    sentences = [f"<li>{_e(analysis.trend.sentence)}</li>"]
    for fit in (analysis.amdahl, analysis.usl):
        if isinstance(fit, NoFit):
            sentences.append(f'<li class="nofit">{_e(fit.reason)}</li>')
        else:
            sentences.append(f"<li>{_e(fit.describe())}</li>")
    sentences.extend(
        f'<li class="projection">{_e(projected.describe())}</li>'
        for projected in analysis.projections
    )
    if analysis.no_projection is not None:
        sentences.append(f'<li class="nofit">{_e(analysis.no_projection)}</li>')
    rows = []
    for point in analysis.points:
        requested = point.workers_requested
        note = ""
        if point.oversubscribed:
            note = '<span class="badge">oversubscribed, not fitted</span>'
        elif analysis.usable_cores is not None and point.workers > analysis.usable_cores:
            note = '<span class="badge">above usable cores, not fitted</span>'
        rows.append(
            f"<tr><td>{point.workers}</td>"
            f"<td>{requested if requested is not None else '-'}</td>"
            f"<td>{_e(fmt.interval_of(point.speedup, point.low, point.high))}</td>"
            f"<td>{_e(fmt.clipped_fraction(point.efficiency))}</td>"
            f'<td title="{_e(point.serial_fraction.reason or "")}">'
            f"{_e(point.serial_fraction.text())}</td>"
            f'<td class="text">{note}</td></tr>'
        )
    table = (
        '<table class="sweep"><tr><th>workers</th><th>asked</th><th>speedup [CI]</th>'
        '<th>efficiency</th><th>Karp-Flatt</th><th class="text"></th></tr>'
        + "".join(rows)
        + "</table>"
    )
    from pytest_parscale.plots import speedup_vs_workers

    figure = figures.draw(
        "workers",
        f"speedup against workers: {sweep.label}",
        lambda base: speedup_vs_workers(sweep, analysis, base),
    )
    cores = analysis.usable_cores
    where = f" on a machine with {cores} usable cores" if cores is not None else ""
    return (
        f'<section class="sweep"><h3>{_e(sweep.label)}</h3><div>'
        f"<p>Measured at {len(sweep.requested_counts)} worker counts{_e(where)}.</p>"
        f"{table}<ul>{''.join(sentences)}</ul></div>{figure}</section>"
    )


def _sizes_section(series: Sequence[SizeSeries], figures: _Figures) -> str:
    if not series:
        return "<p>No item-size sweeps in these results (two or more item sizes per test).</p>"
    from pytest_parscale.plots import speedup_vs_item_size

    parts = []
    for one in series:
        title = f"{one.test} · {one.workers} workers"
        crossings = "".join(
            f"<li>{_e(backend)}: {_e(found.sentence)}</li>"
            for backend, found in sorted(one.crossovers().items())
        )
        figure = figures.draw(
            "sizes",
            f"speedup against item size: {title}",
            functools.partial(speedup_vs_item_size, one),
        )
        parts.append(
            f'<section class="sweep"><h3>{_e(title)}</h3><ul>{crossings}</ul>{figure}</section>'
        )
    return "\n".join(parts)
