from __future__ import annotations

import math

import pytest

from pytest_parscale import fmt
from pytest_parscale.stats import Interval


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.5, "1.50"), (0.0523, "0.0523"), (12.345, "12.35"), (math.inf, "?"), (math.nan, "?")],
)
def test_ratio(value: float, text: str) -> None:
    assert fmt.ratio(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(2.5e-6, "2.5us"), (0.0123, "12.3ms"), (1.5, "1.5s"), (1351.2, "1351s"), (math.inf, "?")],
)
def test_seconds(value: float, text: str) -> None:
    assert fmt.seconds(value) == text


def test_speedup_interval_marks_unbounded_ends() -> None:
    assert fmt.speedup_interval(Interval(1.62, 1.5, 1.75, 0.95)) == "1.62x [1.50, 1.75]"
    assert fmt.speedup_interval(Interval(1.62, -math.inf, math.inf, 0.95)) == "1.62x [?, ?]"
    assert fmt.interval_of(1.62, None, None) == "1.62x"
    assert fmt.interval_of(1.62, 1.5, 1.75) == "1.62x [1.50, 1.75]"


def test_clipped_percent_shows_the_raw_interval_only_when_it_strays() -> None:
    assert fmt.clipped_percent(Interval(0.3, 0.2, 0.4, 0.95)) == "30% [20%, 40%]"
    assert (
        fmt.clipped_percent(Interval(0.64, 0.09, 2.42, 0.95))
        == "64% [9%, 100%] (raw 64% [9%, 242%])"
    )
    assert (
        fmt.clipped_percent(Interval(1.3, 0.9, 2.0, 0.95))
        == "100% [90%, 100%] (raw 130% [90%, 200%])"
    )
    assert (
        fmt.clipped_percent(Interval(-0.1, -0.2, 0.1, 0.95))
        == "0% [0%, 10%] (raw -10% [-20%, 10%])"
    )
    # One round: unbounded ends clip to the range, and the raw ends say "?".
    assert (
        fmt.clipped_percent(Interval(0.5, -math.inf, math.inf, 0.95))
        == "50% [0%, 100%] (raw 50% [?, ?])"
    )


def test_clipped_fraction() -> None:
    assert fmt.clipped_fraction(0.5) == "50%"
    assert fmt.clipped_fraction(1.2) == "100% (raw 120%)"
    assert fmt.clipped_fraction(-0.05) == "0% (raw -5%)"


def test_signed_interval_short_id_and_plural() -> None:
    assert fmt.signed_interval(-0.32, -0.36, -0.28, "%") == "-32% [-36%, -28%]"
    assert fmt.signed_interval(0.19, 0.15, math.inf, "pp") == "+19pp [+15pp, ?]"
    assert fmt.short_id("tests/t.py::test_a[pool-2]") == "test_a[pool-2]"
    assert fmt.plural(1, "worker") == "1 worker"
    assert fmt.plural(2, "worker") == "2 workers"


def test_a_raw_figure_that_prints_the_same_is_not_repeated() -> None:
    assert fmt.clipped_fraction(1.004) == "100%"
    assert fmt.clipped_fraction(1.03) == "100% (raw 103%)"
    assert fmt.clipped_percent(Interval(0.99, 0.97, 1.004, 0.95)) == "99% [97%, 100%]"


def test_workers_used_of_asked() -> None:
    assert fmt.workers(2, 2, False) == "2/2"
    assert fmt.workers(2, 8, False) == "2/8"
    assert fmt.workers(4, 4, True) == "4/4!"


def test_machine_figures_in_words() -> None:
    assert fmt.cpus(1) == "1 CPU"
    assert fmt.cpus(1.5) == "1.5 CPUs"
    assert fmt.load_average([1.8310546875, 1.29, 0.69287]) == "1.83, 1.29 and 0.69"
