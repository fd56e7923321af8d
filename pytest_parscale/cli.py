"""The ``parscale`` command: compare two results files, or show one.

Exit codes gate CI: 0 no regression, 1 a regression, 2 bad usage or a bad file
(argparse's own usage errors are 2 as well).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Sequence
from typing import Any

from pytest_parscale import argtypes
from pytest_parscale.action import command as ci
from pytest_parscale.diffjson import family_json, render_json
from pytest_parscale.diffreport import (
    family_lines,
    markdown_heading,
    markdown_sections,
    render_text,
)
from pytest_parscale.errors import BaselineError
from pytest_parscale.exitcodes import ExitCode
from pytest_parscale.family import DEFAULT_RULE, RULES, Family, apply_family
from pytest_parscale.history import judge_for, judged_against, pools
from pytest_parscale.markdown import md, plain
from pytest_parscale.notewords import note_text
from pytest_parscale.paired import command as paired
from pytest_parscale.regression import Status, TestChange, compare_results
from pytest_parscale.show import show_markdown, show_text
from pytest_parscale.storage import Results, load
from pytest_parscale.thresholds import (
    DEFAULT_FAIL_ON,
    NOT_SAID,
    FailOn,
    effective_fail_on,
)

FORMATS = ("table", "markdown", "json")
# argparse formats help lines with %: the thresholds' own % must be doubled
DEFAULT_FAIL_ON_HELP = str(DEFAULT_FAIL_ON).replace("%", "%%")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="parscale",
        description="Compare and show pytest-parscale results files (--parscale-save).",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_compare(commands)
    report = commands.add_parser(
        "report", help="write a self-contained HTML report (tables, fits, plots)"
    )
    report.add_argument("results", metavar="RESULTS", nargs="?", help="results file")
    report.add_argument(
        "--history",
        metavar="PATH",
        help="instead of RESULTS: per-test trend plots over a history (*.jsonl) or the "
        "Action's history/ folder, with the commit where a test's scaling changed",
    )
    report.add_argument(
        "--fail-on",
        type=argtypes.fail_on,
        default=NOT_SAID,
        metavar="SPEC",
        help=f"with --history: the step a change point must exceed, default {DEFAULT_FAIL_ON_HELP} "
        "(a test's own marker value wins)",
    )
    report.add_argument("--html", metavar="DIR", required=True, help="folder for index.html")
    show = commands.add_parser("show", help="print one results file")
    show.add_argument("results", metavar="RESULTS", help="results file")
    show.add_argument("--format", choices=FORMATS, default="table")
    ci.add_parser(commands)
    paired.add_parser(commands, FORMATS)
    return top


def _add_compare(commands: Any) -> None:
    compare = commands.add_parser(
        "compare",
        help="compare HEAD against BASE; exit 1 on a regression",
        description="Compare HEAD against the baseline BASE. A test regressed when the "
        "interval of its change lies wholly beyond the threshold, over the run's family "
        "of tests (--family). Exit 0: no regression, 1: a regression (or a test that "
        "errored on one side), 2: bad usage or file.",
    )
    compare.add_argument(
        "base", metavar="BASE", help="baseline results file, or a history (*.jsonl)"
    )
    compare.add_argument("head", metavar="HEAD", help="results file of the run to judge")
    compare.add_argument("--format", choices=FORMATS, default="table")
    compare.add_argument(
        "--fail-on",
        type=argtypes.fail_on,
        default=NOT_SAID,
        metavar="SPEC",
        help=f"thresholds, default {DEFAULT_FAIL_ON_HELP} (a test's own marker value wins)",
    )
    compare.add_argument(
        "--confidence", type=argtypes.fraction, default=0.95, help="of the intervals (default 0.95)"
    )
    compare.add_argument(
        "--family",
        choices=RULES,
        default=DEFAULT_RULE,
        help="error control over the compared tests: holm (any false alarm in the run, "
        "default), bh (false-discovery rate), none (each test alone)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    # `parscale paired BASE [HEAD] -- PYTEST_ARGS`: pytest's arguments are not ours
    cut = words.index("--") if "paired" in words[:1] and "--" in words else len(words)
    arguments = parser().parse_args(words[:cut])
    try:
        if arguments.command == "paired":
            return _paired(arguments, words[cut + 1 :])
        if arguments.command == "show":
            return _show(arguments)
        if arguments.command == "report":
            return _report(arguments)
        if arguments.command == "ci":
            return ci.main(arguments)
        return _compare(arguments)
    except BaselineError as error:
        print(f"parscale: error: {error}", file=sys.stderr)
        return ExitCode.USAGE


def render(
    fmt: str,
    changes: list[TestChange],
    base: Results,
    head: Results,
    fail_on: FailOn,
    mode: str,
    judged: str,
    family: Family | None = None,
    confidence: float = 0.95,
    paired: dict[str, float] | None = None,
) -> str:
    """The compare report in ``fmt``, saying what the verdict was judged against.

    ``mode`` is ``single``, ``history`` or ``paired`` (docs/paired.md); the Action's
    summary reads it from the JSON. ``family`` says how the run's tests were judged
    together (family.py); ``paired`` (pairs run, seconds taken) goes into the JSON.
    """
    lines = family_lines(family, confidence) if family is not None else []
    if fmt == "json":
        data = {**render_json(changes, base, head, fail_on), "mode": mode, "judged_against": judged}
        if family is not None:
            data["family"] = family_json(family)
        if paired is not None:
            data["paired"] = paired
        return json.dumps(data, indent=2, allow_nan=False)
    if fmt == "markdown":
        parts = [markdown_heading(changes), *markdown_sections(changes, base, head, fail_on)]
        for line in lines:
            parts += ["", f"_{md(line)}_"]
        return "\n".join([*parts, "", f"_Judged against {md(judged)}._"])
    parts = [render_text(changes, base, head, fail_on)]
    if lines:
        parts += ["", *map(plain, lines)]
    return "\n".join([*parts, "", f"judged against {plain(judged)}"])


def _paired(arguments: argparse.Namespace, pytest_args: Sequence[str]) -> int:
    """Both sides measured here and now; reported exactly as ``compare`` reports."""
    return paired.main(arguments, pytest_args, functools.partial(render, arguments.format))


def _report(arguments: argparse.Namespace) -> int:
    if (arguments.results is None) == (arguments.history is None):
        print("parscale report: error: give RESULTS or --history PATH, not both", file=sys.stderr)
        return ExitCode.USAGE
    if arguments.history is not None:
        from pytest_parscale.history import load_runs
        from pytest_parscale.html import write_trend_report

        runs = load_runs(arguments.history)  # each file validated, named on any problem
        page = write_trend_report(runs, arguments.html, arguments.fail_on)
        print(f"HTML trend report: {page}")
        return ExitCode.OK
    results = load(arguments.results)  # validates, naming the file on any problem
    if results.runs:
        raise BaselineError(
            results.path, "is a history of runs; `parscale report` takes one results file"
        )
    from pytest_parscale.html import write_html_report

    page = write_html_report(results, arguments.html)
    print(f"HTML report: {page}")
    return ExitCode.OK


def _show(arguments: argparse.Namespace) -> int:
    results = load(arguments.results)
    if arguments.format == "json":
        data = {
            "path": results.path,
            "schema_version": results.schema_version,
            "created": results.created,
            "git": results.git,
            "machine": results.machine,
            "results": [record.to_dict() for record in results.records.values()],
        }
        print(json.dumps(data, indent=2, allow_nan=False))
    elif arguments.format == "markdown":
        sys.stdout.write(show_markdown(results))
    else:
        print(show_text(results))
    return ExitCode.OK


def _compare(arguments: argparse.Namespace) -> int:
    base, head = load(arguments.base), load(arguments.head)
    fail_on = effective_fail_on(None, arguments.fail_on)
    compared = compare_results(
        base.records,
        head.records,
        fail_on,
        confidence=arguments.confidence,
        judge=judge_for(base, confidence=arguments.confidence, pooled=pools(arguments.family)),
        base_errors=base.errors,
        head_errors=head.errors,
    )
    changes, family = apply_family(compared, arguments.family, arguments.confidence)
    mode = "history" if base.runs else "single"
    report = render(
        arguments.format,
        changes,
        base,
        head,
        fail_on,
        mode,
        note_text(judged_against(base)),
        family,
        arguments.confidence,
    )
    print(report)
    failed = any(test.status in (Status.REGRESSION, Status.ERROR) for test in changes)
    return ExitCode.REGRESSION if failed else ExitCode.OK
