"""History baselines: the model on synthetic runs, and the *.jsonl file it lives in."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from pytest_parscale.cli import main
from pytest_parscale.diffreport import md
from pytest_parscale.errors import BaselineError
from pytest_parscale.history import (
    MIN_RUNS,
    compare_to_history,
    judge_test,
    t_quantile,
)
from pytest_parscale.regression import Status, compare_records
from pytest_parscale.results import SCHEMA_VERSION, Record, document, write_atomic
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
    assert "spread between the last 6 runs" in judged.notes[0]


def test_a_25_percent_drop_is_flagged() -> None:
    runs = [run(value) for value in (2.0, 2.04, 1.97, 2.02, 1.99)]
    judged = compare_to_history(runs, run(1.5), DEFAULT_FAIL_ON)
    assert judged.status is Status.REGRESSION
    (speedup,) = judged.changes
    geometric_mean = (2.0 * 2.04 * 1.97 * 2.02 * 1.99) ** (1 / 5)
    assert speedup.change == pytest.approx(1.5 / geometric_mean - 1)
    assert speedup.high < -0.1


def test_a_noisy_history_still_flags_a_25_percent_drop_but_not_a_13_percent_one() -> None:
    """±11% between runs (10 kept): -13% is inside the band, -25% is beyond it."""
    runs = [run(value) for value in SPREAD * 2]
    assert compare_to_history(runs, run(1.62), DEFAULT_FAIL_ON).status is Status.UNCERTAIN
    assert compare_to_history(runs, run(1.4), DEFAULT_FAIL_ON).status is Status.REGRESSION


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
    assert f"history has {count} comparable run(s)" in judged.notes[-1]
    assert "single-run rule" in judged.notes[-1]


def test_cluster_runs_do_not_count_against_an_embedded_head() -> None:
    cluster = dataclasses.replace(
        run(2.0), executor={"backend": "pool", "engine": "ray://127.0.0.1:10001"}
    )
    judged = compare_to_history([cluster] * 5 + [run(2.0)], run(2.0), DEFAULT_FAIL_ON)
    assert "fewer than 3" in judged.notes[-1]


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
