"""The benchmark harness stays importable: its phases are how RESULTS.md is made."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.benchmarks import load

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize(
    ("script", "says"),
    [
        ("run.py", ["decided", "crossrun"]),  # the harness lists its phases
        ("suite_scale.py", ["--output", "--state"]),
        ("paired_noise.py", ["--pairs", "--scales", "--load"]),
        ("calibration.py", ["--output"]),
    ],
)
def test_a_benchmarks_help_works(script: str, says: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for word in says:
        assert word in done.stdout


def test_crossrun_is_named_only_and_counts_alarms_detections_and_not_judged() -> None:
    run = load("run")
    assert "crossrun" in run.PHASES
    assert "crossrun" not in run.DEFAULT_PHASES  # its full mode is the longest phase
    judged = [
        run.Judged("A", 0.0, "unchanged", False, -0.02, 5.0),
        run.Judged("A", 0.4, "incomparable", False, -0.30, 5.0),
        run.Judged("A", 1.0, "regression", True, -0.20, 5.0),
        run.Judged("B", 0.0, "regression", True, -0.25, 5.0),
        run.Judged("B", 0.4, "uncertain", False, -0.15, 5.0),
    ]
    report = run.Report()
    run._crossrun_rows("single", judged, report)
    aa, ab = report.rows
    assert aa.figure.startswith("1 failed; 1 incomparable, 0 uncertain;")
    assert aa.met is False
    assert ab.figure.startswith("1/2 detected (50%); 0 incomparable, 1 uncertain;")
    assert ab.met is False
    assert any("load 40%: incomparable -30%" in line for line in report.details)


def test_suite_scale_counts_a_run_by_its_unchanged_and_changed_cases() -> None:
    scale = load("suite_scale")
    tally = scale.Tally()
    drop, drift = "test_suite.py::test_drop[process-8KB]", "test_suite.py::test_drift[pool-8KB]"
    unchanged = "test_suite.py::test_case[pool-1KB-spin]"
    tally.add({drop: "regression", drift: "regression", unchanged: "ok"}, 20.0)
    tally.add({drop: "uncertain", drift: "ok", unchanged: "error"}, 30.0)
    assert (tally.runs, tally.alarms, tally.caught, tally.drift) == (2, 1, 1, 1)
    assert tally.alarm_cases == [unchanged]  # the changed cases never count as false alarms


def test_suite_scale_restates_the_actions_confirmation() -> None:
    scale = load("suite_scale")
    history = {
        "a": "uncertain",
        "b": "regression",
        "c": "ok",
        "d": "incomparable",
        "e": "regression",
    }
    assert scale.suspects(history) == ["a", "b", "d", "e"]
    # a flag the paired run clears passes, an undecided case it calls fails, a case it
    # did not measure keeps the history's word
    final = scale.confirmed(history, {"a": "regression", "b": "ok", "d": "uncertain"})
    assert final == {"a": "regression", "b": "ok", "c": "ok", "d": "ok", "e": "regression"}


def test_suite_scale_builds_fifty_cases_two_of_them_changed(pytester: pytest.Pytester) -> None:
    scale = load("suite_scale")
    text = scale.SUITE.format(
        slow=scale.SLOW, backends=list(scale.BACKENDS), sizes=list(scale.SIZES), scale=1
    )
    pytester.makepyfile(test_suite=text)
    result = pytester.runpytest("--collect-only", "-q")
    ids = [line for line in result.outlines if "::" in line]
    assert len(ids) == 50
    assert sum(scale._changed(nodeid) for nodeid in ids) == 2


def test_suite_scale_tallies_every_logged_run_by_mode() -> None:
    scale = load("suite_scale")
    drop, unchanged = "t.py::test_drop[process-8KB]", "t.py::test_case[dask-1KB-spin]"
    quiet = {drop: "regression", unchanged: "ok"}
    noisy = {drop: "uncertain", unchanged: "regression"}
    runs = [
        {
            "index": index, "date": "2026-12-05 20:00 UTC", "load": 0.4, "load_paired": 1.0,
            "seconds": {"single": 20.0, "history": 20.0, "action": 60.0, "paired": 90.0},
            "confirmed": 3, "in_run": 6.0,
            "statuses": {"single": noisy, "history": noisy, "action": quiet, "paired": quiet},
        }
        for index in range(3)
    ]  # fmt: skip
    tallies, log = scale.tallies_of(runs)
    assert (tallies["single"].alarms, tallies["single"].caught) == (3, 0)
    assert (tallies["paired"].alarms, tallies["paired"].caught, tallies["paired"].runs) == (0, 3, 3)
    assert tallies["action"].seconds == [60.0, 60.0, 60.0]
    assert len(log) == 3
    assert "3 confirmed in 40 s" in log[0]


def test_paired_noise_reports_each_amount_of_work_and_the_gain_between_them() -> None:
    noise = load("paired_noise")
    light = noise.Scale(1, 5, 26.0, 32.0, 0.18, 0.9, 100, 0.17, -0.22, 36, None)
    heavy = noise.Scale(4, 5, 78.0, 130.0, 0.06, 0.95, 100, 0.06, -0.24, 6, 5)
    text = noise.markdown([light, heavy], ["- machine line"])
    rows = [line for line in text.splitlines() if line.startswith("| x")]
    assert rows[0].startswith("| x1 | 5 | 26 | 32 ms | 0.180 | 90% | -22%, sd 0.170 | 36 (16 min)")
    assert rows[0].endswith("| over 200 |")
    assert rows[1].endswith("| 6 (8 min) | 5 (6 min) |")
    # (0.18^2 x 26) / (0.06^2 x 78) = 3.0
    assert "at x4 is 3.0 times that at x1" in text
    assert "Holm over 100 compared metrics" in text


def test_suite_scale_logs_the_pairs_and_the_drop_case_s_projection_when_it_has_them() -> None:
    scale = load("suite_scale")
    run = {
        "index": 7,
        "date": "2026-12-05 21:30 UTC",
        "load": 0.4,
        "load_paired": 1.0,
        "seconds": {"single": 21.0, "history": 21.0, "action": 250.0, "paired": 260.0},
        "confirmed": 44,
        "in_run": 7.9,
        "statuses": {mode: {} for mode in scale.MODES},
        "pairs": {"action": 10, "paired": 10},
        "drop": {"action": "", "paired": "uncertain after 10 pairs: about 36 pairs"},
    }
    (line,) = scale.tallies_of([run])[1]
    assert "paired 260 s (10 pairs; confirmation 10)" in line
    assert line.endswith("; the -25% case in paired: uncertain after 10 pairs: about 36 pairs")
    stopped = {**run, "drop": {"action": "stopped after 18 pairs: short", "paired": ""}}
    (line,) = scale.tallies_of([stopped])[1]
    assert line.endswith("; the -25% case in the confirmation: stopped after 18 pairs: short")
    older = {key: value for key, value in run.items() if key not in ("pairs", "drop")}
    (line,) = scale.tallies_of([older])[1]  # runs logged before these fields
    assert "paired 260 s, in-run" in line
    assert "-25% case" not in line


def test_the_suite_simulation_runs_parscale_paireds_own_loop() -> None:
    cross = load("calibration_cross")
    (row,) = cross.suite_table(1, caps=(10,))
    assert row.runs == 1
    assert row.pairs in (3, 5, 8, 10)  # the schedule's looks up to a cap of 10
    # the first look's pairs run all 50 cases; later sessions only the open ones
    assert 2 * 3 <= row.work <= 2 * row.pairs
    assert row.drop == cross.SUITE_DROP
    (hard,) = cross.suite_table(1, caps=(5,), drop=cross.HARD_DROP)
    assert hard.drop == (-0.20, 0.22)
    assert hard.pairs in (3, 5)
    (line,) = cross.suite_lines([hard])[2:]
    assert line.startswith("| -20%, 0.22 | 5 | 1 | ")
    import numpy as np

    status, pairs = cross.paired_run(np.random.default_rng(1), -0.25, cross.PAIRED_RULES[-1])
    assert status in ("regression", "uncertain")
    assert pairs >= 3
