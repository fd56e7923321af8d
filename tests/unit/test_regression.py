from __future__ import annotations

import math
import sys

import pytest

from pytest_parscale.notewords import note_texts
from pytest_parscale.regression import (
    Status,
    compare_records,
    compare_results,
    judge_change,
    worst_first,
)
from pytest_parscale.thresholds import DEFAULT_FAIL_ON, parse_fail_on
from tests.records import record, scaled

TIGHT_SERIAL = (2.0, 2.02, 1.98, 2.01, 1.99, 2.0, 2.01, 1.99)
TIGHT_PARALLEL = (1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0, 1.01)


def test_same_samples_are_unchanged() -> None:
    base = record(serial=TIGHT_SERIAL, parallel=TIGHT_PARALLEL)
    result = compare_records(base, base)
    assert result.status is Status.UNCHANGED
    (speedup,) = result.changes
    assert speedup.change == pytest.approx(0)
    assert speedup.low <= 0 <= speedup.high


def test_significant_drop_beyond_threshold_is_a_regression() -> None:
    base = record(serial=TIGHT_SERIAL, parallel=TIGHT_PARALLEL)
    head = scaled(base, 0.7)  # speedup 2.0 -> 1.4
    result = compare_records(base, head)
    assert result.status is Status.REGRESSION
    speedup = result.changes[0]
    assert speedup.change == pytest.approx(-0.3)
    assert speedup.significant
    assert speedup.high < 0
    assert speedup.base == pytest.approx(2.0)
    assert speedup.head == pytest.approx(1.4)


def test_change_beyond_threshold_but_within_noise_is_uncertain() -> None:
    base = record(serial=(2.0, 3.2, 1.1), parallel=(1.0, 1.0, 1.0))
    head = record(serial=(1.6, 3.0, 1.0), parallel=(1.0, 1.0, 1.0))  # median 2.0 -> 1.6
    result = compare_records(base, head)
    speedup = result.changes[0]
    assert speedup.change == pytest.approx(-0.2)
    assert not speedup.beyond  # the point is beyond the threshold, the interval is not
    assert not speedup.significant
    assert result.status is Status.UNCERTAIN


def test_significant_change_within_threshold_is_unchanged() -> None:
    base = record(serial=TIGHT_SERIAL, parallel=TIGHT_PARALLEL)
    head = scaled(base, 0.95)
    speedup = compare_records(base, head).changes[0]
    assert speedup.significant
    assert not speedup.beyond
    assert speedup.status is Status.UNCHANGED


def test_significant_gain_beyond_threshold_is_an_improvement() -> None:
    base = record(serial=TIGHT_SERIAL, parallel=TIGHT_PARALLEL)
    assert compare_records(base, scaled(base, 1.4)).status is Status.IMPROVEMENT


def test_transport_share_rise_is_an_overhead_regression() -> None:
    base = record(transport=(0.1, 0.11, 0.1, 0.09, 0.1, 0.1))
    head = record(transport=(0.3, 0.31, 0.3, 0.29, 0.3, 0.3))
    result = compare_records(base, head)
    assert result.status is Status.REGRESSION
    overhead = next(c for c in result.changes if c.metric == "overhead")
    assert overhead.change == pytest.approx(0.2)
    assert overhead.low > 0
    assert next(c for c in result.changes if c.metric == "speedup").status is Status.UNCHANGED


def test_overhead_is_compared_only_when_both_runs_measured_it() -> None:
    base = record(transport=(0.1, 0.11, 0.1, 0.09, 0.1, 0.1))
    assert [c.metric for c in compare_records(base, record()).changes] == ["speedup"]


def test_different_worker_counts_compare_speedup_per_worker() -> None:
    base = record(serial=[v * 2 for v in TIGHT_SERIAL], parallel=TIGHT_PARALLEL, workers=4)
    head = record(serial=TIGHT_SERIAL, parallel=TIGHT_PARALLEL, workers=2)  # 4x/4 vs 2x/2
    result = compare_records(base, head)
    assert result.status is Status.UNCHANGED
    assert result.changes[0].change == pytest.approx(0)
    assert any("workers differ" in note for note in note_texts(result.notes))


def test_too_few_rounds_are_never_significant() -> None:
    base = record(serial=(2.0, 2.0), parallel=(1.0, 1.0))
    head = record(serial=(1.0, 1.0), parallel=(1.0, 1.0))
    result = compare_records(base, head)
    assert result.status is Status.UNCERTAIN
    assert math.isinf(result.changes[0].low)


def test_a_metric_turned_off_never_regresses() -> None:
    base = record(serial=TIGHT_SERIAL, parallel=TIGHT_PARALLEL)
    off = parse_fail_on("speedup:off").over(DEFAULT_FAIL_ON)
    assert compare_records(base, scaled(base, 0.5), off).status is Status.UNCHANGED


def test_new_and_missing_tests() -> None:
    only = record()
    assert compare_records(None, only).status is Status.NEW
    assert compare_records(only, None).status is Status.MISSING


@pytest.mark.parametrize("pandas", ["installed", "absent"])
def test_compare_results_joins_on_test_id_worst_first(
    pandas: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if pandas == "absent":  # the Action's trusted comment job installs no pandas
        monkeypatch.setitem(sys.modules, "pandas", None)
    steady = record("t.py::steady", serial=TIGHT_SERIAL, parallel=TIGHT_PARALLEL)
    slower = record("t.py::slower", serial=TIGHT_SERIAL, parallel=TIGHT_PARALLEL)
    much_slower = record("t.py::much", serial=TIGHT_SERIAL, parallel=TIGHT_PARALLEL)
    gone = record("t.py::gone")
    base = {r.nodeid: r for r in (steady, slower, much_slower, gone)}
    head = {
        r.nodeid: r
        for r in (
            steady,
            scaled(slower, 0.8),
            scaled(much_slower, 0.5),
            record("t.py::added"),
        )
    }
    changes = compare_results(base, head)
    assert [(c.nodeid, c.status) for c in changes] == [
        ("t.py::much", Status.REGRESSION),
        ("t.py::slower", Status.REGRESSION),
        ("t.py::added", Status.NEW),
        ("t.py::gone", Status.MISSING),
        ("t.py::steady", Status.UNCHANGED),
    ]
    assert worst_first(list(reversed(changes))) == changes


def test_compare_results_honours_a_tests_own_threshold() -> None:
    base = record("t.py::lenient", serial=TIGHT_SERIAL, parallel=TIGHT_PARALLEL)
    head = scaled(base, 0.8)
    lenient = record(head.nodeid, serial=head.serial, parallel=head.parallel, fail_on="speedup:30%")
    assert compare_results({base.nodeid: base}, {head.nodeid: head})[0].status is Status.REGRESSION
    assert compare_results({base.nodeid: base}, {head.nodeid: lenient})[0].status is (
        Status.UNCHANGED
    )


def test_compare_results_of_empty_runs() -> None:
    assert compare_results({}, {}) == []


def _judged(change: float, low: float, high: float, p_value: float = 1.0) -> Status:
    return judge_change(
        "speedup", 2.0, 2.0 * (1 + change), change, (low, high), 0.10, True, (p_value, 1.0)
    ).status


def test_the_threshold_is_the_null() -> None:
    """A regression needs the whole interval beyond the threshold (issue 21: paired
    called -32% [-39%, -1%] a regression; its near end is inside the 10% threshold)."""
    assert _judged(-0.32, -0.39, -0.01, p_value=0.01) is Status.UNCERTAIN
    assert _judged(-0.32, -0.39, -0.12, p_value=0.01) is Status.REGRESSION
    # a real drift inside the threshold: unchanged when the interval rules out more
    assert _judged(-0.08, -0.09, -0.07) is Status.UNCHANGED
    # ... uncertain when it does not; never a regression
    assert _judged(-0.08, -0.12, -0.04, p_value=0.01) is Status.UNCERTAIN
    # the interval wholly beyond but the p-value above the per-side error: not called
    assert _judged(-0.32, -0.39, -0.12, p_value=0.2) is Status.UNCERTAIN


def test_p_value_and_interval_call_one_case_alike() -> None:
    """One case alone: regression exactly when its 95% interval lies beyond the
    threshold, and then its p-value is at most 2.5%."""
    base = record(serial=TIGHT_SERIAL, parallel=TIGHT_PARALLEL)
    for factor in (0.95, 0.9, 0.88, 0.85, 0.8, 0.6):
        (speedup,) = compare_records(base, scaled(base, factor)).changes
        called = speedup.status is Status.REGRESSION
        assert called == (speedup.high < -0.10), factor
        assert called == (speedup.p_value <= 0.025), (factor, speedup.p_value)


def test_a_test_that_failed_on_one_side_is_an_error_not_missing_or_new() -> None:
    kept = record("t.py::kept", serial=TIGHT_SERIAL, parallel=TIGHT_PARALLEL)
    broken = record("t.py::broken", serial=TIGHT_SERIAL, parallel=TIGHT_PARALLEL)
    fixed = record("t.py::fixed", serial=TIGHT_SERIAL, parallel=TIGHT_PARALLEL)
    changes = compare_results(
        {kept.nodeid: kept, broken.nodeid: broken},
        {kept.nodeid: kept, fixed.nodeid: fixed},
        base_errors={fixed.nodeid: "call: result 3 differs"},
        head_errors={broken.nodeid: "call: result 0 differs", "t.py::other": "setup: boom"},
    )
    by_id = {test.nodeid: test for test in changes}
    assert by_id["t.py::broken"].status is Status.ERROR
    assert note_texts(by_id["t.py::broken"].notes) == ("error on head: call: result 0 differs",)
    assert note_texts(by_id["t.py::fixed"].notes) == ("error on base: call: result 3 differs",)
    assert "t.py::other" not in by_id  # measured on neither side: nothing to compare
    assert [test.nodeid for test in changes][:2] == ["t.py::broken", "t.py::fixed"]
