"""The verdict of a run against its baseline (or the branch's history), with its
Markdown; a pull request's flags and undecided tests confirmed by a paired run."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_parscale.action.baseline import Baseline
from pytest_parscale.action.confirm import (
    Confirmation,
    PairedRunner,
    decide,
    paired_runner,
    skipped,
)
from pytest_parscale.action.event import Event
from pytest_parscale.action.github import ACCEPT_LABEL, ACK_PREFIX, annotate
from pytest_parscale.action.options import RunOptions, environment_changes
from pytest_parscale.action.summary import duration, verdict_source_lines
from pytest_parscale.action.trend import trend_markdown
from pytest_parscale.diffreport import family_lines, render_markdown
from pytest_parscale.family import Family, apply_family
from pytest_parscale.history import MIN_RUNS, judge_for
from pytest_parscale.markdown import code, md
from pytest_parscale.regression import Status, TestChange, compare_results
from pytest_parscale.show import show_markdown
from pytest_parscale.storage import Results

PASS, REGRESSION, NO_BASELINE, ERROR = "pass", "regression", "no-baseline", "error"


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
        options.family,
    )
    return lambda flagged, undecided: confirm_regressions(flagged, runner, undecided)


def _compare(
    base: Results, head: Results, baseline: Baseline, options: RunOptions
) -> tuple[list[TestChange], str, Family]:
    """The changes, judged by the history model (history.py) when the branch kept
    enough runs, else against the single baseline, as one family of tests
    (family.py); which of the two it was; and what the family rule did."""
    source = "single"
    judge_with = None
    if len(baseline.history) >= MIN_RUNS:
        source, judge_with = "history", judge_for(dataclasses.replace(base, runs=baseline.history))
    compared = compare_results(
        base.records,
        head.records,
        options.fail_on,
        judge=judge_with,
        base_errors=base.errors,
        head_errors=head.errors,
    )
    changes, family = apply_family(compared, options.family, 0.95)
    return changes, source, family


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
    changes, source, family = _compare(base, head, baseline, options)
    model = source  # single or history: what flagged, whatever confirms
    # a test the head failed without a measurement is flagged as a regression is
    flagged = [test.nodeid for test in changes if test.status in (Status.REGRESSION, Status.ERROR)]
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
    age = "" if baseline.age is None else f", measured {duration(baseline.age)} ago"
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
    lines += ["", *(f"_{md(line)}_" for line in family_lines(family, 0.95))]
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
