"""The verdict of a run against its baseline (or the branch's history); a pull
request's flags and unresolved tests confirmed by a paired run. Decides only:
decision.py holds the decision, summary.py words it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

from pytest_parscale.action.baseline import Baseline
from pytest_parscale.action.confirm import (
    Confirmation,
    PairedRunner,
    decide,
    paired_runner,
    skipped,
)
from pytest_parscale.action.decision import Compared, Judgement, NoBaseline, RunVerdict
from pytest_parscale.action.event import Event
from pytest_parscale.action.github import Acceptance, annotate
from pytest_parscale.action.options import RunOptions, environment_changes
from pytest_parscale.action.summary import missing_reason
from pytest_parscale.family import Family, apply_family
from pytest_parscale.history import MIN_RUNS, judge_for, pools
from pytest_parscale.regression import Status, TestChange, compare_results
from pytest_parscale.storage import Results

# (flagged, unresolved) -> what a paired run made of them
Confirmer = Callable[[Sequence[str], Sequence[str]], Confirmation]


# cross-run statuses that are neither pass nor fail: a paired run is asked to resolve them
UNRESOLVED = (Status.UNCERTAIN, Status.INCOMPARABLE)


def confirm_regressions(
    flagged: Sequence[str], runner: PairedRunner, unresolved: Sequence[str] = ()
) -> Confirmation:
    """Measure the flagged and unresolved tests again, base and head alternately here.

    A flag stands only if the paired run also says regression, or if it could not
    say; an unresolved test fails only if the paired run says regression
    (confirm.decide). docs/github-action.md, "Confirmation by a paired run".
    """
    return decide(flagged, runner([*flagged, *unresolved]), unresolved)


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
        return lambda flagged, unresolved: skipped(flagged, why, unresolved)
    base_sha = event.base_sha
    if not base_sha:
        return lambda flagged, unresolved: skipped(
            flagged, "the event names no base commit", unresolved
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
    return lambda flagged, unresolved: confirm_regressions(flagged, runner, unresolved)


def _compare(
    base: Results, head: Results, baseline: Baseline, options: RunOptions
) -> tuple[list[TestChange], str, Family]:
    """The changes, judged by the history model (history.py) when the branch kept
    enough runs, else against the single baseline, as one family of tests
    (family.py); which of the two it was; and what the family rule did."""
    source = "single"
    judge_with = None
    if len(baseline.history) >= MIN_RUNS:
        history = dataclasses.replace(base, runs=baseline.history)
        source, judge_with = "history", judge_for(history, pooled=pools(options.family))
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
    """The verdict, from loaded inputs only: run and comment share it (summary.py words it).

    ``confirm`` re-measures the flagged tests and the ones the baseline left
    unresolved (the gate's own run only: the trusted comment job never runs the pull
    request's code).
    """
    base = baseline.results
    if base is None:
        return _judge_missing(head, baseline, options, branch, stores)
    changes, source, family = _compare(base, head, baseline, options)
    model = source  # single or history: what flagged, whatever confirms
    # a test the head failed without a measurement is flagged as a regression is
    flagged = [test.nodeid for test in changes if test.status in (Status.REGRESSION, Status.ERROR)]
    unresolved = [test.nodeid for test in changes if test.status in UNRESOLVED]
    confirmation = (
        confirm(flagged, unresolved) if confirm is not None and (flagged or unresolved) else None
    )
    confirmed = list(confirmation.standing) if confirmation is not None else flagged
    promoted: dict[str, Status] = {}
    if confirmation is not None and confirmation.decided:
        source = "paired"
        promoted = {
            test.nodeid: test.status for test in changes if test.nodeid in confirmation.promoted
        }
        changes = [_promote(test) if test.nodeid in promoted else test for test in changes]
    label_by, acked, gate = _acceptance(confirmed, options.acceptance)
    compared = Compared(
        changes,
        base,
        head,
        baseline,
        branch,
        options.fail_on,
        family,
        promoted,
        label_by,
        acked,
        # the report's own machine warning already explains a core-count change
        tuple(environment_changes(base.machine, head.machine, skip=("cores",))),
    )
    return Judgement(
        RunVerdict.REGRESSION if confirmed else RunVerdict.PASS,
        len(confirmed),
        gate,
        flagged,
        source,
        confirmation,
        len(baseline.history) if model == "history" else 0,
        tuple(unresolved),
        compared,
    )


def _acceptance(
    confirmed: Sequence[str], acceptance: Acceptance
) -> tuple[str | None, tuple[tuple[str, str], ...], bool]:
    """(who put the label on, the acked regressions, whether the regressions fail the job).

    The label accepts every regression; ``parscale-ack:`` comments accept the tests
    they name, and the job passes only when every regression is acked.
    """
    acked = tuple(
        (nodeid, acceptance.tests[nodeid]) for nodeid in confirmed if nodeid in acceptance.tests
    )
    label_by = acceptance.label_by if confirmed else None
    accepted = bool(confirmed) and (label_by is not None or len(acked) == len(confirmed))
    return label_by, acked, bool(confirmed) and not accepted


def _promote(test: TestChange) -> TestChange:
    """An unresolved test the paired run measured as a regression: it fails the job."""
    return dataclasses.replace(test, status=Status.REGRESSION)


def _judge_missing(
    head: Results, baseline: Baseline, options: RunOptions, branch: str | None, stores: bool
) -> Judgement:
    """No baseline: pass, warn or fail by policy; a run that stores one never fails."""
    missing = NoBaseline(
        head,
        branch,
        options.baseline_history,
        options.on_missing_baseline,
        stores,
        baseline.problem,
    )
    gate = missing.policy == "fail" and not stores
    if missing.policy != "pass" and not stores:
        why = missing_reason(missing)
        annotate("error" if gate else "warning", f"pytest-parscale: {why}; nothing was compared")
    return Judgement(RunVerdict.NO_BASELINE, 0, gate, [], "none", missing=missing)
