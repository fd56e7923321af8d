from __future__ import annotations

import re

import pytest

from pytest_parscale.diffreport import render_markdown, render_text
from pytest_parscale.markdown import code, md, plain
from pytest_parscale.regression import Status, compare_results
from pytest_parscale.results import Record
from pytest_parscale.storage import Results
from pytest_parscale.thresholds import DEFAULT_FAIL_ON
from tests.records import MACHINE, record, scaled

EVIL = [
    "t.py::test_x[<img src=x onerror=alert(1)>]",
    "t.py::test_ping[@someone]",
    "t.py::test_pipe[a|b]",
    "t.py::test_md[**bold** [link](http://x) `code`\nnext]",
]


def results(path: str, records: list[Record], cores: int = 2) -> Results:
    return Results(
        path=path,
        schema_version=1,
        created="2026-01-01T00:00:00+00:00",
        git={"commit": "abcdef1234567890", "dirty": True},
        machine={**MACHINE, "usable_cores": cores, "hostname": "<b>host</b>"},
        engines=[],
        records={r.nodeid: r for r in records},
    )


def _cells(row: str) -> list[str]:
    """Split a GitHub table row the way GitHub does: on pipes not escaped by a backslash."""
    return re.split(r"(?<!\\)\|", row.strip())[1:-1]


def test_md_escapes_html_mentions_and_table_pipes() -> None:
    assert md("<img src=x onerror=alert(1)>") == r"\<img src=x onerror=alert(1)>"
    assert md("@someone") == "@&#8203;someone"
    assert md("a|b") == r"a\|b"
    assert md("line\nbreak") == "line break"
    assert plain("red\x1b[31m\n") == "red [31m "


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("tests/perf/test_checksum.py::test_x[pool-10B]", None),  # reads as it is
        ("FAIL: 1 regression (1 improvement, 2 unchanged)", None),
        ("2.00x [1.97, 2.03]", None),
        ("snake_case_name", None),
        ("2026-11-24T08:52:25+00:00", None),
        ("**bold** `tick`", r"\*\*bold\*\* \`tick\`"),
        ("[link](http://x) ![img](y) [ref][r]", r"[link\](http\://x) ![img\](y) [ref\][r]"),
        ("_em_ and ~~gone~~", r"\_em\_ and \~\~gone\~\~"),
        (":x: see #12 &lt; $x$", r"\:x: see \#12 \&lt; \$x\$"),
        ("a:+1:b", r"a\:+1:b"),
        ("# heading", r"\# heading"),
        ("> quote", r"\> quote"),
        ("- item", r"\- item"),
        ("1. item", r"1\. item"),
        ("a\\b", r"a\\b"),
    ],
)
def test_md_escapes_only_what_markdown_would_misread(text: str, escaped: str | None) -> None:
    assert md(text) == (text if escaped is None else escaped)


def test_code_spans_show_ids_as_they_are_and_stay_closed() -> None:
    assert code("t.py::test_x[pool-10B]") == "`t.py::test_x[pool-10B]`"
    assert code("a`b``c") == "```a`b``c```"  # a fence longer than any run inside
    assert code("`edge`") == "`` `edge` ``"
    assert code("a|b", table=True) == r"`a\|b`"
    assert code("x\ny") == "`x y`"


def test_markdown_report_renders_hostile_test_ids_as_text() -> None:
    base_records = [record(name) for name in EVIL]
    head_records = [scaled(base_records[0], 0.5), *base_records[1:]]
    base, head = results("base.json", base_records), results("head.json", head_records)
    changes = compare_results(base.records, head.records)
    text = render_markdown(changes, base, head, DEFAULT_FAIL_ON)
    spans = re.findall(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", text)
    prose = re.sub(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", "CODE", text)
    raw_tags = re.findall(r"(?<!\\)</?[a-z]+", prose)
    assert set(raw_tags) <= {"<details", "</details", "<summary", "</summary"}
    assert "@someone" not in prose
    assert "**bold**" not in prose
    assert "](http" not in prose
    assert "\nnext" not in text
    ids = {body for _, body in spans}
    assert "t.py::test_x[<img src=x onerror=alert(1)>]" in ids  # shown as it is, inert
    assert "t.py::test_md[**bold** [link](http://x) `code` next]" in ids
    for line in text.splitlines():
        if line.startswith("| `t"):
            assert len(_cells(line)) == 8, line
        elif line.startswith("| ") and "baseline" not in line:
            assert len(_cells(line)) in (3, 9), line


def test_markdown_report_reads_verdict_then_regressions_improvements_new_missing() -> None:
    steady = record("t.py::steady")
    worse = record("t.py::worse")
    better = record("t.py::better")
    gone = record("t.py::gone")
    base = results("base.json", [steady, worse, better, gone], cores=8)
    head = results(
        "head.json",
        [steady, scaled(worse, 0.6), scaled(better, 1.5), record("t.py::added")],
    )
    changes = compare_results(base.records, head.records)
    assert changes[0].status is Status.REGRESSION
    text = render_markdown(changes, base, head, DEFAULT_FAIL_ON)
    first = text.splitlines()[0]
    assert first.startswith("### :x: pytest-parscale: FAIL: 1 regression")
    order = [
        text.index(heading)
        for heading in ("#### Regressions", "#### Improvements", "#### New tests", "#### Missing")
    ]
    assert order == sorted(order)
    assert "different usable cores (baseline 8, head 2)" in text
    assert "| `t.py::worse` |" in text
    assert "| -40% [" in text  # the change, with its interval after it
    assert "abcdef123456 (dirty)" in text


def test_text_report_lists_regressions_first_with_figures() -> None:
    steady = record("t.py::steady")
    worse = record("t.py::worse")
    base = results("base.json", [steady, worse])
    head = results("head.json", [steady, scaled(worse, 0.6)])
    changes = compare_results(base.records, head.records)
    lines = render_text(changes, base, head, DEFAULT_FAIL_ON).splitlines()
    assert lines[0].startswith("FAIL: 1 regression")
    assert lines[3].split()[:2] == ["status", "test"]
    assert lines[4].split()[:2] == ["regression", "t.py::worse"]
    assert "2.00x" in lines[4]
    assert "1.20x" in lines[4]
    assert "-40%" in lines[4]
