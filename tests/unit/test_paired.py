"""Pooling of paired sessions and its decision, on synthetic results: no clock, no git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pytest_parscale.cli import main
from pytest_parscale.notewords import note_texts
from pytest_parscale.paired.pooling import compare_paired, pool, pool_records
from pytest_parscale.paired.sessions import run_session
from pytest_parscale.paired.worktrees import PairedError, session_env, snapshot
from pytest_parscale.regression import Status, compare_records
from pytest_parscale.results import Record
from pytest_parscale.storage import Results
from pytest_parscale.thresholds import DEFAULT_FAIL_ON, parse_fail_on
from tests.records import MACHINE, at_speedup, record

TEST = "test_x.py::test_scales[pool]"
PARALLEL = (1.0, 1.01, 0.99, 1.0, 1.005, 0.995)


def session_record(speedup: float, *, workers: int = 2, transport: bool = False) -> Record:
    """One session of one test: tight rounds around ``speedup``."""
    return at_speedup(
        TEST, speedup, PARALLEL, transport=0.1 if transport else None, workers=workers
    )


def session(*records: Record) -> Results:
    return Results(
        path="session.json",
        schema_version=1,
        created="2026-01-01T00:00:00+00:00",
        git=None,
        machine=MACHINE,
        engines=[],
        records={item.nodeid: item for item in records},
    )


def sessions(*speedups: float) -> list[Results]:
    return [session(session_record(speedup)) for speedup in speedups]


def test_pooling_concatenates_rounds_and_keeps_session_boundaries() -> None:
    pooled = pool(sessions(2.0, 1.8, 2.2), "base")
    merged = pooled.results.records[TEST]
    assert merged.parallel == list(PARALLEL) * 3
    assert merged.serial[:6] == [value * 2.0 for value in PARALLEL]
    assert merged.rounds == 18
    assert pooled.sessions[TEST] == (6, 6, 6)
    assert pooled.results.path == "base"


def test_transport_kept_only_when_every_session_measured_it() -> None:
    both = pool_records([session_record(2.0, transport=True)] * 2)
    assert len(both.transport) == 12
    assert both.transport_share is not None
    mixed = pool_records([session_record(2.0, transport=True), session_record(2.0)])
    assert mixed.transport == []
    assert mixed.transport_share is None


def test_sessions_of_another_worker_count_are_not_pooled() -> None:
    runs = [session(session_record(2.0)), session(session_record(3.5, workers=4))]
    pooled = pool(runs, "base")
    assert pooled.sessions[TEST] == (6,)
    assert pooled.results.records[TEST].workers == 2


def compared(base: list[Results], head: list[Results], fail_on: object = None) -> list[object]:
    pooled = pool(base, "b"), pool(head, "h")
    return compare_paired(base, head, pooled, fail_on or DEFAULT_FAIL_ON)  # type: ignore[arg-type]


def test_the_machine_state_of_a_pair_cancels_in_its_difference() -> None:
    """Sessions that disagree by +-20% but whose pairs agree: pooled rounds alone would
    call the 15% drop uncertain; the pairs see it plainly (issue 21, item 4)."""
    states = (2.0, 1.6, 2.4, 1.8, 2.2)
    (test,) = compared(sessions(*states), sessions(*(0.85 * s for s in states)))
    (speedup,) = test.changes  # type: ignore[attr-defined]
    assert speedup.change == pytest.approx(-0.15)
    assert speedup.high < -0.10
    assert test.status is Status.REGRESSION  # type: ignore[attr-defined]


def test_a_large_drop_in_every_session_is_a_regression() -> None:
    changes = compared(sessions(2.0, 1.9, 2.1), sessions(1.0, 0.95, 1.05))
    (test,) = changes
    assert test.status is Status.REGRESSION  # type: ignore[attr-defined]


def test_a_capacity_gap_between_paired_sides_excuses_nothing() -> None:
    """The sides shared the machine: a head that leaves a core idle lets a neighbour
    take it and reads as "busier"; that is the code's doing, so the drop stands."""
    import dataclasses

    from pytest_parscale.results import Capacity

    def busy(results: list[Results], cores: float) -> list[Results]:
        return [
            dataclasses.replace(
                run,
                records={
                    key: dataclasses.replace(item, capacity=Capacity(cores, cores, 2, own=1.0))
                    for key, item in run.records.items()
                },
            )
            for run in results
        ]

    base, head = busy(sessions(2.0, 1.9, 2.1), 1.33), busy(sessions(1.5, 1.45, 1.55), 1.0)
    (test,) = compared(base, head)
    assert test.status is Status.REGRESSION  # type: ignore[attr-defined]
    before, after = (pool(side, "x").results.records[TEST] for side in (base, head))
    # a single baseline with the same capacities would have excused it
    assert compare_records(before, after, DEFAULT_FAIL_ON).status is Status.INCOMPARABLE


def test_unchanged_sessions_are_unchanged() -> None:
    (test,) = compared(sessions(2.0, 1.9, 2.1), sessions(2.02, 1.91, 2.1))
    assert test.status is Status.UNCHANGED  # type: ignore[attr-defined]


def test_noisy_pairs_near_the_threshold_stay_uncertain() -> None:
    changes = compared(
        sessions(2.0, 1.5, 2.5), sessions(1.7, 1.5, 2.3), parse_fail_on("speedup:5%")
    )
    (test,) = changes
    assert test.status is Status.UNCERTAIN  # type: ignore[attr-defined]


def test_tests_on_one_side_only_are_new_or_missing() -> None:
    other = record("test_x.py::test_other")
    base = [session(session_record(2.0), other)] * 3
    statuses = {t.nodeid: t.status for t in compared(base, sessions(2.0, 2.0, 2.0))}  # type: ignore[attr-defined]
    assert statuses["test_x.py::test_other"] is Status.MISSING


def test_a_test_that_failed_in_a_head_session_is_an_error() -> None:
    """Item 7 of issue 21: a head whose results differed from the serial reference
    recorded nothing in that session: the run reports it and exits 1."""
    import dataclasses

    head = sessions(2.0, 2.0, 2.0)
    head[1] = dataclasses.replace(head[1], records={}, errors={TEST: "call: result 0 differs"})
    (test,) = compared(sessions(2.0, 2.0, 2.0), head)
    assert test.status is Status.ERROR  # type: ignore[attr-defined]
    assert note_texts(test.notes) == ("error on head: call: result 0 differs",)  # type: ignore[attr-defined]


def test_pairs_run_in_abba_order() -> None:
    from pytest_parscale.paired.sessions import order

    assert [order(pair) for pair in range(3)] == [
        ("base", "head"),
        ("head", "base"),
        ("base", "head"),
    ]


def test_each_side_imports_its_own_tree_first(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    env = session_env(tmp_path, {"PYTHONPATH": "/elsewhere", "HOME": "/home/x"})
    assert env["PYTHONPATH"].split(":") == [str(tmp_path / "src"), str(tmp_path), "/elsewhere"]
    assert env["HOME"] == "/home/x"


def test_an_installed_side_is_imported_before_its_sources(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    installed = tmp_path / "site"
    installed.mkdir()
    env = session_env(tmp_path, {}, installed)
    assert env["PYTHONPATH"].split(":") == [str(installed), str(tmp_path)]


def test_a_working_tree_snapshot_has_its_edits_and_no_ignored_files(tmp_path: Path) -> None:
    tree = _repo(tmp_path / "tree")
    (tree / ".gitignore").write_text("build/\n")
    (tree / "pkg").mkdir()
    (tree / "pkg" / "mod.py").write_text("committed")
    subprocess.run(["git", "add", "."], cwd=tree, check=True)
    (tree / "pkg" / "mod.py").write_text("edited")  # tracked, modified
    (tree / "new.py").write_text("untracked")
    (tree / "build").mkdir()
    (tree / "build" / "junk.o").write_text("ignored")
    copy = snapshot(tree, tmp_path / "copy")
    assert (copy / "pkg" / "mod.py").read_text() == "edited"
    assert (copy / "new.py").read_text() == "untracked"
    assert not (copy / "build").exists()
    assert not (copy / ".git").exists()


def _repo(path: Path) -> Path:
    path.mkdir()
    for command in (
        ["git", "init", "-q"],
        [
            "git",
            "-c",
            "user.email=a@b",
            "-c",
            "user.name=t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "one",
        ],
    ):
        subprocess.run(command, cwd=path, check=True)
    return path


def test_bad_revision_exits_2_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(_repo(tmp_path / "repo"))
    assert main(["paired", "no-such-rev", "--", "-k", "x"]) == 2
    assert "'no-such-rev' is not a commit" in capsys.readouterr().err
    listed = subprocess.run(["git", "worktree", "list"], capture_output=True, text=True, check=True)
    assert len(listed.stdout.splitlines()) == 1


def test_outside_a_repository_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert main(["paired", "HEAD"]) == 2
    assert "git rev-parse --show-toplevel failed" in capsys.readouterr().err


def test_session_counts_are_checked(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["paired", "HEAD", "--min-sessions", "2"])
    assert raised.value.code == 2
    assert "'2' is not a whole number >= 3" in capsys.readouterr().err
    with pytest.raises(SystemExit) as raised:
        main(["paired", "HEAD", "--rounds", "0"])
    assert raised.value.code == 2
    assert "--rounds: '0' is not a whole number >= 1" in capsys.readouterr().err


def test_a_folder_missing_in_one_revision_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(
        PairedError, match=r"base session 1 .*: perf does not exist in this revision"
    ):
        run_session(
            tmp_path,
            Path("perf"),
            [],
            tmp_path / "o.json",
            tmp_path / "o.log",
            "base session 1 (main)",
        )


def test_sessions_run_the_paired_rounds_unless_pytest_args_say_otherwise(tmp_path: Path) -> None:
    """--rounds reaches each session as --parscale-min-rounds; a user's own setting wins."""
    seen = tmp_path / "seen.txt"
    (tmp_path / "test_rounds.py").write_text(
        "def test_rounds(request):\n"
        f"    with open({str(seen)!r}, 'a') as out:\n"
        "        out.write(str(request.config.getoption('parscale_min_rounds')) + '\\n')\n"
    )
    for rounds, extra in ((4, []), (4, ["--parscale-min-rounds=7"])):
        run_session(
            tmp_path,
            Path("."),
            ["-p", "no:benchmark", *extra],
            tmp_path / "o.json",
            tmp_path / "o.log",
            "head session 1",
            rounds=rounds,
        )
    assert seen.read_text().split() == ["4", "7"]
