from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_parscale.cli import main, parser
from pytest_parscale.results import Record, document, write_atomic
from tests.records import MACHINE, record, scaled

GOLDEN = Path(__file__).parent.parent / "data" / "results-v1.json"


def saved(tmp_path: Path, name: str, records: list[Record], cores: int = 2) -> str:
    path = tmp_path / name
    write_atomic(path, document(records, {**MACHINE, "usable_cores": cores}, [], None))
    return str(path)


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, str]:
    steady, worse = record("t.py::steady"), record("t.py::worse")
    return {
        "base": saved(tmp_path, "base.json", [steady, worse]),
        "same": saved(tmp_path, "same.json", [steady, worse]),
        "regressed": saved(tmp_path, "regressed.json", [steady, scaled(worse, 0.6)]),
    }


def test_unchanged_exits_0(runs: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", runs["base"], runs["same"]]) == 0
    assert capsys.readouterr().out.startswith("OK: no regression")


@pytest.mark.parametrize("fmt", ["table", "markdown", "json"])
def test_regression_exits_1_in_every_format(
    runs: dict[str, str], fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", runs["base"], runs["regressed"], "--format", fmt]) == 1
    out = capsys.readouterr().out
    if fmt == "json":
        data = json.loads(out)
        assert data["verdict"] == "regression"
        assert data["tests"][0]["nodeid"] == "t.py::worse"
        assert data["tests"][0]["status"] == "regression"
    else:
        assert "worse" in out.split("steady")[0]


def test_fail_on_option_can_tolerate_the_drop(runs: dict[str, str]) -> None:
    assert main(["compare", runs["base"], runs["regressed"], "--fail-on", "speedup:50%"]) == 0


def test_bad_baseline_exits_2_naming_the_file(
    tmp_path: Path, runs: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema_version": 1, "resu')
    assert main(["compare", str(broken), runs["same"]]) == 2
    err = capsys.readouterr().err
    assert f"{broken}: is not valid JSON (truncated?)" in err
    assert broken.read_text() == '{"schema_version": 1, "resu'
    assert main(["show", str(tmp_path / "missing.json")]) == 2
    assert "missing.json: does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["compare", "only-one.json"],
        ["compare", "a", "b", "--fail-on", "speedup:fast"],
        ["compare", "a", "b", "--format", "html"],
        ["compare", "a", "b", "--confidence", "2"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert "usage: parscale" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["table", "markdown", "json"])
def test_show(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(GOLDEN), "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert ("| `test_checksum" if fmt == "markdown" else "test_checksum") in out  # the short id
    if fmt == "json":
        assert len(json.loads(out)["results"]) == 2


def test_python_dash_m_runs_the_command(runs: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest_parscale", "compare", runs["base"], runs["regressed"]],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert done.returncode == 1, done.stderr
    assert "regression" in done.stdout


def test_report_writes_html_from_a_results_file(tmp_path: Path) -> None:
    out = tmp_path / "html"
    assert (
        main(
            [
                "report",
                str(Path(__file__).parent.parent / "data" / "results-v1.json"),
                "--html",
                str(out),
            ]
        )
        == 0
    )
    page = (out / "index.html").read_text()
    assert "<table" in page


def test_report_of_a_bad_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["report", str(bad), "--html", str(tmp_path / "out")]) == 2
    assert "bad.json" in capsys.readouterr().err


def _command_paths(command: argparse.ArgumentParser) -> list[list[str]]:
    """Every command and subcommand of ``command``, as the words that reach it."""
    paths: list[list[str]] = [[]]
    for action in command._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                paths += [[name, *words] for words in _command_paths(sub)]
    return paths


COMMAND_PATHS = _command_paths(parser())


def test_the_walk_finds_the_nested_commands() -> None:
    assert ["ci", "run"] in COMMAND_PATHS
    assert ["paired"] in COMMAND_PATHS


@pytest.mark.parametrize("words", COMMAND_PATHS, ids=lambda words: " ".join(words) or "parscale")
def test_every_command_has_a_working_help(words: list[str]) -> None:
    """`parscale ... --help` exits 0 for each command the parser has, new ones included."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest_parscale", *words, "--help"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: parscale")
