"""One look of a paired run: every test judged, the settled ones closed, the rest open.

A test closed at a look keeps that look's verdict to the end of the run and gets no
more sessions (schedule.py says when). At later looks it still counts in the run's
family, with p-values of 1: it can be called nothing more, and the open tests are
judged as if its hypothesis had not been rejected, which only makes their calls
harder. Each look then errs at most at its own share, and the looks add up to the
run's level (docs/paired.md, "Looks and stops"). Pure: sessions in, verdicts out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pytest_parscale.family import Family, apply_family, first_step
from pytest_parscale.paired.pairwise import look_confidence, within_reach
from pytest_parscale.paired.pooling import Pooled, compare_paired, judged_pairs, pool
from pytest_parscale.regression import Note, Status, TestChange, worst_first
from pytest_parscale.sequential import look_alpha
from pytest_parscale.storage import Results
from pytest_parscale.thresholds import FailOn


@dataclass(frozen=True)
class Look:
    """What one look decided."""

    base: Pooled
    head: Pooled
    changes: list[TestChange]  # every test, worst first; closed ones as they closed
    family: Family
    closed: dict[str, TestChange]  # by test id: the tests that get no more sessions
    open: list[str]  # the tests the next sessions run, in the order judged


def _silenced(test: TestChange) -> TestChange:
    """The test with p-values of 1 and no call: in the family, but called nothing, and
    nothing of it withdrawn (its own look's withdrawals are carried, see judge_look)."""
    quiet = tuple(
        dataclasses.replace(c, p_value=1.0, p_better=1.0, status=Status.UNCHANGED)
        for c in test.changes
    )
    return dataclasses.replace(test, changes=quiet)


def judge_look(
    runs: Mapping[str, Sequence[Results]],
    labels: Mapping[str, str],
    fail_on: FailOn,
    closed: Mapping[str, TestChange],
    *,
    index: int,
    schedule: Sequence[int],
    confidence: float,
    family: str,
    earlier: Family | None = None,
) -> Look:
    """Look ``index`` (1, 2, ...) of ``schedule`` over the sessions in ``runs``.

    ``closed`` holds the tests closed at earlier looks, ``earlier`` the family of the
    last look (its withdrawn calls of those tests are carried into this look's). A
    test decided now closes; so does an uncertain one that no pair up to the cap
    could call a regression.
    """
    last = index == len(schedule)
    level = look_confidence(index, confidence, final=last)
    base, head = pool(runs["base"], labels["base"]), pool(runs["head"], labels["head"])
    compared = compare_paired(runs["base"], runs["head"], (base, head), fail_on, confidence=level)
    silenced = [_silenced(test) if test.nodeid in closed else test for test in compared]
    judged, found = apply_family(silenced, family, level)
    # a call at the cap: the last look's share at the family's first step
    alpha = (1 - confidence) / 2
    reach = first_step(look_alpha(len(schedule), alpha, final=True), found.members, family)
    now = dict(closed)
    changes, still = [], []
    for test in judged:
        if test.nodeid in closed:
            changes.append(closed[test.nodeid])
            continue
        if test.status is not Status.UNCERTAIN:
            now[test.nodeid] = test
        elif not last and not within_reach(
            pairs := judged_pairs(runs, test),
            _thresholds_of(test, fail_on),
            max_pairs=schedule[-1],
            level=reach,
        ):
            note = Note("out-of-reach", (len(pairs), schedule[-1]))
            test = dataclasses.replace(test, notes=(*test.notes, note))
            now[test.nodeid] = test
        else:
            still.append(test.nodeid)
        changes.append(test)
    carried = [entry for entry in (earlier.changed if earlier else ()) if entry[0] in closed]
    fresh = [entry for entry in found.changed if entry[0] not in closed]
    found = dataclasses.replace(found, changed=(*carried, *fresh))
    return Look(base, head, worst_first(changes), found, now, still)


def _thresholds_of(test: TestChange, fail_on: FailOn) -> FailOn:
    """The thresholds the test was judged on: its own marker's, else the run's."""
    thresholds = {change.metric: change.threshold for change in test.changes}
    return dataclasses.replace(
        fail_on,
        speedup=thresholds.get("speedup", fail_on.speedup),
        overhead=thresholds.get("overhead", fail_on.overhead),
    )
