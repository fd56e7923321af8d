"""A history baseline through the plugin: --parscale-save appends, --parscale-compare judges.

The model itself is tested on synthetic runs in tests/unit/test_history.py; here the
regression is made certain by a history whose runs claim 50x the measured speedup.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import GATED, POOL, claim_speedup

RUN = (*POOL, "--parscale-min-rounds=3")


def test_save_appends_then_compare_judges_against_the_history(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_work=GATED)
    for _ in range(3):
        saved = pytester.runpytest_subprocess(
            *RUN, "--parscale-max-time=1", "--parscale-save=h.jsonl"
        )
        saved.assert_outcomes(passed=1)
    history = pytester.path / "h.jsonl"
    lines = history.read_text().splitlines()
    assert [json.loads(line)["schema_version"] for line in lines] == [2, 2, 2]

    # three runs claiming 48x to 52x the first run's speedup: a narrow, certain history
    inflated = pytester.path / "inflated.jsonl"
    with inflated.open("w") as out:
        for factor in (48, 50, 52):
            data = json.loads(lines[0])
            claim_speedup(data, factor)
            out.write(json.dumps(data) + "\n")
    judged = pytester.runpytest_subprocess(
        *RUN, "--parscale-max-time=1", f"--parscale-compare={inflated}"
    )
    judged.assert_outcomes(failed=1)
    judged.stdout.fnmatch_lines(
        ["*regressed against baseline*inflated.jsonl*", "*spread between the last 3 runs*"]
    )


def test_a_cut_history_is_refused_at_startup_and_kept(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_work=GATED)
    history = pytester.path / "h.jsonl"
    history.write_text('{"schema_version": 1, "created": "2026-01-')
    for option in ("--parscale-save", "--parscale-compare"):
        result = pytester.runpytest_subprocess(*RUN, f"{option}={history}")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(["*h.jsonl line 1: is not valid JSON (truncated?)*"])
    assert history.read_text() == '{"schema_version": 1, "created": "2026-01-'


def test_history_path_from_the_ini(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(test_work=GATED)
    pytester.makeini("[pytest]\nparscale_save = runs/h.jsonl\n")
    for _ in range(2):
        pytester.runpytest_subprocess(*RUN, "--parscale-max-time=1").assert_outcomes(passed=1)
    assert len((pytester.path / "runs" / "h.jsonl").read_text().splitlines()) == 2
