"""The benchmark harness stays importable: its phases are how RESULTS.md is made."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.benchmarks import load

ROOT = Path(__file__).parents[2]


def test_benchmark_harness_lists_its_phases() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "decided" in done.stdout
    assert "crossrun" in done.stdout


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
