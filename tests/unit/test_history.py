"""History baselines: the model on synthetic runs, and the *.jsonl file it lives in."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import statistics
from pathlib import Path

import pytest

from pytest_parscale.cli import main
from pytest_parscale.errors import BaselineError
from pytest_parscale.history import (
    MIN_RUNS,
    compare_to_history,
    fit_on_capacity,
    judge_test,
    t_quantile,
)
from pytest_parscale.markdown import md
from pytest_parscale.notewords import note_text, note_texts
from pytest_parscale.regression import Status, compare_records
from pytest_parscale.results import SCHEMA_VERSION, Capacity, Record, document, write_atomic
from pytest_parscale.storage import append_history, check_save_target, load, save
from pytest_parscale.thresholds import DEFAULT_FAIL_ON
from tests.records import MACHINE, at_speedup

TEST = "t.py::test_scales[pool]"
PARALLEL = (1.0, 1.002, 0.998, 1.001, 0.999, 1.0)


def run(speedup: float, *, transport: float | None = None) -> Record:
    """One run of the test: very tight rounds (a narrow within-run interval)."""
    return at_speedup(TEST, speedup, PARALLEL, transport=transport)


SPREAD = (1.6, 2.0, 1.8, 2.2, 1.7, 1.9)  # runs on changing CI machines: ±10% between runs


@pytest.mark.parametrize(
    ("probability", "freedom", "expected"),
    [
        (0.975, 1, 12.706),
        (0.975, 2, 4.303),
        (0.975, 5, 2.571),
        (0.95, 9, 1.833),
        (0.975, 120, 1.980),
    ],
)
def test_t_quantile_matches_the_tables(probability: float, freedom: int, expected: float) -> None:
    assert t_quantile(probability, freedom) == pytest.approx(expected, abs=2e-3)


def test_unchanged_head_inside_the_spread_passes_though_its_own_interval_is_narrow() -> None:
    runs = [run(value) for value in SPREAD]
    head = run(1.62)
    assert head.speedup.high - head.speedup.low < 0.05  # the head alone looks very sure
    single = compare_records(runs[-1], head, DEFAULT_FAIL_ON)
    assert single.status is Status.REGRESSION  # what one saved run would have said
    judged = compare_to_history(runs, head, DEFAULT_FAIL_ON)
    assert judged.status is not Status.REGRESSION
    assert not judged.changes[0].significant
    assert "spread between the last 6 runs" in note_text(judged.notes[0])


def test_a_25_percent_drop_is_flagged() -> None:
    runs = [run(value) for value in (2.0, 2.04, 1.97, 2.02, 1.99)]
    judged = compare_to_history(runs, run(1.5), DEFAULT_FAIL_ON)
    assert judged.status is Status.REGRESSION
    (speedup,) = judged.changes
    geometric_mean = (2.0 * 2.04 * 1.97 * 2.02 * 1.99) ** (1 / 5)
    assert speedup.change == pytest.approx(1.5 / geometric_mean - 1)
    assert speedup.high < -0.1


def test_a_noisy_history_flags_a_40_percent_drop_and_leaves_25_percent_uncertain() -> None:
    """±11% between runs (10 kept): one run's band is ±26%, so a -25% drop does not lie
    wholly beyond the 10% threshold (uncertain: the threshold is the null), a -42% one
    does. -13% is uncertain too; none of them is called unchanged."""
    runs = [run(value) for value in SPREAD * 2]
    assert compare_to_history(runs, run(1.62), DEFAULT_FAIL_ON).status is Status.UNCERTAIN
    assert compare_to_history(runs, run(1.4), DEFAULT_FAIL_ON).status is Status.UNCERTAIN
    assert compare_to_history(runs, run(1.1), DEFAULT_FAIL_ON).status is Status.REGRESSION


def test_transport_share_judged_against_its_history() -> None:
    runs = [run(2.0, transport=share) for share in (0.10, 0.12, 0.11, 0.09)]
    judged = compare_to_history(runs, run(2.0, transport=0.30), DEFAULT_FAIL_ON)
    overhead = next(change for change in judged.changes if change.metric == "overhead")
    assert overhead.status is Status.REGRESSION
    assert overhead.change == pytest.approx(0.30 - 0.105)


def test_only_the_last_window_of_runs_counts() -> None:
    old = [run(4.0)] * 20  # the code was much faster long ago
    recent = [run(value) for value in (2.0, 2.02, 1.98, 2.01)]
    judged = compare_to_history([*old, *recent], run(2.0), DEFAULT_FAIL_ON, window=4)
    assert judged.status is Status.UNCHANGED


@pytest.mark.parametrize("count", range(1, MIN_RUNS))
def test_fewer_than_3_runs_fall_back_to_the_single_run_rule_and_say_so(count: int) -> None:
    runs = [run(2.0)] * count
    head = run(1.5)
    judged = compare_to_history(runs, head, DEFAULT_FAIL_ON)
    single = compare_records(runs[-1], head, DEFAULT_FAIL_ON)
    assert judged.status is single.status is Status.REGRESSION
    assert judged.changes == single.changes
    assert f"history has {count} comparable run(s)" in note_text(judged.notes[-1])
    assert "single-run rule" in note_text(judged.notes[-1])


def test_cluster_runs_do_not_count_against_an_embedded_head() -> None:
    cluster = dataclasses.replace(
        run(2.0), executor={"backend": "pool", "engine": "ray://127.0.0.1:10001"}
    )
    judged = compare_to_history([cluster] * 5 + [run(2.0)], run(2.0), DEFAULT_FAIL_ON)
    assert "fewer than 3" in note_text(judged.notes[-1])


# -- the file --------------------------------------------------------------------


def doc(speedup: float) -> dict[str, object]:
    return document([run(speedup)], MACHINE, [])


def history_file(tmp_path: Path, speedups: tuple[float, ...]) -> Path:
    path = tmp_path / "history.jsonl"
    for value in speedups:
        save(str(path), doc(value), overwrite=False)  # appends, whatever overwrite says
    return path


def test_save_appends_and_load_keeps_every_run_oldest_first(tmp_path: Path) -> None:
    path = history_file(tmp_path, (2.0, 2.1, 1.9))
    lines = path.read_text().splitlines()
    assert [json.loads(line)["schema_version"] for line in lines] == [SCHEMA_VERSION] * 3
    loaded = load(path)
    assert len(loaded.runs) == 3
    assert loaded.records[TEST].serial[0] == pytest.approx(1.9)  # the latest run
    assert [r.records[TEST].serial[0] for r in loaded.runs] == pytest.approx([2.0, 2.1, 1.9])
    assert list(tmp_path.iterdir()) == [path]  # no temporary left behind


def test_a_cut_last_line_is_reported_by_number_and_nothing_is_appended(tmp_path: Path) -> None:
    path = history_file(tmp_path, (2.0, 2.1))
    good = path.read_text()
    path.write_text(good + json.dumps(doc(1.9))[:80])
    with pytest.raises(BaselineError, match=r"history.jsonl line 3: is not valid JSON \(truncated"):
        load(path)
    with pytest.raises(BaselineError, match="line 3"):
        check_save_target(str(path), overwrite=False)
    with pytest.raises(BaselineError, match="line 3"):
        append_history(str(path), doc(2.0))
    assert path.read_text() == good + json.dumps(doc(1.9))[:80]


def test_a_bad_line_in_the_middle_names_its_line(tmp_path: Path) -> None:
    path = history_file(tmp_path, (2.0, 2.1))
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], '{"schema_version": 1}', lines[1]]) + "\n")
    with pytest.raises(BaselineError, match="line 2: does not match results schema v1"):
        load(path)


def test_a_newer_version_on_one_line_is_refused(tmp_path: Path) -> None:
    path = history_file(tmp_path, (2.0,))
    future = {**doc(2.0), "schema_version": 99}
    path.write_text(path.read_text() + json.dumps(future) + "\n")
    with pytest.raises(BaselineError, match="line 2: has schema_version 99, newer"):
        load(path)


def test_a_crash_during_append_keeps_the_old_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = history_file(tmp_path, (2.0, 2.1))
    before = path.read_text()

    def crash(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        append_history(str(path), doc(1.9))
    assert path.read_text() == before
    assert list(tmp_path.iterdir()) == [path]


def test_missing_final_newline_is_repaired_not_lost(tmp_path: Path) -> None:
    path = history_file(tmp_path, (2.0,))
    path.write_text(path.read_text().rstrip("\n"))
    append_history(str(path), doc(2.1))
    assert len(load(path).runs) == 2


def test_empty_history_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text("\n\n")
    with pytest.raises(BaselineError, match="empty history"):
        load(path)


def test_single_file_baseline_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    write_atomic(path, doc(2.0))
    assert load(path).runs == ()
    with pytest.raises(BaselineError, match="already exists"):
        check_save_target(str(path), overwrite=False)
    judged = judge_test(load(path), run(1.5), DEFAULT_FAIL_ON)
    assert judged.status is Status.REGRESSION
    assert not judged.notes


def test_judge_test_uses_the_history(tmp_path: Path) -> None:
    baseline = load(history_file(tmp_path, SPREAD))
    assert judge_test(baseline, run(1.62), DEFAULT_FAIL_ON).status is not Status.REGRESSION
    assert judge_test(baseline, run(1.2), DEFAULT_FAIL_ON).status is Status.REGRESSION


def test_parscale_compare_accepts_a_history_as_base(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = history_file(tmp_path, SPREAD)
    inside, dropped = tmp_path / "inside.json", tmp_path / "dropped.json"
    write_atomic(inside, doc(1.62))
    write_atomic(dropped, doc(1.0))
    assert main(["compare", str(history), str(inside)]) == 0
    assert main(["compare", str(history), str(dropped), "--format", "json"]) == 1
    out = capsys.readouterr().out
    report = json.loads(out[out.index("\n{") :])
    assert report["verdict"] == "regression"
    assert report["mode"] == "history"
    assert report["judged_against"].startswith(f"the history {history} (6 runs)")
    assert "spread between the last 6 runs" in report["tests"][0]["notes"][0]


def test_a_single_baseline_says_so_in_every_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = tmp_path / "base.json", tmp_path / "head.json"
    write_atomic(base, doc(2.0))
    write_atomic(head, doc(2.0))
    assert main(["compare", str(base), str(head), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["mode"] == "single"
    assert main(["compare", str(base), str(head)]) == 0
    assert capsys.readouterr().out.rstrip().endswith(f"judged against the single run {base}")
    assert main(["compare", str(base), str(head), "--format", "markdown"]) == 0
    assert f"_Judged against {md(f'the single run {base}')}._" in capsys.readouterr().out


def test_report_refuses_a_history_and_show_prints_its_latest_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = history_file(tmp_path, (2.0, 1.5))
    assert main(["report", str(history), "--html", str(tmp_path / "html")]) == 2
    assert "is a history of runs" in capsys.readouterr().err
    assert main(["show", str(history), "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["results"][0]["samples"]["serial"][0] == pytest.approx(1.5)


# -- capacity: the fit of the test's own sensitivity -----------------------------

SLOPE = 0.9  # log speedup on log fed share, as measured for a pool map on 2 cores
NOISE = 0.05  # residual sd of the logs between runs
CORES = (1.0, 1.86, 1.29, 2.0, 1.57, 1.14, 1.71, 1.43)  # the neighbour changed between runs


def at_capacity(speedup: float, cores: float | None) -> Record:
    """One run on 2 workers measured with ``cores`` of 2 (None: capacity not measured)."""
    capacity = None if cores is None else Capacity(cores=cores, low=cores, usable=2, own=1.0)
    return dataclasses.replace(run(speedup), capacity=capacity)


def expected_speedup(cores: float, slope: float = SLOPE) -> float:
    """The unchanged code's speedup on 2 workers fed ``cores``: 1.9x on a quiet machine."""
    return 1.9 * (min(cores, 2) / 2) ** slope


def loaded_history(slope: float = SLOPE, seed: int = 14) -> list[Record]:
    """Runs under a changing neighbour load: speedup follows capacity, plus noise."""
    noise = random.Random(seed)
    return [
        at_capacity(expected_speedup(cores, slope) * math.exp(noise.gauss(0, NOISE)), cores)
        for cores in CORES
    ]


def blind(records: list[Record]) -> list[Record]:
    """The same runs with no capacity measured: what the mean model sees."""
    return [dataclasses.replace(record, capacity=None) for record in records]


def test_fit_on_capacity_matches_a_hand_computation() -> None:
    """x 0..3, y (0, 1, 1, 3): xbar 1.5, Sxx 5, Sxy 4.5, so slope 0.9 and intercept -0.1;
    residuals (0.1, 0.2, -0.7, 0.4) give s^2 = 0.7 / 2; at x0 = 4 the line says 3.5 and
    the half-width is t(0.975, 2) * s * sqrt(1 + 1/4 + 2.5^2 / 5) = 4.303 * sqrt(0.875)."""
    fit = fit_on_capacity([0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 1.0, 3.0], 4.0, 0.95)
    assert fit.slope == pytest.approx(0.9)
    assert fit.intercept == pytest.approx(-0.1)
    assert fit.expected == pytest.approx(3.5)
    assert fit.half == pytest.approx(t_quantile(0.975, 2) * math.sqrt(0.35 * 2.5))
    assert fit.half == pytest.approx(4.303 * math.sqrt(0.875), abs=2e-3)


def test_unchanged_code_on_a_busy_machine_is_judged_and_unchanged() -> None:
    """A history spanning 1.0..2.0 cores, the head at 1.05: the fit expects its speedup."""
    runs = loaded_history()
    head = at_capacity(expected_speedup(1.05), 1.05)
    judged = compare_to_history(runs, head, DEFAULT_FAIL_ON)
    # neither a regression nor "not judged"; the band is too wide to rule out 10% (uncertain)
    assert judged.status in (Status.UNCHANGED, Status.UNCERTAIN)
    assert not judged.reason
    (speedup,) = judged.changes
    logs = [math.log(r.speedup_per_worker) for r in runs]
    shares = [math.log(cores / 2) for cores in CORES]
    fit = fit_on_capacity(shares, logs, math.log(1.05 / 2), 0.95)
    assert fit.slope == pytest.approx(SLOPE, abs=0.15)
    shift = math.log(head.speedup_per_worker) - fit.expected
    assert speedup.change == pytest.approx(math.expm1(shift))
    assert (speedup.low, speedup.high) == pytest.approx(
        (math.expm1(shift - fit.half), math.expm1(shift + fit.half))
    )
    assert speedup.base == pytest.approx(math.exp(fit.expected) * 2)
    assert note_texts(judged.notes) == (
        f"judged against the last 8 runs of the history, speedup fitted on capacity "
        f"(slope {fit.slope:.2f}): expected {math.exp(fit.expected) * 2:.2f}x at 1.1/2 cores",
    )


def test_a_25_percent_drop_on_a_loaded_history_is_a_regression_only_with_the_fit() -> None:
    runs = loaded_history()
    head = at_capacity(0.75 * expected_speedup(1.5), 1.5)
    judged = compare_to_history(runs, head, DEFAULT_FAIL_ON)
    assert judged.status is Status.REGRESSION
    assert judged.changes[0].high < -DEFAULT_FAIL_ON.speedup  # type: ignore[operator]
    # the mean model's band holds the whole load's spread: the drop hides in it
    mean = compare_to_history(blind(runs), blind([head])[0], DEFAULT_FAIL_ON)
    assert mean.status is Status.UNCERTAIN
    assert not mean.changes[0].significant


def test_a_flat_capacity_history_keeps_the_mean_model() -> None:
    """1.9..2.0 of 2 differs by 5%, inside the 10% tolerance: nothing to fit."""
    cores = (2.0, 1.9, 1.95, 2.0, 1.92, 1.98)
    runs = [at_capacity(value, c) for value, c in zip(SPREAD, cores, strict=True)]
    for head in (at_capacity(1.62, 2.0), at_capacity(1.2, 1.96)):
        judged = compare_to_history(runs, head, DEFAULT_FAIL_ON)
        mean = compare_to_history(blind(runs), blind([head])[0], DEFAULT_FAIL_ON)
        assert (judged.status, judged.changes) == (mean.status, mean.changes)
        assert note_texts(judged.notes) == (
            "judged against the spread between the last 6 runs of the history",
        )


@pytest.mark.parametrize("missing", ["a run", "the head"])
def test_a_missing_capacity_keeps_the_mean_model(missing: str) -> None:
    runs = loaded_history()
    head = at_capacity(expected_speedup(1.05), 1.05)
    if missing == "a run":
        runs[3] = dataclasses.replace(runs[3], capacity=None)
    else:
        head = dataclasses.replace(head, capacity=None)
    judged = compare_to_history(runs, head, DEFAULT_FAIL_ON)
    mean = compare_to_history(blind(runs), blind([head])[0], DEFAULT_FAIL_ON)
    assert judged.changes == mean.changes
    assert (
        note_text(judged.notes[0])
        == "judged against the spread between the last 8 runs of the history"
    )
    assert "capacity not measured" in note_text(judged.notes[1])


def test_three_runs_of_varied_capacity_keep_the_mean_model() -> None:
    """n - 2 = 1 degree of freedom is no spread for a line: MIN_FIT_RUNS is 4."""
    runs = loaded_history()[:3]
    head = at_capacity(expected_speedup(1.5), 1.5)
    judged = compare_to_history(runs, head, DEFAULT_FAIL_ON)
    mean = compare_to_history(blind(runs), blind([head])[0], DEFAULT_FAIL_ON)
    assert judged.changes == mean.changes
    assert (
        note_text(judged.notes[0])
        == "judged against the spread between the last 3 runs of the history"
    )


def test_a_transport_bound_history_fits_a_flat_line() -> None:
    """Speedup that does not follow capacity: the fitted slope is near 0, so a busier
    head with the same speedup is unchanged (no improvement made up by normalising),
    and a 25% drop on the busier machine is the code's: capacity excuses nothing."""
    runs = loaded_history(slope=0.0)
    logs = [math.log(r.speedup_per_worker) for r in runs]
    shares = [math.log(cores / 2) for cores in CORES]
    assert abs(fit_on_capacity(shares, logs, 0.0, 0.95).slope) < 0.2
    same = compare_to_history(runs, at_capacity(1.9, 1.05), DEFAULT_FAIL_ON)
    assert same.status in (
        Status.UNCHANGED,
        Status.UNCERTAIN,
    )  # not a regression: the threshold is the null
    assert abs(same.changes[0].change) < DEFAULT_FAIL_ON.speedup  # type: ignore[operator]
    dropped = at_capacity(0.75 * 1.9, 1.05)
    assert compare_to_history(runs, dropped, DEFAULT_FAIL_ON).status is Status.REGRESSION
    # assuming the speedup follows the cores, as excuse_by_capacity does, the quiet run
    # at 2.0 cores would have excused the drop
    assert runs[3].capacity == Capacity(2.0, 2.0, 2, own=1.0)
    assert compare_records(runs[3], dropped, DEFAULT_FAIL_ON).status is Status.INCOMPARABLE


def test_a_head_busier_than_every_run_is_extrapolated_and_weighed_against_the_nearest() -> None:
    """Runs at 1.6..2.0 cores, the head at 1.0: the line is extrapolated, and the gap
    from the run of nearest capacity (1.6 cores) excuses what it could explain."""
    noise = random.Random(7)
    cores = (2.0, 1.6, 1.9, 1.7, 2.0, 1.8, 1.65, 1.95)
    runs = [at_capacity(expected_speedup(c) * math.exp(noise.gauss(0, NOISE)), c) for c in cores]
    likely = compare_to_history(runs, at_capacity(expected_speedup(1.0), 1.0), DEFAULT_FAIL_ON)
    assert likely.status is not Status.REGRESSION  # a slope fitted on 1.6..2.0 is loose at 1.0
    assert "outside the 80%..100% of its workers the runs' machines could feed" in note_text(
        likely.notes[0]
    )
    assert "machine busier: capacity 1.0 of 2 now vs 1.6 of 2" in note_text(likely.notes[-1])
    # fed 1.0 / 1.6 of the nearest run's cores, a map may lose about 40% of its speedup;
    # but the extrapolated band is wide, so the drop's interval reaches beyond what the
    # lost cores explain: judged (issue 21: only a wholly explained drop is excused)
    explained = compare_to_history(runs, at_capacity(0.7, 1.0), DEFAULT_FAIL_ON)
    assert explained.changes[0].status is Status.REGRESSION
    assert explained.status is Status.REGRESSION
    assert note_text(explained.notes[-1]).startswith(
        "machine busier: capacity 1.0 of 2 now vs 1.6 of 2"
    )
    assert "more than that could explain" in note_text(explained.notes[-1])
    beyond = compare_to_history(runs, at_capacity(0.2, 1.0), DEFAULT_FAIL_ON)
    assert beyond.status is Status.REGRESSION
    assert "fallen by more than that could explain" in note_text(beyond.notes[-1])


def test_a_head_inside_the_widened_range_is_not_weighed_by_capacity() -> None:
    """1.5 cores against runs at 1.6..2.0: within the 10% tolerance of the range, so the
    capacity is modelled; a 25% drop there is a regression, not "not judged"."""
    noise = random.Random(7)
    cores = (2.0, 1.6, 1.9, 1.7, 2.0, 1.8, 1.65, 1.95)
    runs = [at_capacity(expected_speedup(c) * math.exp(noise.gauss(0, NOISE)), c) for c in cores]
    judged = compare_to_history(
        runs, at_capacity(0.75 * expected_speedup(1.5), 1.5), DEFAULT_FAIL_ON
    )
    assert judged.status is Status.REGRESSION
    assert len(judged.notes) == 1
    assert "outside" not in note_text(judged.notes[0])


def test_a_falling_fitted_line_is_taken_flat() -> None:
    """Runs whose speedup happens to be higher on busier machines (noise: less
    capacity never raises a speedup): the head is judged against the runs' mean band
    with slope 0, not against a line promising more on a busy machine."""
    runs = [at_capacity(1.9 * (2 / cores) ** 0.3, cores) for cores in CORES]
    logs = [math.log(r.speedup_per_worker) for r in runs]
    assert fit_on_capacity([math.log(c / 2) for c in CORES], logs, 0.0, 0.95).slope < 0
    mean = math.exp(statistics.fmean(logs)) * 2
    busy = compare_to_history(runs, at_capacity(mean, 1.05), DEFAULT_FAIL_ON)
    assert busy.status in (
        Status.UNCHANGED,
        Status.UNCERTAIN,
    )  # not a regression: the threshold is the null
    assert "(slope 0.00)" in note_text(busy.notes[0])
    assert busy.changes[0].change == pytest.approx(0.0, abs=1e-9)


def test_history_p_value_and_band_call_alike() -> None:
    """The band's p-value (exact t) calls a regression exactly when the band lies
    wholly beyond the threshold; at the threshold itself it is about 0.5."""
    runs = [run(value) for value in (2.0, 2.1, 1.95, 2.05, 1.9, 2.0)]
    for head in (1.9, 1.8, 1.7, 1.6, 1.5, 1.2):
        (speedup,) = compare_to_history(runs, run(head), DEFAULT_FAIL_ON).changes
        called = speedup.status is Status.REGRESSION
        assert called == (speedup.high < -0.10), head
        assert called == (speedup.p_value <= 0.025), (head, speedup.p_value)
    mean = statistics.geometric_mean([2.0, 2.1, 1.95, 2.05, 1.9, 2.0])
    (at_threshold,) = compare_to_history(runs, run(mean * 0.9), DEFAULT_FAIL_ON).changes
    assert at_threshold.p_value == pytest.approx(0.5, abs=0.01)


def test_a_window_saved_within_minutes_is_warned_about() -> None:
    from pytest_parscale.history import crowded_window
    from pytest_parscale.notewords import note_text
    from pytest_parscale.storage import Results

    def saved(minute: int, hour: int = 0) -> Results:
        return Results("h.jsonl", 2, f"2026-03-01T{hour:02d}:{minute:02d}:00+00:00", None, {}, [])

    crowded = crowded_window([saved(minute) for minute in (1, 5, 9, 12)])
    assert crowded is not None
    assert note_text(crowded).startswith("its last 4 runs were saved within 11 min of each other")
    assert crowded_window([saved(0, hour) for hour in (1, 5, 9)]) is None
    assert crowded_window([saved(1), saved(2)]) is None  # too few runs to judge against
    assert crowded_window([dataclasses.replace(saved(1), created="yesterday")] * 3) is None
