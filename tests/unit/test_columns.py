"""One definition of the results table: the terminal, Markdown and the HTML page lay out
the same headers and the same cells, each figure formatted once (columns.py)."""

from __future__ import annotations

import dataclasses
import html
import re
from pathlib import Path

from pytest_parscale.columns import CAPACITY, columns, efficiency_interval
from pytest_parscale.html import write_html_report
from pytest_parscale.report import table
from pytest_parscale.results import Capacity, Record, document
from pytest_parscale.show import show_markdown
from pytest_parscale.stats import Interval
from pytest_parscale.storage import from_document
from tests.records import MACHINE, measured


def records() -> list[Record]:
    busy = Capacity(cores=1.4, low=0.9, usable=2)
    return [
        measured("t.py::test_a[pool-1KB]", "pool", 2, 1.6, item_size=1000),
        dataclasses.replace(
            measured("t.py::test_b[thread]", "thread", 2, 2.3, low=1.9, high=2.6),
            capacity=busy,
            transport_share=Interval(1.2, 0.9, 1.5, 0.95),
        ),
        measured("t.py::test_c[pool]", "pool", 2, 0.9, workers_requested=8),
        measured("t.py::test_d[process]", "process", 4, 3.1, oversubscribed=True),
    ]


def html_table(measured_records: list[Record], tmp_path: Path) -> list[list[str]]:
    """The results table's rows as text, header first, read back from the page."""
    results = from_document(document(measured_records, dict(MACHINE), []), "synthetic")
    page = write_html_report(results, tmp_path, plots=False).read_text(encoding="utf-8")
    found = re.search(r'<table class="results">(.*?)</table>', page, re.S)
    assert found is not None
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", found.group(1), re.S)
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", cell))
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)
        ]
        for row in rows
    ]


def markdown_table(measured_records: list[Record]) -> list[list[str]]:
    """``parscale show --format markdown``'s rows as text, header first, rule left out."""
    shown = show_markdown(from_document(document(measured_records, dict(MACHINE), []), "r.json"))
    lines = [line for line in shown.splitlines() if line.startswith("| ")]
    return [[cell.strip("`") for cell in line[2:-2].split(" | ")] for line in lines]


def test_terminal_markdown_and_html_show_the_same_headers_and_cells(tmp_path: Path) -> None:
    measured_records = records()
    terminal = table(measured_records)
    page = html_table(measured_records, tmp_path)
    headers = [column.header for column in columns(measured_records)]
    assert page[0] == headers
    assert re.split(r"\s{2,}", terminal[0]) == headers
    assert markdown_table(measured_records) == page
    for line, row in zip(terminal[2:], page[1:], strict=True):
        position = 0
        for cell in row:  # the terminal line holds the same cells, in order
            position = line.index(cell, position) + len(cell)


def test_each_figure_is_formatted_once() -> None:
    measured_records = records()
    chosen = columns(measured_records)
    a, b, c, d = (
        {column.header: column.cell(record) for column in chosen} for record in measured_records
    )
    assert (a["workers"], a["size"], a["capacity"]) == ("2/2", "1KB", "-")
    assert a["speedup [CI]"] == "1.60x [1.52, 1.68]"
    assert b["efficiency"] == "100% (raw 115%)"
    assert b["transport share"] == "100% (raw 120%)"
    assert b["capacity"] == "1.4/2"
    assert c["workers"] == "2/8"
    assert d["workers"] == "4/4!"


def test_capacity_appears_once_any_record_measured_it() -> None:
    plain = [measured("t.py::test_a[pool]", "pool", 2, 1.6)]
    assert CAPACITY not in columns(plain)
    assert CAPACITY in columns(records())
    assert columns(records())[-1].header == "verdict"


def test_efficiency_interval_is_the_speedup_interval_per_worker() -> None:
    record = measured("t.py::test_a[pool]", "pool", 4, 2.0, low=1.6, high=2.4)
    assert efficiency_interval(record) == Interval(0.5, 0.4, 0.6, 0.95)
