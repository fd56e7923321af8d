"""The trend table: sparklines and drift over synthetic history, no clock."""

from __future__ import annotations

from pytest_parscale.action.trend import BARS, sparkline, trend_markdown, trend_rows
from pytest_parscale.storage import Results
from pytest_parscale.thresholds import FailOn
from tests.records import MACHINE, at_speedup, record, scaled


def run(*records: object) -> Results:
    return Results(
        "r.json", 1, "2026-01-01T00:00:00+00:00", None, MACHINE, [], {r.nodeid: r for r in records}
    )  # type: ignore[attr-defined]


def test_sparkline_spans_the_bars_and_keeps_gaps() -> None:
    assert sparkline([1.0, 2.0, 3.0]) == BARS[0] + BARS[4] + BARS[-1]
    assert sparkline([2.0, None, 2.0]) == BARS[4] + " " + BARS[4]  # flat: the middle bar
    assert sparkline([None, float("nan")]) == "  "


def test_drift_of_nine_percent_per_run_shows_as_the_sum() -> None:
    base = record("t.py::drifts")
    history = [run(scaled(base, 0.91**step)) for step in range(5)]
    (row,) = trend_rows(history, run(scaled(base, 0.91**5)))
    assert row[0] == "`t.py::drifts`"
    assert row[1] == "`" + BARS[-1] + BARS[5] + BARS[4] + BARS[2] + BARS[1] + "\\|" + BARS[0] + "`"
    assert row[4] == "-38%"  # 0.91**5 - 1, never a single step beyond a 10% gate


def test_a_new_test_has_no_past_and_no_drift() -> None:
    (row,) = trend_rows([run(record("t.py::old"))], run(record("t.py::new")))
    assert row[2:] == ["-", "1.00", "-"]
    assert trend_markdown([], run(record("t.py::new"))) == []


def test_the_trend_names_the_commit_where_scaling_changed() -> None:
    def at(commit: str, speedup: float) -> Results:
        one = at_speedup("t.py::steps", speedup, (1.0, 1.01, 0.99, 1.0))
        steady = at_speedup("t.py::steady", 1.5, (1.0, 1.01, 0.99, 1.0))
        return Results(
            "r.json",
            1,
            "",
            {"commit": commit},
            MACHINE,
            [],
            {one.nodeid: one, steady.nodeid: steady},
        )

    runs = [at(f"{index}abc1234ffff", value) for index, value in enumerate([1.85] * 5 + [1.40] * 3)]
    lines = trend_markdown(runs[:-1], runs[-1])
    found = [line for line in lines if "scaling changed" in line]
    assert found == ["- `t.py::steps`: scaling changed at 5abc123: 1.85x -> 1.40x"]
    # below the threshold the same step is not named
    wide = FailOn(speedup=0.30, overhead=0.05)
    assert not [line for line in trend_markdown(runs[:-1], runs[-1], wide) if "changed" in line]
