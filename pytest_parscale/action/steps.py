"""The ``run`` and ``comment`` steps: load, judge, store and write; one comment.

REST calls live in github.py behind an injectable transport: tests never reach the
network.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pytest_parscale.action.baseline import Baseline, Head, load_baseline, load_head, store
from pytest_parscale.action.decision import Judgement, NoResults, RunVerdict
from pytest_parscale.action.event import Event, append_summary, read_event
from pytest_parscale.action.github import (
    Transport,
    annotate,
    comment_body,
    upsert_comment,
    urllib_transport,
)
from pytest_parscale.action.judge import confirmer, judge
from pytest_parscale.action.options import RunOptions, environment_changes
from pytest_parscale.action.summary import rebuilt_report, run_report, write
from pytest_parscale.errors import BaselineError
from pytest_parscale.exitcodes import ExitCode
from pytest_parscale.storage import load


@dataclass(frozen=True)
class RunResult:
    """What the ``run`` step decided and wrote: its verdict, report and exit code."""

    verdict: RunVerdict
    regressions: int
    report: str
    exit_code: ExitCode
    outputs: dict[str, str]


def run(options: RunOptions, environ: Mapping[str, str]) -> RunResult:
    """Everything after the cache restore; never raises for a missing or bad baseline."""
    event = read_event(environ)
    out_dir = options.out_dir.resolve()  # outputs are read by later steps in other folders
    out_dir.mkdir(parents=True, exist_ok=True)
    head = load_head(options, out_dir)
    baseline = load_baseline(options.baseline_dir, options.baseline_source)
    # a failed pytest run may have measured only part of the suite: keep the old baseline
    passed = head.pytest_code in (0, 5)  # 5: nothing collected, reported as no measurement
    stored = head.results is not None and passed and _stores(options, event)
    judged = _judge_head(head, baseline, options, event, stored)
    if stored:
        store(head, options.baseline_dir, event, environ, options.history_size)
    comment = options.comment_on_pr and event.pull_request is not None
    fork = comment and event.from_fork  # a fork's token cannot write
    report = run_report(judged, head.pytest_code, stored, fork)
    outputs = {
        "verdict": judged.verdict.value,
        "regressions": str(judged.regressions),
        "results-path": str(head.path) if head.results is not None else "",
        "save-baseline": "true" if stored else "false",
        "comment": "true" if comment and not fork else "false",
        "pytest-exit-code": str(head.pytest_code),
        # the branch's kept runs were the baseline (history.py), wherever they came from
        "baseline-source": "history" if judged.history_runs else baseline.source,
        "baseline-commit": baseline.commit,
        "baseline-age": "" if baseline.age is None else str(baseline.age),
        "accepted": "true" if judged.accepted else "false",
        "verdict-source": judged.source,
    }
    outputs["report-path"] = str(write(report, out_dir, event, outputs, environ))
    code = ExitCode.REGRESSION if judged.gate or not passed else ExitCode.OK
    return RunResult(judged.verdict, judged.regressions, report, code, outputs)


def _judge_head(
    head: Head, baseline: Baseline, options: RunOptions, event: Event, stores: bool
) -> Judgement:
    """The run's verdict; no results is an error, and differing environments warn."""
    if head.results is None:
        problem = NoResults(
            head.problem or "no results", head.pytest_code, bool(options.results_file)
        )
        return Judgement(RunVerdict.ERROR, 0, True, [], "none", no_results=problem)
    confirm = confirmer(options, event, options.out_dir.resolve() / "confirm")
    judged = judge(head.results, baseline, options, event.branch, stores, confirm)
    if baseline.results is not None:
        changed = environment_changes(baseline.results.machine, head.results.machine)
        if changed:
            annotate("warning", "pytest-parscale: different environments: " + "; ".join(changed))
    return judged


def _stores(options: RunOptions, event: Event) -> bool:
    if options.save_baseline == "auto":
        return event.stores_baseline
    return options.save_baseline == "true"


def rebuild_report(
    results_path: Path,
    options: RunOptions,
    branch: str | None,
    environ: Mapping[str, str],
    environment: str = "",
) -> str:
    """The report of a finished run, judged here from its results and our own baseline.

    The trusted workflow_run job uses this: the artifact's results.json is data the
    pull request's code produced, so it is loaded and validated like any results
    file, and the verdict and every line of Markdown are made here, never copied
    from the artifact's report.md. The baseline was restored by this job's own
    environment key and the pull request's base branch (``ci plan``), named here.
    """
    head = load(results_path)
    if not head.records:
        raise BaselineError(results_path, "has no measurement")
    baseline = load_baseline(options.baseline_dir, options.baseline_source)
    judged = judge(head, baseline, options, branch, stores=False)
    report = rebuilt_report(judged, branch, environment)
    append_summary(report, environ)
    return report


def comment(
    report: str,
    key: str,
    environ: Mapping[str, str],
    *,
    number: int | None = None,
    expect_head_sha: str | None = None,
    repository: str | None = None,
    author: str = "",
    send: Transport = urllib_transport,
) -> int:
    """The ``comment`` step: a refused write (a fork's read-only token) warns, never fails."""
    event = read_event(environ)
    number = number if number is not None else event.pull_request
    if number is None:
        annotate("notice", "pytest-parscale: not a pull request; no comment")
        return ExitCode.OK
    token = environ.get("GITHUB_TOKEN", "")
    if not token:
        annotate("warning", "pytest-parscale: no github-token; no pull-request comment")
        return ExitCode.OK
    body = comment_body(report, key)
    try:
        done = upsert_comment(
            repository=repository or event.repository,
            number=number,
            body=body,
            key=key,
            token=token,
            api_url=event.api_url,
            expect_head_sha=expect_head_sha,
            author=author,
            send=send,
        )
    except ValueError as error:  # the PR moved on: the run of its new head will comment
        annotate("notice", f"pytest-parscale: {error}")
        return ExitCode.OK
    except urllib.error.HTTPError as error:
        annotate(
            "warning",
            f"pytest-parscale: could not comment on pull request {number}: HTTP {error.code} "
            "(a fork's token is read-only: see the workflow_run pattern in the docs)",
        )
        return ExitCode.OK
    print(f"pytest-parscale: {done} on pull request {number}")
    return ExitCode.OK
