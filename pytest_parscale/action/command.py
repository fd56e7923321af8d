"""``parscale ci STEP``: the arguments of each step and main, which dispatches them.

Each step of action.yml and comment/action.yml is one subcommand (see the
package's docstring), so the composite actions and the tests run the same code.
"""

from __future__ import annotations

import os
import urllib.error
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pytest_parscale import argtypes
from pytest_parscale.action.acceptance import acceptance
from pytest_parscale.action.baseline import fetch
from pytest_parscale.action.event import Event, read_event, write_outputs
from pytest_parscale.action.github import (
    ACCEPT_LABEL,
    ACK_PREFIX,
    Acceptance,
    Transport,
    annotate,
    pull_base,
    read_pull_request_number,
    urllib_transport,
)
from pytest_parscale.action.options import MISSING_POLICIES, SOURCES, RunOptions, plan
from pytest_parscale.action.steps import comment, rebuild_report, run
from pytest_parscale.errors import BaselineError
from pytest_parscale.exitcodes import ExitCode
from pytest_parscale.family import DEFAULT_RULE, RULES
from pytest_parscale.storage import load
from pytest_parscale.thresholds import NOT_SAID, FailOn, effective_fail_on


def add_parser(commands: Any) -> None:
    """``parscale ci plan|accept|fetch|run|comment``, registered by cli.py."""

    def fail_on(text: str) -> FailOn:  # the action passes its input as is, maybe empty
        return argtypes.fail_on(text) if text.strip() else NOT_SAID

    ci = commands.add_parser("ci", help="the GitHub Action's steps (see docs/github-action.md)")
    steps = ci.add_subparsers(dest="ci_step", required=True, metavar="STEP")
    plan_parser = steps.add_parser("plan", help="cache keys and folders of the baseline")
    plan_parser.add_argument("--baseline-key", default="default")
    plan_parser.add_argument(
        "--environment-from", default="", help="a results file whose machine names the environment"
    )
    plan_parser.add_argument(
        "--pr-file",
        default="",
        help="pull-request.json of a gate's run: plan for that pull request's base branch",
    )
    plan_parser.add_argument("--expect-head-sha", default="", help="the commit the gate tested")
    steps.add_parser(
        "accept", help=f"the {ACCEPT_LABEL} label and {ACK_PREFIX} comments of the pull request"
    )
    fetch_parser = steps.add_parser(
        "fetch", help="the newest baseline artifact of the branch, when the cache missed"
    )
    fetch_parser.add_argument("--baseline-key", default="default")
    fetch_parser.add_argument("--baseline-dir", required=True)
    fetch_parser.add_argument(
        "--workflow",
        default="",
        help="file of the workflow that stores baselines (empty: the running one)",
    )
    fetch_parser.add_argument("--branch", default="", help="whose baseline (empty: the event's)")
    _add_run(steps, fail_on)
    _add_comment(steps, fail_on)


def _judging(parser: Any, fail_on: Callable[[str], FailOn], *, required: bool = True) -> None:
    """The arguments of judging against a baseline: ``run`` and ``comment --results``."""
    parser.add_argument("--baseline-dir", required=required, default="")
    parser.add_argument("--fail-on", type=fail_on, default=NOT_SAID, metavar="SPEC")
    parser.add_argument(
        "--family",
        choices=("", *RULES),
        default="",
        help=f"error control over the run's tests (empty: {DEFAULT_RULE})",
    )
    parser.add_argument("--on-missing-baseline", choices=MISSING_POLICIES, default="warn")
    parser.add_argument(
        "--baseline-source", default="", help="cache key the baseline was restored from"
    )
    parser.add_argument("--fetched", choices=("", *SOURCES), default="")
    parser.add_argument(
        "--baseline-history",
        choices=("first-run", "evicted", "unknown", "restored", ""),
        default="",
    )


def _add_run(steps: Any, fail_on: Callable[[str], FailOn]) -> None:
    run_parser = steps.add_parser(
        "run", help="run the tests, compare with the baseline, write summary and outputs"
    )
    run_parser.add_argument("--pytest-args", default="")
    run_parser.add_argument("--results-file", default="", help="use it instead of running pytest")
    run_parser.add_argument("--out-dir", required=True)
    run_parser.add_argument(
        "--python",
        default="",
        help="the Python that runs the tests (empty: this one); the action's own steps run apart",
    )
    run_parser.add_argument("--comment-on-pr", choices=("true", "false"), default="false")
    run_parser.add_argument("--save-baseline", choices=("auto", "true", "false"), default="auto")
    run_parser.add_argument(
        "--acceptance", default="", help="JSON written by 'ci accept': the label and acks"
    )
    run_parser.add_argument(
        "--history-size",
        type=argtypes.whole_number(0, "history-size"),
        default=20,
        help="last runs kept for the trend",
    )
    run_parser.add_argument(
        "--confirm",
        type=argtypes.true_false("confirm"),
        default=True,
        help="decide a pull request's flagged and unresolved tests by a paired run (true|false)",
    )
    run_parser.add_argument(
        "--confirm-budget",
        type=argtypes.seconds("confirm-budget", empty=600.0),
        default=600.0,
        metavar="SECONDS",
        help="seconds the paired confirmation may add sessions for (parscale paired --budget)",
    )
    _judging(run_parser, fail_on)


def _add_comment(steps: Any, fail_on: Callable[[str], FailOn]) -> None:
    comment_parser = steps.add_parser(
        "comment", help="create or update the pull-request comment (token in GITHUB_TOKEN)"
    )
    what = comment_parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--report", help="Markdown file to post (the gate's own job only)")
    what.add_argument(
        "--results", help="results.json of the run to judge again here (the workflow_run job)"
    )
    comment_parser.add_argument("--baseline-key", default="default")
    which = comment_parser.add_mutually_exclusive_group()
    which.add_argument("--pr-number", type=int, default=None)
    which.add_argument(
        "--pr-file", default=None, help="pull-request.json written by 'ci run' (workflow_run)"
    )
    comment_parser.add_argument("--expect-head-sha", default=None)
    comment_parser.add_argument("--repository", default=None, help="owner/name")
    comment_parser.add_argument(
        "--branch", default="", help="the baseline's branch, as 'ci plan' said (--results)"
    )
    comment_parser.add_argument(
        "--environment", default="", help="the environment key 'ci plan' restored by (--results)"
    )
    comment_parser.add_argument(
        "--comment-author",
        default="",
        help="the login the token comments as (a GitHub App's bot); empty: asked of GET /user",
    )
    _judging(comment_parser, fail_on, required=False)  # posting --report judges nothing


def _judging_options(arguments: Any, **extra: Any) -> RunOptions:
    """The judging half of RunOptions, shared by ``run`` and ``comment --results``."""
    source = "cache" if arguments.baseline_source else arguments.fetched or "none"
    return RunOptions(
        baseline_dir=Path(arguments.baseline_dir),
        fail_on=effective_fail_on(None, arguments.fail_on),
        family=arguments.family or DEFAULT_RULE,
        on_missing_baseline=arguments.on_missing_baseline,
        baseline_source=source,
        baseline_history=arguments.baseline_history or "unknown",
        **extra,
    )


def _acceptance(event: Event, environ: Mapping[str, str], send: Transport) -> Acceptance:
    """The gate's own acceptance check, for the commit it tests.

    A pull request: its head commit and labels from the payload. A merge queue: the
    acceptance given on its pull request's head (the queue holds that head).
    """
    if event.pull_request is not None:
        return acceptance(
            event.repository,
            event.pull_request,
            environ,
            send,
            head_sha=event.head_sha,
            labels=event.labels,
        )
    if event.queued_pull_request is not None:
        return acceptance(event.repository, event.queued_pull_request, environ, send)
    return Acceptance()


def _base_branch(arguments: Any, environ: Mapping[str, str], send: Transport) -> str:
    """The base branch of the gate's pull request, asked of GitHub (empty: the event's)."""
    number = read_pull_request_number(Path(arguments.pr_file))
    try:
        return pull_base(
            read_event(environ).repository, number, arguments.expect_head_sha, environ, send
        )
    except (urllib.error.URLError, OSError, ValueError) as error:
        annotate("warning", f"pytest-parscale: the pull request's base branch is unknown: {error}")
        return ""


def main(
    arguments: Any, environ: Mapping[str, str] | None = None, send: Transport = urllib_transport
) -> int:
    env = os.environ if environ is None else environ
    if arguments.ci_step == "plan":
        machine = None
        if arguments.environment_from:
            machine = load(Path(arguments.environment_from)).machine
        branch = _base_branch(arguments, env, send) if arguments.pr_file else ""
        write_outputs(plan(arguments.baseline_key, env, machine, branch), env)
        return ExitCode.OK
    if arguments.ci_step == "accept":
        write_outputs({"acceptance": _acceptance(read_event(env), env, send).to_json()}, env)
        return ExitCode.OK
    if arguments.ci_step == "fetch":
        return fetch(
            arguments.baseline_key,
            Path(arguments.baseline_dir),
            env,
            send,
            arguments.workflow,
            arguments.branch,
        )
    if arguments.ci_step == "run":
        return _run(arguments, env)
    return _comment(arguments, env, send)


def _run(arguments: Any, env: Mapping[str, str]) -> int:
    options = _judging_options(
        arguments,
        pytest_args=arguments.pytest_args,
        results_file=arguments.results_file or None,
        out_dir=Path(arguments.out_dir),
        comment_on_pr=arguments.comment_on_pr == "true",
        save_baseline=arguments.save_baseline,
        history_size=arguments.history_size,
        confirm=arguments.confirm,
        confirm_budget=arguments.confirm_budget,
        acceptance=Acceptance.from_json(arguments.acceptance),
        **({"python": arguments.python} if arguments.python else {}),
    )
    result = run(options, env)
    print(result.report)
    return result.exit_code


def _comment(arguments: Any, env: Mapping[str, str], send: Transport) -> int:
    """Post the gate's own report, or judge a run's results again here (workflow_run)."""
    number = arguments.pr_number
    if arguments.pr_file:
        number = read_pull_request_number(Path(arguments.pr_file))
    if arguments.results:
        if not arguments.baseline_dir:
            raise BaselineError(arguments.results, "needs --baseline-dir to be judged again")
        event = read_event(env)
        repository = arguments.repository or event.repository
        accepted = (
            acceptance(repository, number, env, send, head_sha=arguments.expect_head_sha)
            if number is not None
            else Acceptance()
        )
        options = _judging_options(arguments, acceptance=accepted)
        base = arguments.branch or event.branch
        report = rebuild_report(Path(arguments.results), options, base, env, arguments.environment)
    elif read_event(env).name == "workflow_run":
        raise BaselineError(
            arguments.report,
            "is a report made by the pull request's own run: a workflow_run job must "
            "judge --results itself, never post that Markdown",
        )
    else:
        report = Path(arguments.report).read_text(encoding="utf-8")
    return comment(
        report,
        arguments.baseline_key,
        env,
        number=number,
        expect_head_sha=arguments.expect_head_sha,
        repository=arguments.repository,
        send=send,
        author=arguments.comment_author,
    )
