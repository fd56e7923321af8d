"""One look of a paired run on synthetic sessions: who closes, who stays open."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_parscale.family import Family
from pytest_parscale.notewords import note_text
from pytest_parscale.paired.look import Look, judge_look
from pytest_parscale.paired.schedule import looks
from pytest_parscale.paired.sessions import measure
from pytest_parscale.paired.worktrees import Checkouts
from pytest_parscale.regression import Status
from pytest_parscale.storage import Results
from pytest_parscale.thresholds import DEFAULT_FAIL_ON
from tests.records import record
from tests.unit.test_paired import session

if TYPE_CHECKING:  # a class named Test* imported at module level would be collected
    from pytest_parscale.changes import TestChange

LABELS = {"base": "base", "head": "head"}
SCHEDULE = looks(3, 60)


def runs_of(
    tests: dict[str, tuple[float, float]], pairs: int, seed: int = 3
) -> dict[str, list[Results]]:
    """``pairs`` pairs of sessions of each test: ``(head's speedup ratio, per-session sd
    of log speedup)``; the base's speedup is 2."""
    noise = random.Random(seed)
    made: dict[str, list[Results]] = {"base": [], "head": []}
    for _ in range(pairs):
        for side in ("base", "head"):
            records = []
            for nodeid, (ratio, scatter) in tests.items():
                level = 2.0 * (ratio if side == "head" else 1.0)
                speedup = level * math.exp(noise.gauss(0, scatter))
                records.append(record(nodeid, serial=[speedup] * 2, parallel=[1.0, 1.0]))
            made[side].append(session(*records))
    return made


def look_at(
    runs: dict[str, list[Results]],
    index: int,
    closed: dict[str, TestChange] | None = None,
    earlier: Family | None = None,
) -> Look:
    return judge_look(
        runs,
        LABELS,
        DEFAULT_FAIL_ON,
        closed or {},
        index=index,
        schedule=SCHEDULE,
        confidence=0.95,
        family="holm",
        earlier=earlier,
    )


def test_decided_tests_close_and_a_noisy_one_stays_open() -> None:
    tests = {
        "t.py::test_dropped": (0.5, 0.01),
        "t.py::test_steady": (1.0, 0.005),
        "t.py::test_noisy": (0.85, 0.3),
    }
    seen = look_at(runs_of(tests, 3), 1)
    statuses = {test.nodeid: test.status for test in seen.changes}
    assert statuses["t.py::test_dropped"] is Status.REGRESSION
    assert statuses["t.py::test_steady"] is Status.UNCHANGED
    assert statuses["t.py::test_noisy"] is Status.UNCERTAIN
    assert set(seen.closed) == {"t.py::test_dropped", "t.py::test_steady"}
    assert seen.open == ["t.py::test_noisy"]
    assert seen.family.members == 3


def test_a_test_no_pair_could_call_stops_with_a_note_saying_so() -> None:
    # unchanged, with a spread no 3 pairs can decide at Holm's level, but far from a call
    tests = {f"t.py::test_{i}": (1.05, 0.06) for i in range(10)}
    seen = look_at(runs_of(tests, 5, seed=8), 2)
    stopped = [test for test in seen.changes if test.nodeid in seen.closed]
    assert stopped
    for test in stopped:
        if test.status is Status.UNCERTAIN:
            assert test.notes[-1].reason == "out-of-reach"
            assert note_text(test.notes[-1]).startswith("stopped after 5 pairs")
            assert "within 60 pairs" in note_text(test.notes[-1])


def test_a_closed_test_keeps_its_verdict_and_is_called_nothing_later() -> None:
    tests = {"t.py::test_dropped": (0.5, 0.01), "t.py::test_noisy": (0.85, 0.3)}
    first = look_at(runs_of(tests, 3), 1)
    kept = first.closed["t.py::test_dropped"]
    # later pairs of the open test only: the closed one is judged on its old pairs
    later = runs_of(tests, 5, seed=4)
    for side in ("base", "head"):
        for index in range(3, 5):
            records = dict(later[side][index].records)
            del records["t.py::test_dropped"]
            later[side][index] = session(*records.values())
        later[side][:3] = runs_of(tests, 3)[side]
    second = look_at(later, 2, first.closed, earlier=first.family)
    found = {test.nodeid: test for test in second.changes}
    assert found["t.py::test_dropped"] is kept
    assert kept.status is Status.REGRESSION
    # silenced, not withdrawn: the report lists no call of it taken back
    assert all(entry[0] != "t.py::test_dropped" for entry in second.family.changed)
    assert second.family.members == 2  # the closed test still counts in the family
    assert "t.py::test_dropped" in second.closed


def test_the_last_look_closes_nothing_for_being_out_of_reach() -> None:
    tests = {f"t.py::test_{i}": (1.0, 0.2) for i in range(8)}
    seen = look_at(runs_of(tests, 60, seed=2), len(SCHEDULE))
    assert not any(note.reason == "out-of-reach" for test in seen.changes for note in test.notes)


def test_sessions_after_a_look_run_only_the_open_tests(tmp_path: Path) -> None:
    """The session loop with synthetic sessions in place of pytest: it keeps to the
    schedule, and later sessions are asked (--parscale-only) for the open tests only."""
    tests = {"t.py::test_dropped": (0.5, 0.01), "t.py::test_noisy": (0.9, 0.4)}
    made = runs_of(tests, 60, seed=5)
    asked: list[set[str] | None] = []

    def fake(_made, side, _relative, pytest_args, output, _where, _rounds):  # type: ignore[no-untyped-def]
        listed = [a.split("=", 1)[1] for a in pytest_args if a.startswith("--parscale-only=")]
        wanted = set(Path(listed[-1]).read_text().split()) if listed else None
        asked.append(wanted)
        index = int(output.name.split("-")[1]) - 1
        full = made[side][index]
        keep = [r for key, r in full.records.items() if wanted is None or key in wanted]
        return session(*keep)

    checkouts = Checkouts(tmp_path, tmp_path, {"base": tmp_path, "head": tmp_path}, [])
    result = measure(
        checkouts,
        Path("."),
        ["-q"],
        DEFAULT_FAIL_ON,
        LABELS,
        confidence=0.95,
        budget=1e9,
        session=fake,
    )
    assert asked[:6] == [None] * 6  # the first look's three pairs run everything
    assert len(asked) > 6  # the noisy test went on past the first look
    assert all(wanted == {"t.py::test_noisy"} for wanted in asked[6:])
    assert result.sessions in SCHEDULE
    statuses = {test.nodeid: test.status for test in result.changes}
    assert statuses["t.py::test_dropped"] is Status.REGRESSION


def test_a_budget_too_short_for_the_next_look_stops_at_the_last_one(tmp_path: Path) -> None:
    tests = {"t.py::test_noisy": (0.9, 0.4)}
    made = runs_of(tests, 60, seed=5)
    clock = iter(range(0, 100000, 5))  # every reading 5 s later: a pair takes 20-25 s

    def fake(_made, side, _relative, _args, output, _where, _rounds):  # type: ignore[no-untyped-def]
        return made[side][int(output.name.split("-")[1]) - 1]

    checkouts = Checkouts(tmp_path, tmp_path, {"base": tmp_path, "head": tmp_path}, [])
    result = measure(
        checkouts,
        Path("."),
        [],
        DEFAULT_FAIL_ON,
        LABELS,
        confidence=0.95,
        budget=100.0,
        session=fake,
        clock=lambda: float(next(clock)),
    )
    assert result.sessions == 3  # the minimum always runs; 2 more pairs would not fit
    assert result.uncertain == ["t.py::test_noisy"]
    assert result.budget_spent
