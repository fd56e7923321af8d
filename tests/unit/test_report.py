"""The terminal summary and the HTML report on synthetic records: they read the same
analysis, so their crossovers, serial fractions and projections cannot disagree."""

from __future__ import annotations

import dataclasses
import html
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_parscale.diffreport import verdict_line
from pytest_parscale.html import write_html_report
from pytest_parscale.regression import compare_results
from pytest_parscale.report import crossovers, notes, projection, serialisation, sweeps, table
from pytest_parscale.results import Projection, Record, document
from pytest_parscale.stats import Interval
from pytest_parscale.storage import from_document
from pytest_parscale.transport import SerialisationCost
from tests.records import MACHINE, measured, record, scaled


def size_records() -> list[Record]:
    """pool crosses 1.0x between 1KB and 100KB with tight intervals; thread never does."""
    return [
        measured(f"t.py::test_c[{backend}-{label}]", backend, 2, speedup, item_size=size)
        for backend, speeds in (("pool", (0.2, 0.5, 2.0)), ("thread", (0.1, 0.2, 0.4)))
        for (label, size), speedup in zip(
            (("10B", 10), ("1KB", 1000), ("100KB", 100_000)), speeds, strict=True
        )
    ]


def html_page(records: list[Record], tmp_path: Path) -> str:
    results = from_document(document(records, dict(MACHINE), []), "synthetic")
    return write_html_report(results, tmp_path, plots=False).read_text(encoding="utf-8")


def test_terminal_and_html_show_the_same_crossover(tmp_path: Path) -> None:
    records = size_records()
    lines = crossovers(records)
    assert len(lines) == 2
    pool = next(line for line in lines if " on pool " in line)
    assert "crosses 1.0x near ~" in pool
    assert "[" in pool  # the interval
    thread = next(line for line in lines if " on thread " in line)
    assert "slower in parallel at every size measured" in thread
    page = html_page(records, tmp_path)
    for line in lines:
        sentence = line.split("): ", 1)[1]
        assert sentence in page


def test_crossover_with_wide_intervals_is_not_determined_in_both(tmp_path: Path) -> None:
    records = [
        measured("t.py::test_w[pool-1KB]", "pool", 2, 0.8, item_size=1000, low=0.5, high=1.1),
        measured("t.py::test_w[pool-100KB]", "pool", 2, 1.3, item_size=100_000, low=0.9, high=1.9),
    ]
    (line,) = crossovers(records)
    assert "crossover not determined" in line
    assert "crossover not determined" in html_page(records, tmp_path)


def slow_with_projection() -> Record:
    """0.66x on 2 workers with a projection to 8: Karp-Flatt would say 2.03."""
    base = measured("t.py::test_slow[pool]", "pool", 2, 0.66, workers_requested=8)
    return dataclasses.replace(
        base, karp_flatt=2.03, projection=Projection(8, 0.5, 2.03, 2), oversubscribed=False
    )


def test_no_projection_or_serial_fraction_below_one_times(tmp_path: Path) -> None:
    record = slow_with_projection()
    line = projection(record)
    assert line is not None
    assert line.startswith("no projection (Amdahl): test_slow[pool] at 8 workers")
    assert "speedup < 1" in line
    assert "2.03" not in " ".join(notes([record], []))
    page = html_page([record], tmp_path)
    assert "2.03" not in page
    assert "no projection (Amdahl)</span>: at 8 workers: no serial fraction at 2 workers, " in page
    assert "speedup &lt; 1" in page


def test_projection_printed_when_the_serial_fraction_means_something() -> None:
    base = measured("t.py::test_ok[pool]", "pool", 2, 1.6, workers_requested=8)
    record = dataclasses.replace(base, projection=Projection(8, 2.29, 0.25, 2))
    line = projection(record)
    assert line == (
        "projection (Amdahl, not measured): test_ok[pool] ~2.29x at 8 workers from "
        "Karp-Flatt serial fraction 0.250 measured at 2 workers"
    )


def test_shares_and_efficiencies_are_clipped_with_the_raw_interval(tmp_path: Path) -> None:
    record = measured(
        "t.py::test_share[pool]",
        "pool",
        2,
        2.3,
        low=1.9,
        high=2.6,
        transport_share=Interval(0.64, 0.09, 2.42, 0.95),
    )
    row = table([record])[2]
    assert "100% (raw 115%)" in row  # efficiency 2.3 / 2
    assert "64%" in row
    page = html_page([record], tmp_path)
    assert "64% [9%, 100%] (raw 64% [9%, 242%])" in page
    assert "100% [95%, 100%] (raw 115% [95%, 130%])" in page  # the efficiency's interval


def test_sweeps_read_records_and_the_machine() -> None:
    records = [
        measured(f"t.py::test_s[pool-{n}]", "pool", n, speedup)
        for n, speedup in ((1, 1.0), (2, 1.8), (4, 3.1))
    ]
    lines = sweeps(records, {"usable_cores": 4})
    assert lines[0] == "scaling: t.py::test_s[pool] on pool (workers 1, 2, 4):"
    assert any("Amdahl fit: serial fraction" in line for line in lines)
    assert sweeps(records[:1], {"usable_cores": 4}) == []


def test_serialisation_note_names_bytes_and_seconds() -> None:
    record = measured("t.py::test_ser[pool-1KB]", "pool", 2, 1.5, item_size=1000)
    assert serialisation(record) is None
    record = dataclasses.replace(record, serialisation=SerialisationCost(1009.0, 17.0, 2e-6))
    assert any(
        line.startswith("serialisation: test_ser[pool-1KB]: 1009 B/item out")
        for line in notes([record], [])
    )


@pytest.mark.parametrize(
    "module", ["report", "diffreport", "scaling", "html", "plots", "fmt", "cli"]
)
def test_report_modules_import_nothing_heavy(module: str) -> None:
    """Start-up stays light: numpy, scipy, pandas and matplotlib load only when used."""
    code = (
        f"import sys, pytest_parscale.{module}; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'numpy', 'scipy', 'pandas', 'matplotlib'}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


def test_summary_without_scipy_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("scipy", "scipy.optimize", "scipy.stats"):
        monkeypatch.setitem(sys.modules, name, None)
    records = [
        measured(f"t.py::test_s[pool-{n}]", "pool", n, speedup)
        for n, speedup in ((1, 1.0), (2, 1.8), (3, 2.4), (4, 2.9))
    ]
    lines = sweeps(records, {"usable_cores": 4})
    hint = "pip install 'pytest-parscale[report]'"
    assert any(
        line.strip() == f"No Amdahl fit: the scaling fits need scipy: {hint}." for line in lines
    )
    assert any(
        line.strip() == f"No USL fit: the scaling fits need scipy: {hint}." for line in lines
    )


def test_html_headline_counts_verdicts_and_says_what_regressed(tmp_path: Path) -> None:
    base = {name: record(name) for name in ("t.py::a", "t.py::b")}
    head = {"t.py::a": scaled(base["t.py::a"], 0.5), "t.py::b": base["t.py::b"]}
    changes = compare_results(base, head)
    results = from_document(document(list(head.values()), dict(MACHINE), []), "head")
    page = write_html_report(results, tmp_path, plots=False, changes=changes)
    text = page.read_text(encoding="utf-8")
    assert "<strong>2 tests measured</strong>" in text
    assert f'<span class="fail">{html.escape(verdict_line(changes))}</span>' in text
    assert "FAIL: 1 regression against the baseline (1 unchanged)" in text
    assert "Not compared with a baseline" not in text
