"""What an uncertain paired test would take to decide: synthetic sessions, no clock."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest

from pytest_parscale.family import apply_family
from pytest_parscale.notewords import note_text
from pytest_parscale.paired.pooling import compare_paired, pool
from pytest_parscale.paired.schedule import looks
from pytest_parscale.paired.sessions import projected
from pytest_parscale.paired.spread import (
    MOST_PAIRS,
    log_differences,
    pairs_needed,
    project,
    within_share,
)
from pytest_parscale.regression import Status
from pytest_parscale.results import Record
from pytest_parscale.stats import t_quantile
from pytest_parscale.thresholds import DEFAULT_FAIL_ON
from tests.records import record
from tests.unit.test_paired import session

ALPHA = 0.025
DROP = math.log(0.9)  # the default 10% threshold, in log speedup


def rounds(speedup: float, scatter: float, count: int, seed: int) -> Record:
    """A session of ``count`` rounds whose log speedups scatter by ``scatter`` (sd)."""
    noise = random.Random(seed)
    parallel = [1.0] * count
    serial = [2 * speedup * math.exp(noise.gauss(0, scatter)) for _ in parallel]
    return record(serial=serial, parallel=parallel)


def paired_sessions(
    head_speedup: float, scatter: float, between: float, count: int, *, rounds_each: int = 2
) -> list[tuple[Record, Record]]:
    """Pairs whose sessions scatter by ``scatter`` in their rounds and ``between`` apart."""
    noise = random.Random(7)
    made = []
    for pair in range(count):
        shift = [math.exp(noise.gauss(0, between)) for _ in range(2)]
        made.append(
            (
                rounds(shift[0], scatter, rounds_each, 100 + pair),
                rounds(head_speedup * shift[1], scatter, rounds_each, 200 + pair),
            )
        )
    return made


def test_the_differences_are_what_the_pairs_judge() -> None:
    one = [1.0] * 3
    pairs = [(record(serial=[2.0] * 3, parallel=one), record(serial=[1.5] * 3, parallel=one))]
    assert log_differences(pairs) == pytest.approx([math.log(1.5 / 2.0)], abs=0.02)


def test_sessions_that_scatter_only_in_their_rounds_put_the_spread_in_the_rounds() -> None:
    only_rounds = within_share(paired_sessions(1.0, 0.2, 0.0, 40, rounds_each=4))
    only_sessions = within_share(paired_sessions(1.0, 0.002, 0.2, 40, rounds_each=4))
    assert only_rounds is not None
    assert only_sessions is not None
    assert only_rounds > 0.7
    assert only_sessions < 0.05
    assert within_share(paired_sessions(1.0, 0.2, 0.0, 1)) is None  # one pair: no spread


def test_the_projected_pairs_decide_at_the_last_look_and_fewer_do_not() -> None:
    mean, spread = math.log(0.75), 0.2
    needed = pairs_needed(mean, spread, DROP, ALPHA, min_pairs=3, members=100)
    assert needed is not None

    def clears(count: int) -> bool:
        level = ALPHA / len(looks(3, count)) / 100  # the last look share, Holm first step
        return t_quantile(1 - level, count - 1) * spread / math.sqrt(count) < DROP - mean

    assert clears(needed)
    assert not clears(needed - 1)


def test_a_family_asks_more_pairs_of_a_regression_than_of_an_unchanged_call() -> None:
    alone = pairs_needed(math.log(0.75), 0.2, DROP, ALPHA, min_pairs=3, members=1)
    family = pairs_needed(math.log(0.75), 0.2, DROP, ALPHA, min_pairs=3, members=100)
    above = pairs_needed(math.log(1.05), 0.2, DROP, ALPHA, min_pairs=3, members=100)
    assert alone is not None
    assert family is not None
    assert above is not None
    assert alone < family
    assert above < family  # an unchanged call is not adjusted for the family


def test_a_change_at_the_threshold_is_never_projected_to_decide() -> None:
    assert pairs_needed(DROP, 0.2, DROP, ALPHA, min_pairs=3, members=100) is None
    assert pairs_needed(DROP - 0.01, 0.2, DROP, ALPHA, min_pairs=3) is None  # > MOST_PAIRS
    assert pairs_needed(math.log(0.5), 0.0, DROP, ALPHA, min_pairs=3) == 3


def test_a_projection_starts_past_the_pairs_already_run() -> None:
    pairs = paired_sessions(0.8, 0.2, 0.02, 5)
    projection = project(pairs, 0.10, ALPHA, min_pairs=3, members=100, rule="holm")
    assert projection is not None
    assert projection.pairs == 5
    assert projection.needed is None or projection.needed > 5
    assert project(pairs[:1], 0.10, ALPHA, min_pairs=3, members=100, rule="holm") is None


def test_an_uncertain_paired_test_says_what_deciding_it_would_take() -> None:
    made = paired_sessions(0.85, 0.15, 0.02, 4)
    base = [session(b) for b, _ in made]
    head = [session(h) for _, h in made]
    pooled = (pool(base, "base"), pool(head, "head"))
    compared = compare_paired(base, head, pooled, DEFAULT_FAIL_ON)
    changes, family = apply_family(compared, "holm", 0.95)
    assert changes[0].status is Status.UNCERTAIN
    (noted,) = projected(changes, {"base": base, "head": head}, family, 0.95, 3, 26.0)
    words = note_text(noted.notes[-1])
    assert words.startswith("uncertain after 4 pairs: the pairs scatter by about")
    assert "own round-to-round scatter" in words
    expected = project(made, 0.10, ALPHA, min_pairs=3, members=family.members, rule="holm")
    assert expected is not None
    assert noted.notes[-1].facts == (*dataclasses.astuple(expected), 26.0)
    if expected.needed is None:
        assert words.endswith("no affordable number of pairs decides it")
    else:
        assert f"about {expected.needed} pairs would decide it" in words
        assert f"--max-sessions {expected.needed}" in words
        assert expected.needed <= MOST_PAIRS


def test_the_run_sums_its_uncertain_tests_up_in_one_line() -> None:
    from pytest_parscale.paired.command import projection_summary
    from pytest_parscale.regression import Note, TestChange

    def uncertain(nodeid: str, needed: int | None, within: float | None) -> TestChange:
        note = Note("projection", (10, 0.17, within, needed, 25.0))
        return TestChange(nodeid, Status.UNCERTAIN, None, None, (), (note,))

    tests = [uncertain("a", 36, 1.0), uncertain("b", None, 0.9), uncertain("c", 12, None)]
    said = projection_summary(tests)
    assert said.startswith("3 test(s) still uncertain: the median one needs about 36 pairs")
    assert "in the median test 100% of the spread" in said  # of the two that know it
    assert projection_summary([uncertain("b", None, None)]).startswith(
        f"1 test(s) still uncertain: the median one needs over {MOST_PAIRS} pairs ("
    )
    assert projection_summary([]) == ""
