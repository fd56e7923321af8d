"""The Action's paired confirmation: which flags stand (confirm.decide, judge).

The paired runner is a fake callable here, as allowed for a unit test of the
decision; tests/e2e/test_action.py runs the real `parscale paired` on a git repo.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_parscale.action.baseline import load_baseline
from pytest_parscale.action.confirm import Confirmation, PairedRun, decide, skipped
from pytest_parscale.action.decision import Judgement
from pytest_parscale.action.event import Event, read_event
from pytest_parscale.action.judge import confirm_regressions, confirmer, judge
from pytest_parscale.action.options import RunOptions
from pytest_parscale.action.summary import judgement_markdown
from pytest_parscale.results import document, write_atomic
from pytest_parscale.storage import Results, load
from tests.records import MACHINE, record, scaled

SLOW, STEADY = "t.py::slow", "t.py::steady"


def report(**statuses: str) -> dict[str, Any]:
    """The tests part of `parscale paired --format json`."""
    return {"tests": [{"nodeid": nodeid, "status": status} for nodeid, status in statuses.items()]}


def paired(code: int, document: dict[str, Any] | None, problem: str = "") -> PairedRun:
    return PairedRun(code, document, problem, "b" * 40, "h" * 40)


def test_a_flag_the_paired_run_also_calls_a_regression_is_confirmed() -> None:
    found = decide([SLOW], paired(1, report(**{SLOW: "regression"})))
    assert (found.confirmed, found.standing, found.decided) == ((SLOW,), (SLOW,), True)
    assert found.not_confirmed == ()


@pytest.mark.parametrize("status", ["unchanged", "uncertain", "incomparable", "improvement"])
def test_a_flag_the_paired_run_does_not_call_a_regression_falls(status: str) -> None:
    found = decide([SLOW], paired(0, report(**{SLOW: status})))
    assert found.standing == ()
    assert found.not_confirmed == ((SLOW, status),)
    assert found.decided


def test_flags_are_decided_one_by_one_and_an_unmeasured_one_stands() -> None:
    flagged = [SLOW, STEADY, "t.py::gone"]
    found = decide(flagged, paired(1, report(**{SLOW: "regression", STEADY: "unchanged"})))
    assert found.confirmed == (SLOW,)
    assert found.not_confirmed == ((STEADY, "unchanged"),)
    assert found.unmeasured == ("t.py::gone",)
    assert found.standing == (SLOW, "t.py::gone")


@pytest.mark.parametrize(
    ("run", "why"),
    [
        (paired(2, None, "'abc' is not a commit"), "'abc' is not a commit"),
        (paired(2, report(**{SLOW: "unchanged"})), "parscale paired exited with code 2"),
        (paired(130, None), "parscale paired exited with code 130"),
        (paired(0, None, "no JSON report"), "no JSON report"),
    ],
)
def test_a_failed_paired_run_leaves_every_flag_standing_and_says_why(
    run: PairedRun, why: str
) -> None:
    found = decide([SLOW, STEADY], run)
    assert found.standing == (SLOW, STEADY)
    assert found.problem == why
    assert not found.decided
    assert skipped([SLOW], "no base").standing == (SLOW,)


def test_an_undecided_test_fails_only_when_the_paired_run_measures_a_regression() -> None:
    other = "t.py::other"
    run = paired(1, report(**{SLOW: "regression", STEADY: "unchanged", other: "regression"}))
    found = decide([other], run, unresolved=[SLOW, STEADY, "t.py::unmeasured"])
    assert found.promoted == (SLOW,)
    assert found.standing == (other, SLOW)
    assert found.settled == ((STEADY, "unchanged"), ("t.py::unmeasured", "not measured"))
    assert found.not_confirmed == ()


def test_a_failed_paired_run_fails_no_undecided_test() -> None:
    found = decide([], paired(2, None, "no base"), unresolved=[SLOW])
    assert (found.standing, found.promoted, found.unresolved) == ((), (), (SLOW,))
    assert skipped([STEADY], "no base", [SLOW]).standing == (STEADY,)


# -- judge with a fake paired runner ---------------------------------------------


def baseline_dir(tmp_path: Path, records: list[Any], history: int = 0) -> Path:
    folder = tmp_path / "baseline"
    write_atomic(folder / "results.json", document(records, dict(MACHINE), [], None))
    for number in range(1, history + 1):
        path = folder / "history" / f"{number:06d}-abc.json"
        write_atomic(path, document(records, dict(MACHINE), [], None))
    return folder


def head_results(tmp_path: Path) -> Results:
    """The baseline's SLOW test at half its speedup, STEADY unchanged."""
    path = tmp_path / "head.json"
    write_atomic(path, document([record(SLOW), record(STEADY)], dict(MACHINE), [], None))
    return load(path)


def judged_with(
    tmp_path: Path, run: PairedRun, history: int = 0
) -> tuple[Judgement, list[Sequence[str]]]:
    calls: list[Sequence[str]] = []

    def runner(flagged: Sequence[str]) -> PairedRun:
        calls.append(list(flagged))
        return run

    def confirm(flagged: Sequence[str], unresolved: Sequence[str]) -> Confirmation:
        return confirm_regressions(flagged, runner, unresolved)

    folder = baseline_dir(tmp_path, [scaled(record(SLOW), 2.0), record(STEADY)], history)
    baseline = load_baseline(folder, "cache")
    head = head_results(tmp_path)
    judged = judge(head, baseline, RunOptions(), "main", False, confirm)
    return judged, calls


def test_the_gate_fails_on_a_confirmed_flag_and_says_the_paired_run_made_the_verdict(
    tmp_path: Path,
) -> None:
    judged, calls = judged_with(tmp_path, paired(1, report(**{SLOW: "regression"})))
    assert calls == [[SLOW]]  # the flagged test only
    assert (judged.verdict, judged.regressions, judged.gate) == ("regression", 1, True)
    assert judged.source == "paired"
    summary = "\n".join(judgement_markdown(judged))
    assert "**Verdict from** a paired confirmation: base `bbbbbbbbbbbb`" in summary
    assert "Confirmed by the paired run (these fail the job):" in summary
    assert "#### Regressions (1)" in summary


def test_the_gate_passes_when_the_paired_run_does_not_confirm_and_says_so(
    tmp_path: Path,
) -> None:
    judged, _ = judged_with(tmp_path, paired(0, report(**{SLOW: "unchanged"})))
    assert (judged.verdict, judged.regressions, judged.gate) == ("pass", 0, False)
    assert judged.flagged == [SLOW]
    assert judged.source == "paired"
    summary = "\n".join(judgement_markdown(judged))
    assert judgement_markdown(judged)[0].startswith("### :white_check_mark:")
    assert "not confirmed by a paired run (these do not fail the job)" in summary
    assert "paired run says unchanged" in summary
    assert "#### Flagged against the baseline (1)" in summary
    assert "#### Regressions" not in summary


def test_a_failed_paired_run_keeps_the_flag_and_the_single_baseline_verdict(
    tmp_path: Path,
) -> None:
    run = paired(2, None, "base session 1: pytest exited with 4")
    judged, _ = judged_with(tmp_path, run)
    assert (judged.verdict, judged.gate, judged.source) == ("regression", True, "single")
    summary = "\n".join(judgement_markdown(judged))
    assert "Not confirmed by a paired run, so the baseline's flags stand" in summary
    assert "pytest exited with 4" in summary


def test_nothing_flagged_runs_no_paired_run(tmp_path: Path) -> None:
    folder = baseline_dir(tmp_path, [record(SLOW), record(STEADY)])
    calls: list[Sequence[str]] = []

    def confirm(flagged: Sequence[str], unresolved: Sequence[str]) -> Confirmation:
        calls.append(flagged)
        raise AssertionError("no flag, no paired run")

    judged = judge(
        head_results(tmp_path), load_baseline(folder, "cache"), RunOptions(), "main", False,
        confirm,
    )  # fmt: skip
    assert (judged.verdict, judged.source, calls) == ("pass", "single", [])


def test_a_history_of_three_runs_judges_by_the_spread_between_runs(tmp_path: Path) -> None:
    judged, _ = judged_with(tmp_path, paired(1, report(**{SLOW: "regression"})), history=3)
    assert judged.source == "paired"  # the confirmation made the final verdict
    folder = tmp_path / "baseline"
    baseline = load_baseline(folder, "cache")
    alone = judge(head_results(tmp_path), baseline, RunOptions(), "main", False)
    assert (alone.source, alone.verdict) == ("history", "regression")
    assert "**Verdict from** the history of 3 runs" in "\n".join(judgement_markdown(alone))
    short = load_baseline(baseline_dir(tmp_path / "two", [record(SLOW)], history=2), "cache")
    assert judge(head_results(tmp_path), short, RunOptions(), "main", False).source == ("single")


def test_only_pull_requests_and_merge_queues_are_confirmed(tmp_path: Path) -> None:
    pull = Event("pull_request", "main", 7, "f" * 40, False, "o/r", "", base_sha="b" * 40)
    push = Event("push", "main", None, "e" * 40, False, "o/r", "")
    scratch = tmp_path / "confirm"
    assert confirmer(RunOptions(), push, scratch) is None
    assert confirmer(RunOptions(confirm=False), pull, scratch) is None
    assert confirmer(RunOptions(), pull, scratch) is not None
    no_base = confirmer(RunOptions(), Event(**{**pull.__dict__, "base_sha": None}), scratch)
    assert no_base is not None
    assert no_base([SLOW], [STEADY]).problem == "the event names no base commit"
    assert no_base([SLOW], [STEADY]).standing == (SLOW,)
    from_file = confirmer(RunOptions(results_file="r.json"), pull, scratch)
    assert from_file is not None
    assert "results-file" in str(from_file([SLOW], []).problem)


def test_the_base_commit_comes_from_the_event(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    pull = {"number": 3, "head": {"sha": "h"}, "base": {"ref": "main", "sha": "b" * 40}}
    event.write_text(json.dumps({"pull_request": pull}))
    environ = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event)}
    assert read_event(environ).base_sha == "b" * 40
    group = {"head_sha": "h", "base_sha": "c" * 40, "base_ref": "refs/heads/main"}
    event.write_text(json.dumps({"merge_group": group}))
    environ["GITHUB_EVENT_NAME"] = "merge_group"
    assert read_event(environ).base_sha == "c" * 40


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--confirm", "maybe", "confirm must be true or false, got 'maybe'"),
        ("--confirm-budget", "-5", "confirm-budget must be a number of seconds > 0, got '-5'"),
    ],
)
def test_bad_confirm_inputs_are_named(
    flag: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_parscale.cli import parser

    with pytest.raises(SystemExit):
        parser().parse_args(["ci", "run", "--out-dir", "o", "--baseline-dir", "b", flag, value])
    assert message in capsys.readouterr().err


def pytest_in(
    folder: Path, *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # -p pytest_parscale.selection as confirm.py passes it: a no-op kept for old revisions
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "pytest_parscale.selection",
         *arguments],
        cwd=folder, capture_output=True, text=True, check=False, timeout=120, env=env,
    )  # fmt: skip


def test_the_selection_plugin_runs_only_the_listed_ids_whatever_the_paths(tmp_path: Path) -> None:
    (tmp_path / "test_two.py").write_text(
        "import pytest\n\n@pytest.mark.parametrize('n', [1, 2])\ndef test_a(n): pass\n\n"
        "def test_b(): pass\n"
    )
    only = tmp_path / "only.txt"
    only.write_text("test_two.py::test_a[2]\n\ntest_two.py::test_b\n")
    done = pytest_in(tmp_path, ".", f"--parscale-only={only}", "-v")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_two.py::test_a[2] PASSED" in done.stdout
    assert "test_two.py::test_b PASSED" in done.stdout
    assert "2 passed, 1 deselected" in done.stdout
    by_env = pytest_in(tmp_path, ".", env={**os.environ, "PARSCALE_ONLY": str(only)})
    assert "2 passed, 1 deselected" in by_env.stdout  # an option of OPTIONS: env works too
    missing = pytest_in(tmp_path, ".", f"--parscale-only={tmp_path / 'nope.txt'}")
    assert missing.returncode == 4
    assert f"--parscale-only {tmp_path / 'nope.txt'}: No such file or directory" in missing.stderr


def undecided_judgement(
    tmp_path: Path, status: str
) -> tuple[Judgement, list[tuple[Sequence[str], Sequence[str]]]]:
    """SLOW uncertain against the baseline (a -20% change inside its noise), STEADY same."""
    base = record(SLOW, serial=(2.0, 3.2, 1.1), parallel=(1.0, 1.0, 1.0))
    folder = baseline_dir(tmp_path, [base, record(STEADY)])
    path = tmp_path / "head.json"
    head = record(SLOW, serial=(1.6, 3.0, 1.0), parallel=(1.0, 1.0, 1.0))
    write_atomic(path, document([head, record(STEADY)], dict(MACHINE), [], None))
    calls: list[tuple[Sequence[str], Sequence[str]]] = []

    def confirm(flagged: Sequence[str], unresolved: Sequence[str]) -> Confirmation:
        calls.append((list(flagged), list(unresolved)))
        return confirm_regressions(
            flagged, lambda ids: paired(0, report(**{SLOW: status})), unresolved
        )

    baseline = load_baseline(folder, "cache")
    return judge(load(path), baseline, RunOptions(), "main", False, confirm), calls


def test_an_uncertain_test_the_paired_run_measures_as_a_regression_fails_the_job(
    tmp_path: Path,
) -> None:
    judged, calls = undecided_judgement(tmp_path, "regression")
    assert calls == [([], [SLOW])]  # the unresolved test only: STEADY passed the baseline
    assert (judged.verdict, judged.regressions, judged.gate, judged.source) == (
        "regression", 1, True, "paired",
    )  # fmt: skip
    assert judged.flagged == []
    assert judged.unresolved == (SLOW,)
    summary = "\n".join(judgement_markdown(judged))
    assert "#### Regressions (1)" in summary
    assert "uncertain against the baseline; the paired run of base and head" in summary
    assert "Confirmed by the paired run (these fail the job):" in summary


def test_an_uncertain_test_the_paired_run_clears_passes_and_says_what_it_measured(
    tmp_path: Path,
) -> None:
    judged, _ = undecided_judgement(tmp_path, "unchanged")
    assert (judged.verdict, judged.gate, judged.source) == ("pass", False, "paired")
    summary = "\n".join(judgement_markdown(judged))
    assert (
        "Unresolved against the baseline (uncertain or not compared), measured by the paired run"
        in summary
    )
    assert f"`{SLOW}`: paired run says unchanged" in summary


def test_a_test_the_head_failed_in_the_paired_run_stands_and_fails_the_job() -> None:
    """Issue 21 item 7: "error" (no measurement on one side) is no pass."""
    found = decide([SLOW], paired(1, report(**{SLOW: "error"})), [STEADY])
    assert found.standing == (SLOW,)
    assert decide([], paired(1, report(**{STEADY: "error"})), [STEADY]).promoted == (STEADY,)


def test_the_paired_confirmation_judges_its_tests_as_one_family(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The k suspects are measured by one paired run, under the run's family rule."""
    from pytest_parscale.action import confirm

    seen: list[list[str]] = []

    def fake_run(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        if command[:2] == ["git", "rev-parse"]:
            return subprocess.CompletedProcess(command, 0, "h" * 40 + "\n", "")
        if command[:2] == ["git", "cat-file"]:
            return subprocess.CompletedProcess(command, 0, "", "")
        seen.append(command)
        return subprocess.CompletedProcess(
            command, 0, json.dumps(report(**{SLOW: "unchanged"})), ""
        )

    monkeypatch.setattr(confirm.subprocess, "run", fake_run)
    runner = confirm.paired_runner(
        "b" * 40, tmp_path, "", RunOptions().fail_on, 60, tmp_path / "s", family="bh"
    )
    assert runner([SLOW]).exit_code == 0
    (command,) = seen
    assert command[command.index("--family") + 1] == "bh"


def test_a_test_the_paired_run_left_uncertain_says_why_it_stopped() -> None:
    projection = (
        "uncertain after 60 pairs: the pairs scatter by about 19% (sd of the log "
        "differences); at this spread about 95 pairs would decide it (--max-sessions 95, "
        "about 7 min at 4 s a pair)"
    )
    stopped = "stopped after 5 pairs: even at the far end of its interval the change ..."
    document = {
        "tests": [
            {"nodeid": SLOW, "status": "uncertain", "notes": ["judged on 60 pairs", projection]},
            {"nodeid": STEADY, "status": "uncertain", "notes": ["judged on 5 pairs", stopped]},
            {"nodeid": "t.py::plain", "status": "uncertain", "notes": ["judged on 3 pairs"]},
        ]
    }
    found = decide([SLOW, STEADY, "t.py::plain"], paired(0, document))
    assert found.not_confirmed == (
        (SLOW, f"uncertain ({projection})"),
        (STEADY, f"uncertain ({stopped})"),
        ("t.py::plain", "uncertain"),
    )
    assert found.standing == ()
