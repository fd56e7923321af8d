"""`parscale report --history`: per-test trend pages from a synthetic history."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from pytest_parscale.cli import main
from pytest_parscale.history import load_runs
from pytest_parscale.html import write_trend_report
from pytest_parscale.results import Record, document
from tests.records import MACHINE, at_speedup

PARALLEL = (1.0, 1.01, 0.99, 1.0)
HOSTILE = 't.py::test_x[<script>alert("x")</script>]'


def runs_of(speedups: list[float]) -> list[dict[str, object]]:
    """One results document per speedup, each with its own commit."""
    documents = []
    for index, value in enumerate(speedups):
        records: list[Record] = [
            at_speedup("t.py::test_steps[pool-2]", value, PARALLEL),
            at_speedup(HOSTILE, 1.5, PARALLEL),
        ]
        commit = f"{index:x}" * 40
        documents.append(document(records, dict(MACHINE), [], {"commit": commit, "dirty": False}))
    return documents


def write_jsonl(path: Path, speedups: list[float]) -> Path:
    lines = (json.dumps(doc, allow_nan=False) for doc in runs_of(speedups))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


STEP = [1.85] * 5 + [1.40] * 4  # the change is at the sixth run, commit 555...


def test_history_file_gives_plots_and_the_change_point(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    history = write_jsonl(tmp_path / "history.jsonl", STEP)
    out = tmp_path / "html"
    assert main(["report", "--history", str(history), "--html", str(out)]) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "scaling changed at 5555555: 1.85x -&gt; 1.40x" in page
    assert page.count('<img src="data:image/png;base64,') == 2  # one plot per test
    assert sorted(path.name for path in (out / "plots").iterdir()) == [
        "trend-01.png",
        "trend-01.svg",
        "trend-02.png",
        "trend-02.svg",
    ]
    assert "<script>" not in page
    assert "No change point" in page  # the steady test


def test_the_actions_history_folder_reads_the_same(tmp_path: Path) -> None:
    folder = tmp_path / "history"
    folder.mkdir()
    for number, doc in enumerate(runs_of(STEP), start=1):
        (folder / f"{number:06d}-abc.json").write_text(json.dumps(doc), encoding="utf-8")
    from_folder = load_runs(folder)
    from_file = load_runs(write_jsonl(tmp_path / "h.jsonl", STEP))
    assert [run.git for run in from_folder] == [run.git for run in from_file]
    page = write_trend_report(from_folder, tmp_path / "out", plots=False).read_text()
    assert "scaling changed at 5555555: 1.85x -&gt; 1.40x" in page


def test_without_matplotlib_tables_and_the_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    history = write_jsonl(tmp_path / "history.jsonl", STEP)
    assert main(["report", "--history", str(history), "--html", str(tmp_path / "o")]) == 0
    page = (tmp_path / "o" / "index.html").read_text(encoding="utf-8")
    assert (
        "Plots not drawn: plots need matplotlib: pip install &#x27;pytest-parscale[plot]&#x27;"
        in page
    )
    assert "<img" not in page
    assert page.count('<table class="trend">') == 2
    assert "<details>" not in page  # the table stands in for the plot, unfolded
    assert "1.85x [1.85, 1.85]" in re.sub(r"<[^>]+>", "", page)  # the text, without its markup


def test_a_threshold_above_the_step_names_no_change(tmp_path: Path) -> None:
    history = write_jsonl(tmp_path / "history.jsonl", STEP)
    out = tmp_path / "o"
    arguments = [
        "report",
        "--history",
        str(history),
        "--html",
        str(out),
        "--fail-on",
        "speedup:30%",
    ]
    assert main(arguments) == 0
    assert "scaling changed" not in (out / "index.html").read_text(encoding="utf-8")


def test_bad_history_paths_are_usage_errors_naming_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    single = tmp_path / "one.json"
    single.write_text(json.dumps(runs_of([1.5])[0]), encoding="utf-8")
    empty = tmp_path / "empty"
    empty.mkdir()
    out = str(tmp_path / "o")
    assert main(["report", "--history", str(single), "--html", out]) == 2
    assert f"{single}: is a single results file; a trend needs a history" in capsys.readouterr().err
    assert main(["report", "--history", str(empty), "--html", out]) == 2
    assert f"{empty}: holds no results files (*.json)" in capsys.readouterr().err
    assert main(["report", str(single), "--history", str(empty), "--html", out]) == 2
    assert "give RESULTS or --history PATH, not both" in capsys.readouterr().err
    assert main(["report", "--html", out]) == 2
