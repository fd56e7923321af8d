"""``parscale ci``: the logic of the GitHub Action (action.yml stays a thin shell).

Three steps, each a subcommand so the composite action and the tests run the same code:

- ``plan``: where the baseline lives in the Actions cache for this event (cache keys);
- ``run``: run the tests (or take a results file), compare with the restored
  baseline, write the job summary, the step outputs and the gating exit code;
- ``comment``: put the report in one pull-request comment, updated in place.

Everything GitHub-specific comes from the runner's environment (``GITHUB_*``,
``RUNNER_*``) or the event file, read here through a mapping so tests fake it.
The HTTP call of ``comment`` is injectable: tests never reach the network.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_parscale.diffreport import machine_warning, md, render_markdown, show_markdown
from pytest_parscale.errors import BaselineError
from pytest_parscale.regression import Status, compare_results
from pytest_parscale.storage import Results, load
from pytest_parscale.thresholds import DEFAULT_FAIL_ON, NOT_SAID, FailOn, effective_fail_on

PASS, REGRESSION, NO_BASELINE, ERROR = "pass", "regression", "no-baseline", "error"
COMMENT_LIMIT = 65_000  # GitHub refuses comment bodies above 65,536 characters
CACHE_PREFIX = "pytest-parscale-v1"


# -- the event -------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """What the action needs to know about the workflow run that started it."""

    name: str
    branch: str | None  # whose baseline to compare with: the PR's base, or the pushed branch
    pull_request: int | None
    head_sha: str | None
    from_fork: bool
    repository: str
    api_url: str

    @property
    def stores_baseline(self) -> bool:
        """Runs on a branch (push, schedule, manual) refresh that branch's baseline.

        Pull requests never do: their cache is scoped to the PR, useless to anyone
        else, and a PR must not be able to replace the reference it is judged by.
        """
        return self.pull_request is None and self.branch is not None


def read_event(environ: Mapping[str, str]) -> Event:
    """The event from the runner's environment and its event file (GITHUB_EVENT_PATH)."""
    name = environ.get("GITHUB_EVENT_NAME", "")
    payload: dict[str, Any] = {}
    path = environ.get("GITHUB_EVENT_PATH")
    if path and Path(path).is_file():
        loaded = json.loads(Path(path).read_text(encoding="utf-8"))
        payload = loaded if isinstance(loaded, dict) else {}
    repository = environ.get("GITHUB_REPOSITORY", "")
    api_url = environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    pull = payload.get("pull_request")
    if name.startswith("pull_request") and isinstance(pull, dict):
        head_repo = (pull.get("head") or {}).get("repo") or {}
        return Event(
            name=name,
            branch=environ.get("GITHUB_BASE_REF") or (pull.get("base") or {}).get("ref"),
            pull_request=int(pull["number"]),
            head_sha=(pull.get("head") or {}).get("sha"),
            from_fork=head_repo.get("full_name") not in (None, repository),
            repository=repository,
            api_url=api_url,
        )
    ref = environ.get("GITHUB_REF", "")
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    return Event(
        name=name,
        branch=branch,
        pull_request=None,
        head_sha=environ.get("GITHUB_SHA"),
        from_fork=False,
        repository=repository,
        api_url=api_url,
    )


# -- plan: where the baseline lives -------------------------------------------------


def _key_part(text: str) -> str:
    """Cache keys may not contain commas; keep them readable otherwise."""
    return re.sub(r"[,\s]+", "_", text)


def cache_keys(event: Event, baseline_key: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The Actions cache keys of the baseline.

    Caches are immutable, so each refresh saves under a new key ending in the run
    id; restoring by the branch prefix picks the newest. A pull request can read
    caches of its base branch and of the default branch, never another PR's.
    """
    branch = event.branch or "no-branch"
    prefix = "-".join(
        _key_part(part)
        for part in (CACHE_PREFIX, environ.get("RUNNER_OS", "os"), baseline_key, branch)
    )
    run = f"{environ.get('GITHUB_RUN_ID', '0')}-{environ.get('GITHUB_RUN_ATTEMPT', '1')}"
    return {"restore-prefix": prefix + "-", "save-key": f"{prefix}-{run}"}


def work_dir(environ: Mapping[str, str]) -> Path:
    """Where the action keeps its files: the runner's temp folder, outside the checkout."""
    return (Path(environ.get("RUNNER_TEMP") or ".") / "pytest-parscale").resolve()


def plan(baseline_key: str, environ: Mapping[str, str]) -> dict[str, str]:
    event = read_event(environ)
    root = work_dir(environ)
    return {
        "baseline-dir": str(root / "baseline"),
        "out-dir": str(root / "out"),
        "branch": event.branch or "",
        **cache_keys(event, baseline_key, environ),
    }


# -- GitHub's files: outputs and summary --------------------------------------------


def write_outputs(outputs: Mapping[str, str], environ: Mapping[str, str]) -> None:
    """Append ``name=value`` lines to $GITHUB_OUTPUT (printed when run outside Actions)."""
    lines = []
    for name, value in outputs.items():
        if "\n" in value:
            raise ValueError(f"output {name} must be one line")
        lines.append(f"{name}={value}\n")
    target = environ.get("GITHUB_OUTPUT")
    if target:
        with open(target, "a", encoding="utf-8") as stream:
            stream.writelines(lines)
    else:
        sys.stdout.writelines(lines)


def append_summary(markdown: str, environ: Mapping[str, str]) -> None:
    target = environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as stream:
            stream.write(markdown)


def annotate(level: str, message: str) -> None:
    """A workflow command: shows in the run's annotations as well as the log."""
    print(f"::{level}::{message.replace('%', '%25').replace(chr(10), '%0A')}")


# -- run: measure, compare, report ---------------------------------------------------


@dataclass(frozen=True)
class RunOptions:
    pytest_args: str = ""
    results_file: str | None = None  # take this results file instead of running pytest
    baseline_dir: Path = Path("baseline")
    out_dir: Path = Path("out")
    fail_on: FailOn = DEFAULT_FAIL_ON
    comment_on_pr: bool = False
    save_baseline: str = "auto"  # auto | true | false
    python: str = sys.executable


@dataclass(frozen=True)
class Outcome:
    verdict: str
    regressions: int
    report: str
    exit_code: int
    outputs: dict[str, str]


RESULTS_NAME = "results.json"


def run_pytest(options: RunOptions, results: Path) -> int:
    """The user's tests with pytest-parscale writing every measurement to ``results``."""
    command = [options.python, "-m", "pytest", *shlex.split(options.pytest_args)]
    command.append(f"--parscale-json={results}")
    print("+ " + shlex.join(command), flush=True)
    return subprocess.run(command, check=False).returncode


def _baseline(path: Path) -> tuple[Results | None, str | None]:
    """The restored baseline, or why there is none usable (a bad file is not fatal)."""
    if not path.is_file():
        return None, None
    try:
        return load(path), None
    except BaselineError as error:
        return None, str(error)


def run(options: RunOptions, environ: Mapping[str, str]) -> Outcome:
    """Everything after the cache restore; never raises for a missing or bad baseline."""
    event = read_event(environ)
    out_dir = options.out_dir.resolve()  # outputs are read by later steps in other folders
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / RESULTS_NAME
    report_path = out_dir / "report.md"
    pytest_code = 0
    results_path.unlink(missing_ok=True)  # never judge a stale file of an earlier run
    if options.results_file:
        if Path(options.results_file).is_file():
            shutil.copyfile(options.results_file, results_path)
        else:
            results_path = Path(options.results_file)  # load() below names what is wrong
    else:
        pytest_code = run_pytest(options, results_path)
    # a failed pytest run may have measured only part of the suite: keep the old baseline
    passed = pytest_code in (0, 5)  # 5: nothing collected, reported below as no measurement
    stores = passed and _stores(options, event)
    baseline_path = options.baseline_dir / RESULTS_NAME
    base, base_problem = _baseline(baseline_path)
    lines: list[str] = []
    head: Results | None = None
    try:
        head = load(results_path)
        if not head.records:
            raise BaselineError(
                results_path, "has no measurement: do the pytest-args select tests using parscale?"
            )
    except BaselineError as error:
        head, verdict, regressions = None, ERROR, 0
        lines += [
            "### :x: pytest-parscale: no results to judge",
            "",
            f"{md(error)}."
            + ("" if options.results_file else f" pytest exited with code {pytest_code}."),
        ]
    if head is not None and base is None:
        verdict, regressions = NO_BASELINE, 0
        branch = f"branch {md(event.branch)}" if event.branch else "this run"
        lines += [
            f"### :information_source: pytest-parscale: no baseline for {branch} yet",
            "",
            "Nothing to compare with, so this run passes. "
            + (
                "These results are stored as the baseline."
                if stores
                else "A push to the base branch (or a run of the baseline workflow) stores one."
            ),
        ]
        if base_problem:
            lines += ["", f"> :warning: the cached baseline was unusable: {md(base_problem)}"]
        lines += ["", show_markdown(head).rstrip("\n")]
    elif head is not None and base is not None:
        changes = compare_results(base.records, head.records, options.fail_on)
        regressions = sum(1 for test in changes if test.status is Status.REGRESSION)
        verdict = REGRESSION if regressions else PASS
        verdict_heading, rest = render_markdown(changes, base, head, options.fail_on).split("\n", 1)
        lines.append(verdict_heading)  # the verdict stays the first line
        if event.branch:
            lines += ["", f"Compared with the latest results of branch {md(event.branch)}."]
        lines.append(rest.rstrip("\n"))
        warning = machine_warning(base, head)
        if warning:
            annotate("warning", f"pytest-parscale: {warning}")
    if not passed:
        lines += ["", f"> :x: pytest exited with code {pytest_code}: failing tests fail this job."]
    stored = head is not None and verdict != ERROR and stores
    if stored:
        options.baseline_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(results_path, baseline_path)
        if verdict != NO_BASELINE:
            lines += ["", "These results replace the baseline of this branch."]
    comment = options.comment_on_pr and event.pull_request is not None
    if comment and event.from_fork:
        comment = False
        lines += [
            "",
            "_No pull-request comment: the token of a fork's pull request cannot write. "
            "Use the workflow_run pattern of the pytest-parscale docs._",
        ]
    report = "\n".join(lines) + "\n"
    report_path.write_text(report, encoding="utf-8")
    if event.pull_request is not None:
        pull = {"number": event.pull_request, "head_sha": event.head_sha}
        (out_dir / "pull-request.json").write_text(json.dumps(pull) + "\n")
    append_summary(report, environ)
    gate = 1 if verdict in (REGRESSION, ERROR) or not passed else 0
    outputs = {
        "verdict": verdict,
        "regressions": str(regressions),
        "report-path": str(report_path),
        "results-path": str(results_path) if head is not None else "",
        "save-baseline": "true" if stored else "false",
        "comment": "true" if comment else "false",
        "pytest-exit-code": str(pytest_code),
    }
    write_outputs(outputs, environ)
    return Outcome(verdict, regressions, report, gate, outputs)


def _stores(options: RunOptions, event: Event) -> bool:
    if options.save_baseline == "auto":
        return event.stores_baseline
    return options.save_baseline == "true"


# -- comment: one pull-request comment, updated in place ------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    body: Mapping[str, Any] | None = None


Transport = Callable[[Request, str], Any]
"""Sends a request with a token and returns the decoded JSON (raises HTTPError)."""


def urllib_transport(request: Request, token: str) -> Any:
    """The real GitHub REST call; the only place that touches the network."""
    data = json.dumps(request.body).encode() if request.body is not None else None
    http = urllib.request.Request(request.url, data=data, method=request.method)
    http.add_header("Accept", "application/vnd.github+json")
    http.add_header("X-GitHub-Api-Version", "2022-11-28")
    http.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        http.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(http, timeout=30) as response:
        return json.loads(response.read() or b"null")


def marker(key: str) -> str:
    """The hidden line that finds our comment again; one per baseline key (matrix job)."""
    return f"<!-- pytest-parscale:{re.sub(r'[^A-Za-z0-9._]+', '_', key)} -->"


def comment_body(report: str, key: str) -> str:
    if len(report) > COMMENT_LIMIT:
        cut = report[:COMMENT_LIMIT].rsplit("\n", 1)[0]
        report = cut + "\n\n_Report truncated; the full report is in the job summary._\n"
    return f"{marker(key)}\n{report}"


def upsert_comment(
    *,
    repository: str,
    number: int,
    body: str,
    key: str,
    token: str,
    api_url: str = "https://api.github.com",
    expect_head_sha: str | None = None,
    send: Transport = urllib_transport,
) -> str:
    """Create or update the one comment carrying ``marker(key)``; returns what it did.

    ``expect_head_sha`` guards the workflow_run pattern: the PR number comes from an
    artifact the PR's own code produced, so the comment goes only to the pull
    request whose head really is the commit that was tested.
    """
    repo_url = f"{api_url.rstrip('/')}/repos/{repository}"
    if expect_head_sha is not None:
        pull = send(Request("GET", f"{repo_url}/pulls/{number}"), token)
        if (pull.get("head") or {}).get("sha") != expect_head_sha:
            raise ValueError(
                f"pull request {number} is not at commit {expect_head_sha}; not commenting"
            )
    tag = marker(key)
    page = 1
    while True:
        listed = send(
            Request("GET", f"{repo_url}/issues/{number}/comments?per_page=100&page={page}"), token
        )
        for existing in listed:
            if str(existing.get("body", "")).startswith(tag):
                url = f"{repo_url}/issues/comments/{existing['id']}"
                send(Request("PATCH", url, {"body": body}), token)
                return f"updated comment {existing['id']}"
        if len(listed) < 100:
            break
        page += 1
    created = send(Request("POST", f"{repo_url}/issues/{number}/comments", {"body": body}), token)
    return f"created comment {created.get('id')}"


def read_pull_request_number(path: Path) -> int:
    """The number in an artifact's pull-request.json; anything but a plain int is refused."""
    number = json.loads(path.read_text(encoding="utf-8")).get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        raise BaselineError(path, f"has no pull-request number (found {number!r})")
    return number


def comment(
    report_path: str,
    key: str,
    environ: Mapping[str, str],
    *,
    number: int | None = None,
    expect_head_sha: str | None = None,
    repository: str | None = None,
    send: Transport = urllib_transport,
) -> int:
    """The ``comment`` step: a refused write (a fork's read-only token) warns, never fails."""
    event = read_event(environ)
    number = number if number is not None else event.pull_request
    if number is None:
        annotate("notice", "pytest-parscale: not a pull request; no comment")
        return 0
    token = environ.get("GITHUB_TOKEN", "")
    if not token:
        annotate("warning", "pytest-parscale: no github-token; no pull-request comment")
        return 0
    body = comment_body(Path(report_path).read_text(encoding="utf-8"), key)
    try:
        done = upsert_comment(
            repository=repository or event.repository,
            number=number,
            body=body,
            key=key,
            token=token,
            api_url=event.api_url,
            expect_head_sha=expect_head_sha,
            send=send,
        )
    except ValueError as error:  # the PR moved on: the run of its new head will comment
        annotate("notice", f"pytest-parscale: {error}")
        return 0
    except urllib.error.HTTPError as error:
        annotate(
            "warning",
            f"pytest-parscale: could not comment on pull request {number}: HTTP {error.code} "
            "(a fork's token is read-only: see the workflow_run pattern in the docs)",
        )
        return 0
    print(f"pytest-parscale: {done} on pull request {number}")
    return 0


# -- the subcommand's arguments ------------------------------------------------------


def add_parser(commands: Any, fail_on_type: Callable[[str], FailOn]) -> None:
    """``parscale ci plan|run|comment``, registered by cli.py."""

    def fail_on(text: str) -> FailOn:  # the action passes its input as is, maybe empty
        return fail_on_type(text) if text.strip() else NOT_SAID

    ci = commands.add_parser("ci", help="the GitHub Action's steps (see docs/github-action.md)")
    steps = ci.add_subparsers(dest="ci_step", required=True, metavar="STEP")
    plan_parser = steps.add_parser("plan", help="cache keys and folders of the baseline")
    plan_parser.add_argument("--baseline-key", default="default")
    run_parser = steps.add_parser(
        "run", help="run the tests, compare with the baseline, write summary and outputs"
    )
    run_parser.add_argument("--pytest-args", default="")
    run_parser.add_argument("--results-file", default="", help="use it instead of running pytest")
    run_parser.add_argument("--baseline-dir", required=True)
    run_parser.add_argument("--out-dir", required=True)
    run_parser.add_argument("--fail-on", type=fail_on, default=NOT_SAID, metavar="SPEC")
    run_parser.add_argument("--comment-on-pr", choices=("true", "false"), default="false")
    run_parser.add_argument("--save-baseline", choices=("auto", "true", "false"), default="auto")
    comment_parser = steps.add_parser(
        "comment", help="create or update the pull-request comment (token in GITHUB_TOKEN)"
    )
    comment_parser.add_argument("--report", required=True, help="Markdown file to post")
    comment_parser.add_argument("--baseline-key", default="default")
    which = comment_parser.add_mutually_exclusive_group()
    which.add_argument("--pr-number", type=int, default=None)
    which.add_argument(
        "--pr-file", default=None, help="pull-request.json written by 'ci run' (workflow_run)"
    )
    comment_parser.add_argument("--expect-head-sha", default=None)
    comment_parser.add_argument("--repository", default=None, help="owner/name")


def main(
    arguments: Any, environ: Mapping[str, str] | None = None, send: Transport = urllib_transport
) -> int:
    env = os.environ if environ is None else environ
    if arguments.ci_step == "plan":
        write_outputs(plan(arguments.baseline_key, env), env)
        return 0
    if arguments.ci_step == "run":
        options = RunOptions(
            pytest_args=arguments.pytest_args,
            results_file=arguments.results_file or None,
            baseline_dir=Path(arguments.baseline_dir),
            out_dir=Path(arguments.out_dir),
            fail_on=effective_fail_on(None, arguments.fail_on),
            comment_on_pr=arguments.comment_on_pr == "true",
            save_baseline=arguments.save_baseline,
        )
        outcome = run(options, env)
        print(outcome.report)
        return outcome.exit_code
    number = arguments.pr_number
    if arguments.pr_file:
        number = read_pull_request_number(Path(arguments.pr_file))
    return comment(
        arguments.report,
        arguments.baseline_key,
        env,
        number=number,
        expect_head_sha=arguments.expect_head_sha,
        repository=arguments.repository,
        send=send,
    )
