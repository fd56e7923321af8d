"""The trend table: sparklines and drift over synthetic history, no clock."""

from __future__ import annotations

from pytest_parscale.storage import Results
from pytest_parscale.trend import BARS, sparkline, trend_markdown, trend_rows
from tests.records import MACHINE, record, scaled


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
