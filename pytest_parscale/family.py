"""One family per run: the error of a run's verdicts controlled over all its cases.

A suite compares dozens of cases at once. Each case's p-value (the chance of data
this far beyond the threshold if the change were only at the threshold) is fine for
one case, but over 50 unchanged cases some would cross by chance alone. The run is
the unit of error (docs/measurement.md, "One family per run"):

- ``holm`` (the default): Holm's step-down adjustment; the chance that a run
  calls any case wrongly stays at the per-case level (family-wise error).
- ``bh``: Benjamini-Hochberg; the expected share of wrong calls among the
  called cases stays at that level (false-discovery rate). More power, weaker
  promise: for suites where a few extra suspects are cheap to recheck.
- ``none``: every case at the per-case level, as if it were the only one.

``adjust`` is pure (p-values in, p-values out); ``apply_family`` turns the adjusted
p-values of a run's comparisons into verdicts. No pytest, no clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # config imports this module at pytest's start-up: keep it light
    from pytest_parscale.changes import Change, Status, TestChange

RULES = ("holm", "bh", "none")
DEFAULT_RULE = "holm"


def adjust(p_values: Sequence[float], rule: str) -> list[float]:
    """Adjusted p-values, in the order given: a case is called when its adjusted p <= alpha.

    Holm: the i-th smallest of m is multiplied by (m - i + 1), then made non-decreasing.
    BH: the i-th smallest is multiplied by m / i, then made non-increasing from the top.
    Both are capped at 1. Adjusted p-values are never below the raw ones, so the
    adjustment only ever withdraws a call, never makes one.
    """
    if rule not in RULES:
        raise ValueError(f"family rule {rule!r} is not one of {', '.join(RULES)}")
    count = len(p_values)
    if rule == "none" or count <= 1:
        return [min(1.0, max(0.0, value)) for value in p_values]
    order = sorted(range(count), key=lambda index: p_values[index])
    adjusted = [0.0] * count
    if rule == "holm":
        running = 0.0
        for rank, index in enumerate(order):
            running = max(running, min(1.0, (count - rank) * p_values[index]))
            adjusted[index] = running
        return adjusted
    running = 1.0
    for rank in range(count - 1, -1, -1):
        index = order[rank]
        running = min(running, count * p_values[index] / (rank + 1))
        adjusted[index] = min(1.0, running)
    return adjusted


def first_step(alpha: float, members: int, rule: str) -> float:
    """The level one case can be judged at before the others' p-values exist.

    A pytest session judges each test as it ends. alpha / m (Bonferroni) is the first
    step of both Holm and BH: whatever it calls, the whole-family rule calls too, so a
    test failed at this level is never withdrawn at the end of the session.
    """
    if rule == "none" or members <= 1:
        return alpha
    return alpha / members


@dataclass(frozen=True)
class Family:
    """What the family rule did to one run: for the report."""

    rule: str
    cases: int  # tests with at least one compared metric
    members: int  # compared metrics (speedup, transport share) over those tests
    # (test id, metric, verdict before, verdict after) of every call the rule withdrew
    changed: tuple[tuple[str, str, Status, Status], ...] = ()


def _member(test: TestChange, change: Change) -> bool:
    return test.status.value not in ("new", "missing") and change.threshold != float("inf")


def apply_family(
    tests: Sequence[TestChange], rule: str, confidence: float
) -> tuple[list[TestChange], Family]:
    """The run's comparisons judged as one family, worst first.

    Every compared metric of every compared test is a member; regressions and
    improvements are adjusted separately. A call whose adjusted p-value exceeds the
    per-side error ``(1 - confidence) / 2`` is withdrawn: a regression becomes
    uncertain, an improvement unchanged, with a note. A test not judged for its
    capacity stays so.
    """
    from pytest_parscale.regression import worst_first

    members = [
        (i, j)
        for i, test in enumerate(tests)
        for j, c in enumerate(test.changes)
        if _member(test, c)
    ]
    worse = adjust([tests[i].changes[j].p_value for i, j in members], rule)
    better = adjust([tests[i].changes[j].p_better for i, j in members], rule)
    scope = (rule, "run", len(members))
    found, changed = _settle(tests, members, worse, better, (1 - confidence) / 2, scope)
    cases = len({i for i, _ in members})
    return worst_first(found), Family(rule, cases, len(members), tuple(changed))


def judge_first_step(test: TestChange, members: int, rule: str, confidence: float) -> TestChange:
    """One test judged before the rest of its run: at the family's first step.

    ``members`` is the run's expected number of comparisons (counted when the tests
    were collected); each of the test's p-values is weighed as ``members * p``, the
    first step of Holm and of BH (:func:`first_step`), so a call made here stands
    when the whole family is judged at the end.
    """
    alpha = (1 - confidence) / 2
    level = first_step(alpha, members, rule)
    indices = [(0, j) for j, c in enumerate(test.changes) if _member(test, c)]
    scale = alpha / level
    worse = [min(1.0, test.changes[j].p_value * scale) for _, j in indices]
    better = [min(1.0, test.changes[j].p_better * scale) for _, j in indices]
    scope = (rule, "first-step", members)
    return _settle([test], indices, worse, better, alpha, scope)[0][0]


def _settle(
    tests: Sequence[TestChange],
    members: Sequence[tuple[int, int]],
    worse: Sequence[float],
    better: Sequence[float],
    alpha: float,
    scope: tuple[str, str, int],
) -> tuple[list[TestChange], list[tuple[str, str, Status, Status]]]:
    """Withdraw every call whose adjusted p-value exceeds ``alpha``; note each one."""
    from pytest_parscale.changes import Note, Status

    found = list(tests)
    changed: list[tuple[str, str, Status, Status]] = []
    for (i, j), adjusted, adjusted_better in zip(members, worse, better, strict=True):
        test, change = found[i], found[i].changes[j]
        status = change.status
        if status is Status.REGRESSION and adjusted > alpha:
            status = Status.UNCERTAIN
        elif status is Status.IMPROVEMENT and adjusted_better > alpha:
            status = Status.UNCHANGED
        new = dataclasses.replace(
            change,
            adjusted=adjusted,
            status=status,
            unadjusted=change.status if status is not change.status else None,
        )
        notes = test.notes
        if status is not change.status:
            changed.append((test.nodeid, change.metric, change.status, status))
            facts = (change.metric, change.status.value, scope, change.p_value, adjusted, alpha)
            notes = (*notes, Note("withdrawn", facts))
        updated = (*test.changes[:j], new, *test.changes[j + 1 :])
        found[i] = dataclasses.replace(test, changes=updated, notes=notes)
    for i, test in enumerate(found):
        if test.changes and test.status is not Status.INCOMPARABLE:
            status = min((c.status for c in test.changes), key=lambda status: status.rank)
            found[i] = dataclasses.replace(test, status=status)
    return found, changed
