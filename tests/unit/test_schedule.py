"""When a paired run looks, and when a test stops getting sessions: synthetic numbers."""

from __future__ import annotations

import math
import random

import pytest

from pytest_parscale.family import first_step
from pytest_parscale.paired.schedule import looks, out_of_reach
from pytest_parscale.paired.sessions import MAX_SESSIONS
from pytest_parscale.sequential import look_alpha

DROP = math.log(0.9)  # the default 10% threshold, in log speedup


def test_looks_grow_by_half_from_the_minimum_to_the_cap() -> None:
    assert looks(3, 60) == (3, 5, 8, 12, 18, 27, 41, 60)
    assert looks(3, 10) == (3, 5, 8, 10)
    assert looks(3, 3) == (3,)
    assert looks(2, 4) == (2, 3, 4)  # at least one more pair a look


def test_sixty_pairs_cost_the_looks_that_ten_pairs_at_every_pair_did() -> None:
    # the old rule looked at every pair from 3 to 10: 8 looks, the last at alpha / 8
    assert len(looks(3, 60)) == len(range(3, 11))


@pytest.mark.parametrize(("low", "high"), [(1, 10), (5, 4)])
def test_a_schedule_that_cannot_be_kept_is_refused(low: int, high: int) -> None:
    with pytest.raises(ValueError, match="min_pairs"):
        looks(low, high)


def cap_level(members: int = 100, cap: int = 60) -> float:
    """What a regression call at the cap is made at: the last look's share of 2.5%
    at Holm's first step over ``members`` comparisons."""
    return first_step(look_alpha(len(looks(3, cap)), 0.025, final=True), members, "holm")


def worse_of(mean: float) -> float:
    return DROP - mean  # positive: beyond the threshold on the worse side


def test_a_clear_drop_stays_within_reach_and_an_unchanged_tight_test_does_not() -> None:
    level = cap_level()
    assert not out_of_reach(worse_of(math.log(0.75)), 0.18, 3, max_pairs=60, level=level)
    assert out_of_reach(worse_of(0.0), 0.05, 5, max_pairs=60, level=level)


def test_a_noisy_unchanged_test_stops_once_its_interval_is_short_of_a_call() -> None:
    level = cap_level()
    # spread 0.5: a call at 60 pairs needs the mean about 0.3 beyond the threshold;
    # three pairs cannot rule that out, twelve can
    assert not out_of_reach(worse_of(0.0), 0.5, 3, max_pairs=60, level=level)
    assert out_of_reach(worse_of(0.0), 0.5, 12, max_pairs=60, level=level)


def test_nothing_stops_at_the_cap_or_before_two_pairs_or_without_spread() -> None:
    level = cap_level()
    assert not out_of_reach(worse_of(0.0), 0.05, 60, max_pairs=60, level=level)
    assert not out_of_reach(worse_of(0.0), 0.05, 1, max_pairs=60, level=level)
    assert out_of_reach(-0.01, 0.0, 5, max_pairs=60, level=level)
    assert not out_of_reach(0.01, 0.0, 5, max_pairs=60, level=level)


def test_a_drop_at_the_bar_is_rarely_stopped_and_an_unchanged_test_mostly_is() -> None:
    """Simulated: per-pair differences with the suite benchmark's median spread (0.18),
    looked at on the default schedule (up to 120 pairs). A true -25% drop must almost
    never be stopped (that is the power the rule gives up); an unchanged test should be."""
    noise = random.Random(11)
    cap = MAX_SESSIONS
    level = cap_level(cap=cap)
    schedule = looks(3, cap)[:-1]  # the last look stops everything anyway

    def stopped(mean: float) -> bool:
        values: list[float] = []
        for count in schedule:
            values += [noise.gauss(mean, 0.18) for _ in range(count - len(values))]
            observed = sum(values) / count
            spread = math.sqrt(sum((v - observed) ** 2 for v in values) / (count - 1))
            if out_of_reach(worse_of(observed), spread, count, max_pairs=cap, level=level):
                return True
        return False

    trials = 500  # 2000 of each measured 0.75% and 100% (at a cap of 60: 1.4% and 100%)
    drop = sum(stopped(math.log(0.75)) for _ in range(trials)) / trials
    unchanged = sum(stopped(0.0) for _ in range(trials)) / trials
    assert drop < 0.04
    assert unchanged > 0.95
