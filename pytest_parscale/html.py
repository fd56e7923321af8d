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
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_parscale import fmt
from pytest_parscale.report import projection
from pytest_parscale.scaling.crossover import SizeSeries, group_size_series
from pytest_parscale.scaling.fits import NoFit
from pytest_parscale.scaling.sweeps import (
    Sweep,
    SweepAnalysis,
    analyse_records,
    group_sweeps,
    usable_cores_of,
)
from pytest_parscale.sizes import format_size
from pytest_parscale.stats import Interval, median, serial_fraction
from pytest_parscale.storage import load
from pytest_parscale.thresholds import NOT_SAID, FailOn

if TYPE_CHECKING:
    from pytest_parscale.results import Record
    from pytest_parscale.storage import Results

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_VERDICT_CLASSES = {"pass": "pass", "fail": "fail", "undecided": "undecided"}
_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 76em; color: #222; }
h1, h2, h3 { line-height: 1.2; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.7em; text-align: right; }
th { background: #f3f3f3; }
td.text, th.text { text-align: left; }
td { white-space: nowrap; }
td.test { font-family: ui-monospace, monospace; white-space: normal; overflow-wrap: anywhere;
  min-width: 16em; }
.pass { color: #176f2c; } .fail { color: #b00020; font-weight: 600; }
.undecided { color: #8a5a00; }
.badge { font-size: 0.8em; background: #fde8c8; border-radius: 3px; padding: 0 0.3em; }
.nofit { color: #8a5a00; } .projection { font-style: italic; }
figure { margin: 0.5em 0 1.5em; } figure img { max-width: 100%; height: auto; }
section.sweep { border-top: 1px solid #ccc; padding-top: 0.4em; display: grid;
  grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 0 1.5em; }
section.sweep > h3 { grid-column: 1 / -1; margin-bottom: 0.2em; }
section.sweep li { margin-bottom: 0.3em; }
"""


def _e(value: object) -> str:
    """Escape anything for text and attribute context alike."""
    return html.escape(str(value), quote=True)


def write_html_report(results: Results, out_dir: Path | str, *, plots: bool = True) -> Path:
    """Write ``out_dir/index.html`` (and ``out_dir/plots/``) and return the page's path.

    ``results`` comes from ``storage.load`` or ``storage.from_document``: the one
    loader checks the schema version. Without matplotlib (the ``plot`` extra) the page
    is still written, with tables and fits, and says how to get the pictures.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = list(results.records.values())
    sweeps = analyse_records(records, usable_cores_of(results.machine))
    series = group_size_series(records)
    figures = _Figures(out / "plots", enabled=plots)

    body = [
        "<h1>pytest-parscale report</h1>",
        _overview(results, records),
        "<h2>Scaling with workers</h2>",
        _sweeps_section(sweeps, records, figures),
        "<h2>Speedup against item size</h2>",
        _sizes_section(series, figures),
        "<h2>Results: one row per measured test</h2>",
        _results_table(records),
        _record_notes(records),
    ]
    return _write_page(out, "pytest-parscale report", body, figures)


def _write_page(out: Path, title: str, body: list[str], figures: _Figures) -> Path:
    """``out/index.html``: the body, with why plots are missing under the heading."""
    if figures.missing is not None:
        body.insert(1, f'<p class="nofit">Plots not drawn: {_e(figures.missing)}.</p>')
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
        "<h1>pytest-parscale trend</h1>",
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
        f'<p class="fail">{_e(step.sentence())} ({step.change:+.0%} speedup per worker, '
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
    rows = "".join(
        f'<tr><td>{i + 1}</td><td class="text"><code>{_e(label)}</code></td>'
        f'<td class="text">{_e(runs[i].created)}</td><td>{_e(record.workers)}</td>'
        f"<td>{_e(fmt.speedup_interval(record.speedup))}</td>"
        f"<td>{_e(_efficiency(record))}</td>"
        f'<td class="text {_VERDICT_CLASSES.get(record.verdict, "")}">{_e(record.verdict)}</td>'
        "</tr>"
        for label, (i, record) in zip(labels, present, strict=True)
    )
    table = (
        '<table class="trend"><tr><th>run</th><th class="text">commit</th>'
        '<th class="text">created</th><th>workers</th><th>speedup [CI]</th>'
        '<th>efficiency</th><th class="text">verdict</th></tr>' + rows + "</table>"
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


def _overview(results: Results, records: Sequence[Record]) -> str:
    rows = [("results", str(len(records))), ("created", results.created)]
    for key, value in results.machine.items():
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        rows.append((str(key), text))
    cells = "".join(
        f'<tr><th class="text">{_e(key)}</th><td class="text">{_e(value)}</td></tr>'
        for key, value in rows
    )
    return f'<table class="machine">{cells}</table>'


def _sample_median(samples: Sequence[float]) -> str:
    return fmt.seconds(median(samples)) if samples else "-"


def _efficiency(record: Record) -> str:
    """Efficiency with its interval, clipped to [0, 100%] with the raw figures beside."""
    speedup, workers = record.speedup, record.workers
    interval = Interval(
        speedup.estimate / workers, speedup.low / workers, speedup.high / workers, 0.95
    )
    return fmt.clipped_percent(interval)


def _workers_cell(record: Record) -> str:
    text = _e(record.workers)
    if record.workers_requested != record.workers:
        text += f" of {_e(record.workers_requested)} asked"
    if record.oversubscribed:
        text += ' <span class="badge">oversubscribed</span>'
    return text


def _results_table(records: Sequence[Record]) -> str:
    """One row per measured test, in the document's order."""
    header = (
        '<tr><th class="text">test</th><th class="text">backend</th><th>workers</th>'
        "<th>item size</th><th>serial</th><th>parallel</th><th>speedup [CI]</th>"
        "<th>efficiency</th><th>Karp-Flatt</th><th>transport share</th>"
        '<th title="cores the measurement had, of the usable cores">capacity</th>'
        '<th class="text">verdict</th></tr>'
    )
    rows = []
    for record in records:
        css = _VERDICT_CLASSES.get(record.verdict, "")
        size = record.item_size
        share = record.transport_share
        fraction = serial_fraction(record.speedup.estimate, record.workers)
        rows.append(
            '<tr class="result">'
            f'<td class="text test" title="{_e(record.nodeid)}">'
            f"{_e(fmt.short_id(record.nodeid))}</td>"
            f'<td class="text">{_e(record.backend)}</td>'
            f"<td>{_workers_cell(record)}</td>"
            f"<td>{_e(format_size(size)) if size is not None else '-'}</td>"
            f"<td>{_sample_median(record.serial)}</td>"
            f"<td>{_sample_median(record.parallel)}</td>"
            f"<td>{_e(fmt.speedup_interval(record.speedup))}</td>"
            f"<td>{_e(_efficiency(record))}</td>"
            f'<td title="{_e(fraction.reason or "")}">{_e(fraction.text())}</td>'
            f"<td>{_e(fmt.clipped_percent(share)) if share is not None else '-'}</td>"
            f"<td>{_e(fmt.capacity(record.capacity))}</td>"
            f'<td class="text {css}">{_e(record.verdict)}</td></tr>'
        )
    if not rows:
        return "<p>No measured tests in this results file.</p>"
    return f'<table class="results">{header}{"".join(rows)}</table>'


def _record_notes(records: Sequence[Record]) -> str:
    """Projections (or why none), Karp-Flatt values withheld and why, warnings."""
    items = []
    for record in records:
        name = record.nodeid
        projected = projection(record)
        if projected is not None:
            items.append(f'<li class="projection">{_e(projected)}</li>')
        fraction = serial_fraction(record.speedup.estimate, record.workers)
        if record.workers >= 2 and fraction.value is None:
            items.append(
                f'<li class="nofit">{_e(name)}: no Karp-Flatt serial fraction: '
                f"{_e(fraction.reason)}</li>"
            )
        for warning in record.warnings:
            items.append(f"<li>{_e(name)}: {_e(warning)}</li>")
    return f"<ul>{''.join(items)}</ul>" if items else ""


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
