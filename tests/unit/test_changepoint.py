"""Change points over synthetic histories: the split, its significance and its size."""

from __future__ import annotations

import math
import random

import pytest

from pytest_parscale.changepoint import best_split, scaling_change, short_commit
from pytest_parscale.notewords import change_point_text
from pytest_parscale.results import Record
from pytest_parscale.storage import Results
from pytest_parscale.thresholds import FailOn
from tests.records import MACHINE, at_speedup, record

TEN = FailOn(speedup=0.10, overhead=0.05)
PARALLEL = (1.0, 1.01, 0.99, 1.0, 1.02, 0.98)


def noisy(level: float, count: int, spread: float, seed: int) -> list[float]:
    generator = random.Random(seed)
    return [level + generator.gauss(0, spread) for _ in range(count)]


def run(commit: str | None, *records: Record) -> Results:
    git = {"commit": commit} if commit is not None else None
    return Results(
        "r.json", 1, "2026-01-01T00:00:00+00:00", git, MACHINE, [], {r.nodeid: r for r in records}
    )


def history(speedups: list[float], nodeid: str = "t.py::steps") -> list[Results]:
    return [
        run(f"{index:02d}" + "c0ffee" * 6, at_speedup(nodeid, value, PARALLEL))
        for index, value in enumerate(speedups)
    ]


def test_a_clear_step_is_found_where_it_happened() -> None:
    values = noisy(0.0, 6, 0.02, 1) + noisy(-0.3, 5, 0.02, 2)
    split = best_split(values)
    assert split is not None
    assert split.index == 6
    assert split.p_value < 0.01
    assert split.after - split.before == pytest.approx(-0.3, abs=0.05)


def test_noise_without_a_step_is_not_significant() -> None:
    split = best_split(noisy(0.0, 12, 0.05, 3))
    assert split is not None
    assert split.p_value > 0.05


def test_the_p_value_is_seeded_by_the_data() -> None:
    values = noisy(0.0, 10, 0.05, 4)
    assert best_split(values) == best_split(list(values))


def test_each_side_needs_min_side_runs() -> None:
    assert best_split([0.0] * 5) is None  # 3 + 3 needs six
    # a single odd run at either end is no change point: it cannot be a side
    split = best_split([0.0, 0.0, 0.0, 0.0, 0.0, -1.0])
    assert split is not None
    assert split.index == 3
    with pytest.raises(ValueError, match="min_side must be at least 2, not 1"):
        best_split([0.0] * 6, min_side=1)


def test_flat_sides_with_a_step_are_infinitely_clear() -> None:
    split = best_split([1.0] * 4 + [2.0] * 4)
    assert split is not None
    assert split.index == 4
    assert math.isinf(split.statistic)
    # exactly: 2 of the C(8, 4) = 70 orders are as clear (the step either way round)
    assert split.p_value == pytest.approx(2 / 70, abs=0.015)


def test_three_runs_a_side_can_never_be_significant_at_five_percent() -> None:
    # 2 of the C(6, 3) = 20 orders are as clear as any step: p is 0.1 at best
    split = best_split([1.0] * 3 + [2.0] * 3)
    assert split is not None
    assert split.p_value == pytest.approx(2 / 20, abs=0.05)
    assert split.p_value > 0.05


def test_scaling_change_names_the_commit_and_both_speedups() -> None:
    runs = history([1.85] * 5 + [1.40] * 4)
    found = scaling_change(runs, "t.py::steps", TEN)
    assert found is not None
    assert found.run == 5
    assert found.commit == runs[5].git["commit"]  # type: ignore[index]
    assert (
        change_point_text(found)
        == f"scaling changed at {short_commit(found.commit)}: 1.85x -> 1.40x"
    )
    assert found.change == pytest.approx(1.40 / 1.85 - 1)


def test_a_significant_step_below_the_threshold_is_not_reported() -> None:
    runs = history([1.85] * 5 + [1.80] * 5)  # -2.7%: clear, but under 10%
    assert scaling_change(runs, "t.py::steps", TEN) is None
    assert scaling_change(runs, "t.py::steps", FailOn(speedup=0.02, overhead=0.05)) is not None


def test_the_tests_own_threshold_wins() -> None:
    runs = [
        run(
            f"{index}" * 7,
            record(
                "t.py::own",
                serial=[p * value for p in PARALLEL],
                parallel=PARALLEL,
                fail_on="speedup:30%",
            ),
        )
        for index, value in enumerate([1.85] * 4 + [1.40] * 4)
    ]
    assert scaling_change(runs, "t.py::own", TEN) is None  # -24% under its own 30%
    assert scaling_change(history([1.85] * 4 + [1.40] * 4), "t.py::steps", TEN) is not None


def test_a_big_step_inside_the_noise_is_not_significant() -> None:
    generator = random.Random(5)
    speedups = [1.6 * math.exp(generator.gauss(0, 0.4)) for _ in range(10)]
    assert scaling_change(history(speedups), "t.py::steps", TEN) is None


def test_an_improvement_is_a_change_too_and_a_missing_commit_says_the_run() -> None:
    runs = [run(None, at_speedup("t.py::up", value, PARALLEL)) for value in [1.2] * 4 + [1.8] * 4]
    found = scaling_change(runs, "t.py::up", TEN)
    assert found is not None
    assert change_point_text(found) == "scaling changed at run 5: 1.20x -> 1.80x"


def test_runs_without_the_test_are_skipped_and_too_few_give_nothing() -> None:
    runs = history([1.85] * 4 + [1.40] * 4)
    gap = run("f" * 40, at_speedup("t.py::other", 1.0, PARALLEL))
    found = scaling_change([*runs[:4], gap, *runs[4:]], "t.py::steps", TEN)
    assert found is not None
    assert found.run == 5
    assert scaling_change(runs[:5], "t.py::steps", TEN) is None
    assert scaling_change(runs, "t.py::absent", TEN) is None
