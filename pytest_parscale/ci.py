"""``parscale ci``: the logic of the GitHub Action (action.yml stays a thin shell).

Steps, each a subcommand so the composite actions and the tests run the same code:

- ``plan``: where the baseline lives in the Actions cache for this event (cache keys,
  keyed by the environment identity);
- ``fetch``: on a cache miss, the branch's newest baseline artifact, which also tells
  an evicted baseline from a first run;
- ``accept``: the ``parscale-accept`` label and maintainers' ``parscale-ack:`` lines;
- ``run``: load (run the tests or take a results file, restore the baseline), judge
  (by the branch's history with 3+ kept runs; a pull request's flags confirmed by a
  paired run, confirm.py), store, write (job summary, step outputs, gating exit code);
- ``comment``: one pull-request comment, the bot's own, updated in place; in the
  trusted workflow_run job it judges the artifact's results again itself.

The runner's environment (``GITHUB_*``, ``RUNNER_*``) and the event file are read
through a mapping so tests fake them; REST calls live in github.py behind an
injectable transport: tests never reach the network.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_parscale.confirm import (
    Confirmation,
    PairedRunner,
    decide,
    paired_runner,
    skipped,
)
from pytest_parscale.diffreport import render_markdown
from pytest_parscale.errors import BaselineError
from pytest_parscale.github import (
    ACCEPT_LABEL,
    ACK_PREFIX,
    Acceptance,
    Transport,
    acceptance,
    annotate,
    api_root,
    artifact_name,
    comment_body,
    fetch_baseline,
    read_pull_request_number,
    upsert_comment,
    urllib_transport,
)
from pytest_parscale.history import MIN_RUNS, WINDOW, history_files, judge_for
from pytest_parscale.markdown import code, md
from pytest_parscale.regression import Status, TestChange, compare_results
from pytest_parscale.show import show_markdown
from pytest_parscale.storage import Results, load
from pytest_parscale.thresholds import DEFAULT_FAIL_ON, NOT_SAID, FailOn, effective_fail_on
from pytest_parscale.trend import trend_markdown

PASS, REGRESSION, NO_BASELINE, ERROR = "pass", "regression", "no-baseline", "error"
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
    merge_queue: bool = False
    labels: tuple[str, ...] = ()  # the pull request's labels, from GitHub's event payload
    base_sha: str | None = None  # the commit a paired run confirms against (PR, merge queue)

    @property
    def stores_baseline(self) -> bool:
        """Runs on a branch (push, schedule, manual) refresh that branch's baseline.

        Pull requests never do: their cache is scoped to the PR, useless to anyone
        else, and a PR must not be able to replace the reference it is judged by.
        Nor does a merge-queue run: it tests a temporary branch, judged by its base.
        """
        return self.pull_request is None and self.branch is not None and not self.merge_queue


def read_event(environ: Mapping[str, str]) -> Event:
    """The event from the runner's environment and its event file (GITHUB_EVENT_PATH)."""
    name = environ.get("GITHUB_EVENT_NAME", "")
    payload: dict[str, Any] = {}
    path = environ.get("GITHUB_EVENT_PATH")
    if path and Path(path).is_file():
        loaded = json.loads(Path(path).read_text(encoding="utf-8"))
        payload = loaded if isinstance(loaded, dict) else {}
    repository = environ.get("GITHUB_REPOSITORY", "")
    api_url = api_root(environ)
    pull = payload.get("pull_request")
    group = payload.get("merge_group")
    if name == "merge_group" and isinstance(group, dict):
        # the queue's branch is gh-readonly-queue/...: judge against the branch it merges into
        base_ref = str(group.get("base_ref") or "")
        return Event(
            name=name,
            branch=base_ref.removeprefix("refs/heads/") or None,
            pull_request=None,
            head_sha=group.get("head_sha") or environ.get("GITHUB_SHA"),
            from_fork=False,
            repository=repository,
            api_url=api_url,
            merge_queue=True,
            base_sha=group.get("base_sha") or None,
        )
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
            labels=tuple(
                str(label.get("name"))
                for label in pull.get("labels") or []
                if isinstance(label, dict)
            ),
            base_sha=(pull.get("base") or {}).get("sha") or None,
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


def cache_keys(
    event: Event, baseline_key: str, environ: Mapping[str, str], env_key: str = ""
) -> dict[str, str]:
    """The Actions cache keys of the baseline.

    Caches are immutable, so each refresh saves under a new key ending in the run
    id; restoring by a prefix picks the newest. The environment identity comes
    after the branch, so a restore prefers a baseline of the same environment and
    falls back to the branch's newest of any (then warned about). A pull request
    can read caches of its base branch and of the default branch, never another PR's.
    """
    branch = event.branch or "no-branch"
    prefix = "-".join(
        _key_part(part)
        for part in (CACHE_PREFIX, environ.get("RUNNER_OS", "os"), baseline_key, branch)
    )
    run = f"{environ.get('GITHUB_RUN_ID', '0')}-{environ.get('GITHUB_RUN_ATTEMPT', '1')}"
    own = f"{prefix}-{env_key}" if env_key else prefix
    return {
        "restore-prefix": f"{own}-",
        "restore-fallback": f"{prefix}-",
        "save-key": f"{own}-{run}",
    }


def work_dir(environ: Mapping[str, str]) -> Path:
    """Where the action keeps its files: the runner's temp folder, outside the checkout."""
    return (Path(environ.get("RUNNER_TEMP") or ".") / "pytest-parscale").resolve()


def plan(
    baseline_key: str, environ: Mapping[str, str], machine: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """Folders and cache keys; ``machine`` is this runner's unless a results file says."""
    from pytest_parscale.machine import fingerprint

    event = read_event(environ)
    root = work_dir(environ)
    env = environment(fingerprint() if machine is None else machine)
    return {
        "baseline-dir": str(root / "baseline"),
        "out-dir": str(root / "out"),
        "branch": event.branch or "",
        "environment": environment_key(env),
        "artifact-name": artifact_name(baseline_key),
        **cache_keys(event, baseline_key, environ, environment_key(env)),
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


# -- environment identity: what a speedup depends on besides the code -----------------

ENVIRONMENT_PARTS = ("os", "cpu", "cores", "python")


def cpu_family(model: str) -> str:
    """The CPU model without its clock and trademark noise: one family, one key."""
    text = re.sub(r"\((?:R|TM|r|tm)\)|\bCPU\b|\bProcessor\b|@.*$", " ", model)
    text = re.sub(r"\b\d+-Core\b", " ", text)
    return " ".join(text.split()) or "unknown"


def environment(machine: Mapping[str, Any]) -> dict[str, str]:
    """The environment a results file was measured in, from its machine fingerprint."""
    python = str(machine.get("python", "?"))
    return {
        "os": str(machine.get("platform", "?")).split("-", 1)[0],
        "cpu": cpu_family(str(machine.get("cpu_model", ""))),
        "cores": str(machine.get("usable_cores", "?")),
        "python": ".".join(python.split(".")[:2]),
    }


def environment_key(env: Mapping[str, str]) -> str:
    """A short cache-key part; the CPU family is hashed (model names are long)."""
    cpu = hashlib.sha256(env["cpu"].encode()).hexdigest()[:8]
    return _key_part(f"{env['os']}-py{env['python']}-{env['cores']}c-{cpu}")


def environment_changes(
    base: Mapping[str, Any], head: Mapping[str, Any], skip: Sequence[str] = ()
) -> list[str]:
    """Every part of the environment, and the start method, that differs between runs."""
    before, after = environment(base), environment(head)
    names = {"os": "OS", "cpu": "CPU family", "cores": "usable cores", "python": "Python"}
    changed = [
        f"{names[part]} {before[part]} -> {after[part]}"
        for part in ENVIRONMENT_PARTS
        if before[part] != after[part] and part not in skip
    ]
    start_before, start_after = base.get("start_method"), head.get("start_method")
    if start_before != start_after:
        changed.append(f"start method {start_before} -> {start_after}")
    return changed


# -- run: load, judge, store, write ---------------------------------------------------


MISSING_POLICIES = ("pass", "warn", "fail")
SOURCES = ("cache", "artifact", "history", "none")


@dataclass(frozen=True)
class RunOptions:
    pytest_args: str = ""
    results_file: str | None = None  # take this results file instead of running pytest
    baseline_dir: Path = Path("baseline")
    out_dir: Path = Path("out")
    fail_on: FailOn = DEFAULT_FAIL_ON
    comment_on_pr: bool = False
    save_baseline: str = "auto"  # auto | true | false
    on_missing_baseline: str = "warn"  # pass | warn | fail
    baseline_source: str = "cache"  # where the baseline folder was filled from, if it was
    baseline_history: str = "unknown"  # first-run | evicted | unknown, when it is missing
    history_size: int = 20  # results of the branch's last runs kept beside the baseline
    confirm: bool = True  # a paired run decides a pull request's flagged and undecided tests
    confirm_budget: float = 600.0  # seconds a paired confirmation may add sessions for
    acceptance: Acceptance = field(default_factory=lambda: Acceptance())
    python: str = sys.executable


@dataclass(frozen=True)
class Outcome:
    verdict: str
    regressions: int
    report: str
    exit_code: int
    outputs: dict[str, str]


RESULTS_NAME = "results.json"
PROVENANCE_NAME = "provenance.json"
HISTORY_DIR = "history"


def run_pytest(options: RunOptions, results: Path) -> int:
    """The user's tests with pytest-parscale writing every measurement to ``results``."""
    command = [options.python, "-m", "pytest", *shlex.split(options.pytest_args)]
    command.append(f"--parscale-json={results}")
    print("+ " + shlex.join(command), flush=True)
    return subprocess.run(command, check=False).returncode


@dataclass(frozen=True)
class Baseline:
    """The restored baseline and where it came from (the action's provenance outputs)."""

    results: Results | None
    source: str  # one of SOURCES
    commit: str
    age: int | None  # seconds since it was measured
    problem: str | None = None  # why a restored file was not usable
    history: tuple[Results, ...] = ()  # the branch's last runs, oldest first, baseline last


def load_history(directory: Path) -> tuple[Results, ...]:
    """The kept results of the branch's last runs, oldest first; unreadable ones skipped."""
    runs = []
    for path in history_files(directory / HISTORY_DIR):
        try:
            runs.append(load(path))
        except BaselineError as error:
            annotate("warning", f"pytest-parscale: skipped a history file: {error}")
    return tuple(runs)


def _age(created: str, now: datetime.datetime) -> int | None:
    try:
        then = datetime.datetime.fromisoformat(created)
    except ValueError:
        return None
    if then.tzinfo is None:
        then = then.replace(tzinfo=datetime.timezone.utc)
    return max(0, int((now - then).total_seconds()))


def load_baseline(directory: Path, source: str, now: datetime.datetime | None = None) -> Baseline:
    """The baseline in ``directory``, with its commit and age; a bad file is not fatal."""
    path = directory / RESULTS_NAME
    if not path.is_file():
        return Baseline(None, "none", "", None)
    try:
        results = load(path)
    except BaselineError as error:
        return Baseline(None, "none", "", None, str(error))
    provenance: dict[str, Any] = {}
    if (directory / PROVENANCE_NAME).is_file():
        try:
            loaded = json.loads((directory / PROVENANCE_NAME).read_text(encoding="utf-8"))
            provenance = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            provenance = {}
    commit = str(provenance.get("commit") or (results.git or {}).get("commit") or "")
    created = str(provenance.get("created") or results.created)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    source = source if source in SOURCES else "cache"
    age = _age(created, now)
    return Baseline(results, source, commit, age, history=load_history(directory))


@dataclass(frozen=True)
class Head:
    """This run's results, or why there are none, and pytest's exit code."""

    results: Results | None
    path: Path
    pytest_code: int
    problem: str | None = None


def load_head(options: RunOptions, out_dir: Path) -> Head:
    """Run pytest (or take the given file) and load what it measured."""
    results_path = out_dir / RESULTS_NAME
    pytest_code = 0
    results_path.unlink(missing_ok=True)  # never judge a stale file of an earlier run
    if options.results_file:
        if Path(options.results_file).is_file():
            shutil.copyfile(options.results_file, results_path)
        else:
            results_path = Path(options.results_file)  # load() below names what is wrong
    else:
        pytest_code = run_pytest(options, results_path)
    try:
        head = load(results_path)
        if not head.records:
            raise BaselineError(
                results_path, "has no measurement: do the pytest-args select tests using parscale?"
            )
    except BaselineError as error:
        return Head(None, results_path, pytest_code, str(error))
    return Head(head, results_path, pytest_code)


@dataclass(frozen=True)
class Judgement:
    verdict: str
    regressions: int
    lines: list[str]
    gate: bool  # fails the job
    flagged: list[str]  # test ids judged regressed (before any confirmation)
    source: str = "single"  # what made the verdict: single, history, paired (or none)
    confirmation: Confirmation | None = None
    history_runs: int = 0  # runs of the branch's history judged against (0: a single baseline)
    undecided: tuple[str, ...] = ()  # test ids the baseline left uncertain or incomparable


# (flagged, undecided) -> what a paired run made of them
Confirmer = Callable[[Sequence[str], Sequence[str]], Confirmation]
VERDICT_SOURCES = ("single", "history", "paired", "none")
UNDECIDED = (Status.UNCERTAIN, Status.INCOMPARABLE)  # what a paired run is asked to decide


def confirm_regressions(
    flagged: Sequence[str], runner: PairedRunner, undecided: Sequence[str] = ()
) -> Confirmation:
    """Measure the flagged and undecided tests again, base and head alternately here.

    A flag stands only if the paired run also says regression, or if it could not
    say; an undecided test fails only if the paired run says regression
    (confirm.decide). docs/github-action.md, "Confirmation by a paired run".
    """
    return decide(flagged, runner([*flagged, *undecided]), undecided)


def confirmer(options: RunOptions, event: Event, scratch: Path) -> Confirmer | None:
    """How this run confirms its flags; None where no confirmation applies.

    Only pull requests and merge-queue runs are confirmed: they are judged against
    their base branch's baseline, and their base commit is in the event. A run on a
    branch refreshes the baseline and has no base commit to pair with.
    """
    if not options.confirm or (event.pull_request is None and not event.merge_queue):
        return None
    if options.results_file:
        why = "the results came from results-file; a paired run re-runs the tests of pytest-args"
        return lambda flagged, undecided: skipped(flagged, why, undecided)
    base_sha = event.base_sha
    if not base_sha:
        return lambda flagged, undecided: skipped(
            flagged, "the event names no base commit", undecided
        )
    runner = paired_runner(
        base_sha,
        Path.cwd(),
        options.pytest_args,
        options.fail_on,
        options.confirm_budget,
        scratch,
        options.python,
    )
    return lambda flagged, undecided: confirm_regressions(flagged, runner, undecided)


def _compare(
    base: Results, head: Results, baseline: Baseline, fail_on: FailOn
) -> tuple[list[TestChange], str]:
    """The changes, judged by the history model (history.py) when the branch kept
    enough runs, else against the single baseline; and which of the two it was."""
    if len(baseline.history) >= MIN_RUNS:
        runs = dataclasses.replace(base, runs=baseline.history)
        changes = compare_results(base.records, head.records, fail_on, judge=judge_for(runs))
        return changes, "history"
    return compare_results(base.records, head.records, fail_on), "single"


def judge(
    head: Results,
    baseline: Baseline,
    options: RunOptions,
    branch: str | None,
    stores: bool,
    confirm: Confirmer | None = None,
) -> Judgement:
    """The verdict and its Markdown, from loaded inputs only: run and comment share it.

    ``confirm`` re-measures the flagged tests and the ones the baseline left
    undecided (the gate's own run only: the trusted comment job never runs the pull
    request's code).
    """
    lines: list[str] = []
    base = baseline.results
    if base is None:
        return _judge_missing(head, baseline, options, branch, stores)
    changes, source = _compare(base, head, baseline, options.fail_on)
    model = source  # single or history: what flagged, whatever confirms
    flagged = [test.nodeid for test in changes if test.status is Status.REGRESSION]
    undecided = [test.nodeid for test in changes if test.status in UNDECIDED]
    confirmation = (
        confirm(flagged, undecided) if confirm is not None and (flagged or undecided) else None
    )
    confirmed = list(confirmation.standing) if confirmation is not None else flagged
    promoted: tuple[str, ...] = ()
    if confirmation is not None and confirmation.decided:
        source = "paired"
        promoted = confirmation.promoted
        changes = [_promote(test) if test.nodeid in promoted else test for test in changes]
    regressions = len(confirmed)
    verdict = REGRESSION if regressions else PASS
    heading, rest = render_markdown(changes, base, head, options.fail_on).split("\n", 1)
    if flagged and not confirmed:  # (a promoted test is confirmed)
        heading = (
            f"### :white_check_mark: pytest-parscale: OK: {len(flagged)} test(s) flagged "
            "against the baseline, none confirmed by a paired run on this runner"
        )
    if len(confirmed) < len(flagged) + len(promoted):
        # the table lists what the baseline flagged; the lists above say what stands
        count = f"({len(flagged) + len(promoted)})"
        rest = rest.replace(
            f"#### Regressions {count}", f"#### Flagged against the baseline {count}"
        )
    lines.append(heading)  # the verdict stays the first line
    lines += verdict_source_lines(source, baseline, confirmation)
    acceptance = options.acceptance
    acked = [nodeid for nodeid in confirmed if nodeid in acceptance.tests]
    accepted = verdict == REGRESSION and (
        acceptance.label_by is not None or len(acked) == len(confirmed)
    )
    if verdict == REGRESSION and acceptance.label_by is not None:
        lines += [
            "",
            f"> :ballot_box_with_check: Accepted: the pull request carries the label "
            f"`{ACCEPT_LABEL}`, added by {md(acceptance.label_by)}. The regressions below "
            "are reported and this run passes; the thresholds are unchanged.",
        ]
    if acked:
        lines += ["", f"Acknowledged regressions (`{ACK_PREFIX}` comments):", ""]
        lines += [f"- {code(nodeid)} by {md(acceptance.tests[nodeid])}" for nodeid in acked]
        if len(acked) < len(confirmed):
            lines += ["", f"{len(confirmed) - len(acked)} regression(s) not acknowledged."]
    where = f"branch {md(branch)}" if branch else "the baseline"
    age = "" if baseline.age is None else f", measured {_duration(baseline.age)} ago"
    commit = (
        f" at commit `{baseline.commit[:12]}`"
        if re.fullmatch(r"[0-9a-f]+", baseline.commit)
        else ""
    )
    lines += [
        "",
        f"Compared with the latest results of {where}{commit} (from the {baseline.source}{age}).",
    ]
    # the report's own machine warning already explains a core-count change
    changed = environment_changes(base.machine, head.machine, skip=("cores",))
    if changed:
        differ = md("; ".join(changed))
        lines += ["", f"> :warning: baseline and head ran in different environments: {differ}"]
    lines.append(rest.rstrip("\n"))
    trend = trend_markdown(baseline.history, head, options.fail_on)
    if trend:
        lines += ["", *trend]
    gate = verdict == REGRESSION and not accepted
    runs = len(baseline.history) if model == "history" else 0
    return Judgement(
        verdict, regressions, lines, gate, flagged, source, confirmation, runs, tuple(undecided)
    )


def _promote(test: TestChange) -> TestChange:
    """An undecided test the paired run measured as a regression: it fails the job."""
    said = "uncertain" if test.status is Status.UNCERTAIN else "not judged (incomparable)"
    note = (
        f"{said} against the baseline; the paired run of base and head on this runner "
        "measured a regression"
    )
    return dataclasses.replace(test, status=Status.REGRESSION, notes=(*test.notes, note))


def verdict_source_lines(
    source: str, baseline: Baseline, confirmation: Confirmation | None
) -> list[str]:
    """The summary's account of what made the verdict, and of every flag's fate."""
    if source == "history":
        said = (
            f"the history of {len(baseline.history)} runs of this branch (each test against "
            f"the spread between its last {WINDOW} runs at most, fitted on the machine "
            f"capacity where theirs varies; the single-run rule where "
            f"fewer than {MIN_RUNS} are comparable)"
        )
    elif source == "paired":
        assert confirmation is not None
        said = (
            f"a paired confirmation: base `{confirmation.base[:12]}` and head "
            f"`{confirmation.head[:12]}` measured alternately on this runner, for the tests "
            "the baseline flagged or could not decide"
        )
    else:
        said = "a single baseline (the latest results of the branch)"
    lines = ["", f"**Verdict from** {said}."]
    if confirmation is None:
        return lines
    if confirmation.confirmed:
        lines += ["", "Confirmed by the paired run (these fail the job):", ""]
        lines += [f"- {code(nodeid)}" for nodeid in confirmation.confirmed]
    if confirmation.not_confirmed:
        lines += [
            "",
            "Flagged by the baseline, not confirmed by a paired run (these do not fail the job):",
            "",
        ]
        lines += [
            f"- {code(nodeid)}: paired run says {md(said)}"
            for nodeid, said in confirmation.not_confirmed
        ]
    if confirmation.settled:
        lines += [
            "",
            "Undecided against the baseline, measured by the paired run (a regression there "
            "fails the job; nothing else does):",
            "",
        ]
        lines += [
            f"- {code(nodeid)}: paired run says {md(said)}" for nodeid, said in confirmation.settled
        ]
    if confirmation.unmeasured:
        lines += ["", "Flagged, but the paired run did not measure them, so the flag stands:", ""]
        lines += [f"- {code(nodeid)}" for nodeid in confirmation.unmeasured]
    if confirmation.problem is not None:
        lines += [
            "",
            f"> :warning: Not confirmed by a paired run, so the baseline's flags stand: "
            f"{md(confirmation.problem)}.",
        ]
    return lines


def _judge_missing(
    head: Results, baseline: Baseline, options: RunOptions, branch: str | None, stores: bool
) -> Judgement:
    """No baseline: pass, warn or fail by policy; a run that stores one never fails."""
    policy = options.on_missing_baseline
    where = f"branch {md(branch)}" if branch else "this run"
    if options.baseline_history == "evicted":
        why = f"the baseline of {where} was stored before but is gone (evicted or expired)"
    elif options.baseline_history == "first-run":
        why = f"no baseline was ever stored for {where}"
    else:
        why = f"no baseline for {where} was found (a first run, or an evicted cache)"
    gate = policy == "fail" and not stores
    mark = ":x:" if gate else ":warning:" if policy == "warn" else ":information_source:"
    if stores:
        then = "These results are stored as the baseline."
    else:
        then = "A push to the base branch (or a run of the baseline workflow) stores one."
    judged = "this run fails (on-missing-baseline: fail)" if gate else "this run passes"
    lines = [
        f"### {mark} pytest-parscale: no baseline to compare with",
        "",
        f"{why[0].upper()}{why[1:]}. Nothing was compared, so {judged}. {then}",
    ]
    if baseline.problem:
        lines += ["", f"> :warning: the cached baseline was unusable: {md(baseline.problem)}"]
    if policy != "pass" and not stores:
        annotate("error" if gate else "warning", f"pytest-parscale: {why}; nothing was compared")
    lines += ["", show_markdown(head).rstrip("\n")]
    return Judgement(NO_BASELINE, 0, lines, gate, [], "none")


def _duration(seconds: int) -> str:
    for unit, size in (("days", 86_400), ("hours", 3_600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size} {unit}"
    return f"{seconds} seconds"


def store(
    head: Head, baseline_dir: Path, event: Event, environ: Mapping[str, str], keep: int = 20
) -> None:
    """This run's results become the branch's baseline, with where they came from.

    The last ``keep`` results are kept in ``history/`` beside it, so they travel in
    the same cache entry and artifact (docs/github-action.md, "History and trend").
    """
    baseline_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(head.path, baseline_dir / RESULTS_NAME)
    folder = baseline_dir / HISTORY_DIR
    folder.mkdir(exist_ok=True)
    kept = sorted(folder.glob("*.json"))
    number = int(kept[-1].name.split("-", 1)[0]) + 1 if kept else 1
    commit = re.sub(r"[^0-9a-f]", "", (event.head_sha or "")[:12]) or "unknown"
    shutil.copyfile(head.path, folder / f"{number:06d}-{commit}.json")
    for old in sorted(folder.glob("*.json"))[: -keep if keep > 0 else None]:
        old.unlink()
    provenance = {
        "commit": event.head_sha or "",
        "branch": event.branch,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "run_id": environ.get("GITHUB_RUN_ID", ""),
    }
    (baseline_dir / PROVENANCE_NAME).write_text(json.dumps(provenance) + "\n", encoding="utf-8")


def run(options: RunOptions, environ: Mapping[str, str]) -> Outcome:
    """Everything after the cache restore; never raises for a missing or bad baseline."""
    event = read_event(environ)
    out_dir = options.out_dir.resolve()  # outputs are read by later steps in other folders
    out_dir.mkdir(parents=True, exist_ok=True)
    head = load_head(options, out_dir)
    baseline = load_baseline(options.baseline_dir, options.baseline_source)
    # a failed pytest run may have measured only part of the suite: keep the old baseline
    passed = head.pytest_code in (0, 5)  # 5: nothing collected, reported as no measurement
    stores = passed and _stores(options, event)
    if head.results is None:
        problem = head.problem or "no results"
        judged = Judgement(
            ERROR,
            0,
            [
                "### :x: pytest-parscale: no results to judge",
                "",
                f"{md(problem)}."
                + ("" if options.results_file else f" pytest exited with code {head.pytest_code}."),
            ],
            True,
            [],
            "none",
        )
    else:
        confirm = confirmer(options, event, out_dir / "confirm")
        judged = judge(head.results, baseline, options, event.branch, stores, confirm)
        if baseline.results is not None:
            changed = environment_changes(baseline.results.machine, head.results.machine)
            if changed:
                annotate(
                    "warning", "pytest-parscale: different environments: " + "; ".join(changed)
                )
    lines = list(judged.lines)
    if not passed:
        lines += [
            "",
            f"> :x: pytest exited with code {head.pytest_code}: failing tests fail this job.",
        ]
    stored = head.results is not None and stores
    if stored:
        store(head, options.baseline_dir, event, environ, options.history_size)
        if judged.verdict != NO_BASELINE:
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
    outputs = {
        "verdict": judged.verdict,
        "regressions": str(judged.regressions),
        "results-path": str(head.path) if head.results is not None else "",
        "save-baseline": "true" if stored else "false",
        "comment": "true" if comment else "false",
        "pytest-exit-code": str(head.pytest_code),
        # the branch's kept runs were the baseline (history.py), wherever they came from
        "baseline-source": "history" if judged.history_runs else baseline.source,
        "baseline-commit": baseline.commit,
        "baseline-age": "" if baseline.age is None else str(baseline.age),
        "accepted": "true" if judged.verdict == REGRESSION and not judged.gate else "false",
        "verdict-source": judged.source,
    }
    outputs["report-path"] = str(write(report, out_dir, event, outputs, environ))
    gate = judged.gate or not passed
    return Outcome(judged.verdict, judged.regressions, report, 1 if gate else 0, outputs)


def write(
    report: str,
    out_dir: Path,
    event: Event,
    outputs: dict[str, str],
    environ: Mapping[str, str],
) -> Path:
    """The report file, the job summary, pull-request.json and the step outputs."""
    report_path = out_dir / "report.md"
    report_path.write_text(report, encoding="utf-8")
    if event.pull_request is not None:
        pull = {"number": event.pull_request, "head_sha": event.head_sha}
        (out_dir / "pull-request.json").write_text(json.dumps(pull) + "\n")
    append_summary(report, environ)
    write_outputs({**outputs, "report-path": str(report_path)}, environ)
    return report_path


def _stores(options: RunOptions, event: Event) -> bool:
    if options.save_baseline == "auto":
        return event.stores_baseline
    return options.save_baseline == "true"


# -- fetch: the baseline artifact when the cache missed --------------------------------


def fetch(baseline_key: str, target: Path, environ: Mapping[str, str], send: Transport) -> int:
    """The ``fetch`` step: never fails the job, says what it found in its outputs."""
    event = read_event(environ)
    token = environ.get("GITHUB_TOKEN", "")
    source, history = "none", "unknown"
    if event.branch and token:
        try:
            source, history = fetch_baseline(
                repository=event.repository,
                branch=event.branch,
                baseline_key=baseline_key,
                target=target,
                wanted=(RESULTS_NAME, PROVENANCE_NAME),
                token=token,
                api_url=event.api_url,
                send=send,
            )
        except (
            urllib.error.URLError,
            OSError,
            ValueError,
            zipfile.BadZipFile,
            BaselineError,
        ) as error:
            annotate("warning", f"pytest-parscale: could not look for a baseline artifact: {error}")
    write_outputs({"source": source, "history": history}, environ)
    return 0


# -- comment: one pull-request comment, updated in place ------------------------------


def rebuild_report(
    results_path: Path, options: RunOptions, branch: str | None, environ: Mapping[str, str]
) -> str:
    """The report of a finished run, judged here from its results and our own baseline.

    The trusted workflow_run job uses this: the artifact's results.json is data the
    pull request's code produced, so it is loaded and validated like any results
    file, and the verdict and every line of Markdown are made here, never copied
    from the artifact's report.md.
    """
    head = load(results_path)
    if not head.records:
        raise BaselineError(results_path, "has no measurement")
    baseline = load_baseline(options.baseline_dir, options.baseline_source)
    judged = judge(head, baseline, options, branch, stores=False)
    lines = list(judged.lines)
    if judged.flagged or judged.undecided:
        lines += [
            "",
            "_Judged again here without a paired confirmation (this job never runs the pull "
            "request's code); the gate job's summary says which flags a paired run confirmed "
            "and which undecided tests it measured as regressions._",
        ]
    report = "\n".join(lines) + "\n"
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


def _history_size(text: str) -> int:
    """The action's history-size input: a count, 0 turns the history off."""
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"history-size must be a whole number, got {text!r}")
    return int(text)


def _true_false(name: str) -> Callable[[str], bool]:
    """An action input that is ``true`` or ``false`` (empty: the default, true)."""

    def parse(text: str) -> bool:
        value = text.strip().lower() or "true"
        if value not in ("true", "false"):
            raise argparse.ArgumentTypeError(f"{name} must be true or false, got {text!r}")
        return value == "true"

    return parse


def _budget(text: str) -> float:
    """The action's confirm-budget input: seconds > 0 (empty: the default, 600)."""
    try:
        value = float(text) if text.strip() else 600.0
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"confirm-budget must be seconds > 0, got {text!r}")
    return value


def add_parser(commands: Any, fail_on_type: Callable[[str], FailOn]) -> None:
    """``parscale ci plan|fetch|run|comment``, registered by cli.py."""

    def fail_on(text: str) -> FailOn:  # the action passes its input as is, maybe empty
        return fail_on_type(text) if text.strip() else NOT_SAID

    def judging(parser: Any, *, required: bool = True) -> None:
        parser.add_argument("--baseline-dir", required=required, default="")
        parser.add_argument("--fail-on", type=fail_on, default=NOT_SAID, metavar="SPEC")
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

    ci = commands.add_parser("ci", help="the GitHub Action's steps (see docs/github-action.md)")
    steps = ci.add_subparsers(dest="ci_step", required=True, metavar="STEP")
    plan_parser = steps.add_parser("plan", help="cache keys and folders of the baseline")
    plan_parser.add_argument("--baseline-key", default="default")
    plan_parser.add_argument(
        "--environment-from", default="", help="a results file whose machine names the environment"
    )
    steps.add_parser(
        "accept", help=f"the {ACCEPT_LABEL} label and {ACK_PREFIX} comments of the pull request"
    )
    fetch_parser = steps.add_parser(
        "fetch", help="the newest baseline artifact of the branch, when the cache missed"
    )
    fetch_parser.add_argument("--baseline-key", default="default")
    fetch_parser.add_argument("--baseline-dir", required=True)
    run_parser = steps.add_parser(
        "run", help="run the tests, compare with the baseline, write summary and outputs"
    )
    run_parser.add_argument("--pytest-args", default="")
    run_parser.add_argument("--results-file", default="", help="use it instead of running pytest")
    run_parser.add_argument("--out-dir", required=True)
    run_parser.add_argument("--comment-on-pr", choices=("true", "false"), default="false")
    run_parser.add_argument("--save-baseline", choices=("auto", "true", "false"), default="auto")
    run_parser.add_argument(
        "--acceptance", default="", help="JSON written by 'ci accept': the label and acks"
    )
    run_parser.add_argument(
        "--history-size", type=_history_size, default=20, help="last runs kept for the trend"
    )
    run_parser.add_argument(
        "--confirm",
        type=_true_false("confirm"),
        default=True,
        help="decide a pull request's flagged and undecided tests by a paired run (true|false)",
    )
    run_parser.add_argument(
        "--confirm-budget",
        type=_budget,
        default=600.0,
        metavar="SECONDS",
        help="seconds the paired confirmation may add sessions for (parscale paired --budget)",
    )
    judging(run_parser)
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
    judging(comment_parser, required=False)  # posting --report judges nothing


def _judging_options(arguments: Any, **extra: Any) -> RunOptions:
    """The judging half of RunOptions, shared by ``run`` and ``comment --results``."""
    source = "cache" if arguments.baseline_source else arguments.fetched or "none"
    return RunOptions(
        baseline_dir=Path(arguments.baseline_dir),
        fail_on=effective_fail_on(None, arguments.fail_on),
        on_missing_baseline=arguments.on_missing_baseline,
        baseline_source=source,
        baseline_history=arguments.baseline_history or "unknown",
        **extra,
    )


def _acceptance(event: Event, environ: Mapping[str, str], send: Transport) -> Acceptance:
    """The gate's own acceptance check: only pull requests, labels from the payload."""
    if event.pull_request is None:
        return Acceptance()
    return acceptance(event.repository, event.pull_request, event.labels, environ, send)


def main(
    arguments: Any, environ: Mapping[str, str] | None = None, send: Transport = urllib_transport
) -> int:
    env = os.environ if environ is None else environ
    if arguments.ci_step == "plan":
        machine = None
        if arguments.environment_from:
            machine = load(Path(arguments.environment_from)).machine
        write_outputs(plan(arguments.baseline_key, env, machine), env)
        return 0
    if arguments.ci_step == "accept":
        write_outputs({"acceptance": _acceptance(read_event(env), env, send).to_json()}, env)
        return 0
    if arguments.ci_step == "fetch":
        return fetch(arguments.baseline_key, Path(arguments.baseline_dir), env, send)
    if arguments.ci_step == "run":
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
        )
        outcome = run(options, env)
        print(outcome.report)
        return outcome.exit_code
    number = arguments.pr_number
    if arguments.pr_file:
        number = read_pull_request_number(Path(arguments.pr_file))
    if arguments.results:
        if not arguments.baseline_dir:
            raise BaselineError(arguments.results, "needs --baseline-dir to be judged again")
        event = read_event(env)
        repository = arguments.repository or event.repository
        accepted = (
            acceptance(repository, number, None, env, send) if number is not None else Acceptance()
        )
        options = _judging_options(arguments, acceptance=accepted)
        report = rebuild_report(Path(arguments.results), options, event.branch, env)
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
    )
