"""Machine capacity on the judging side: every rule on synthetic records, no probe, no clock.

A material capacity difference excuses only the verdict it could explain: a
regression measured on a busier machine is INCOMPARABLE (not a failure, and every
report says so); every other verdict stands with a note (docs/results-format.md).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from pytest_parscale.cli import main
from pytest_parscale.diffjson import render_json
from pytest_parscale.diffreport import (
    render_markdown,
    render_text,
    summary_lines,
    verdict_line,
)
from pytest_parscale.excuse import capacity_mismatch, capacity_tolerance, fed_share
from pytest_parscale.history import compare_to_history, judge_test
from pytest_parscale.html import write_html_report
from pytest_parscale.markdown import md
from pytest_parscale.notewords import note_text, note_texts
from pytest_parscale.paired.pooling import pool_capacity, pool_records
from pytest_parscale.regression import Status, compare_records, compare_results
from pytest_parscale.report import table
from pytest_parscale.results import Capacity, Record, document
from pytest_parscale.show import show_markdown
from pytest_parscale.storage import load, save
from pytest_parscale.thresholds import DEFAULT_FAIL_ON, parse_fail_on
from tests.records import MACHINE, record, scaled
from tests.unit.test_diffreport import results

TEST = "t.py::test_scales[pool]"


def busy(base: Record, cores: float | None, usable: int = 2) -> Record:
    """``base`` measured with ``cores`` of ``usable`` (None: capacity not measured)."""
    capacity = None if cores is None else Capacity(cores=cores, low=cores, usable=usable, own=1.0)
    return dataclasses.replace(base, capacity=capacity)


def slower(factor: float, nodeid: str = TEST) -> Record:
    """The test with its speedup divided by ``factor`` (tight rounds: clearly significant)."""
    return scaled(record(nodeid), 1 / factor)


# -- the rule --------------------------------------------------------------------


def test_busier_head_with_a_large_drop_is_incomparable_not_a_regression() -> None:
    base = busy(record(TEST), 2.0)
    head = busy(slower(1.4), 1.4)  # what a neighbour taking 0.6 of a core does to a map
    assert compare_records(base, dataclasses.replace(head, capacity=None)).status is (
        Status.REGRESSION
    )  # the same samples without capacities: judged, and failed
    change = compare_records(base, head, DEFAULT_FAIL_ON)
    assert change.status is Status.INCOMPARABLE
    assert change.reason == "capacity"
    assert change.changes  # measured and shown, just not held against the test
    assert note_texts(change.notes)[-1:] == (
        "machine busier: capacity 1.4 of 2 now vs 2.0 of 2 in the baseline; the 2 workers "
        "could use 70% of what they had then, a change beyond the 10% a comparison tolerates: "
        "not judged "
        "(rerun on a quiet machine, or measure both with parscale paired)",
    )


def test_a_drop_larger_than_the_lost_capacity_explains_is_still_a_regression() -> None:
    base = busy(record(TEST), 2.0)
    head = busy(slower(5.0), 1.4)  # 30% fewer cores cannot cost 80% of the speedup
    change = compare_records(base, head, DEFAULT_FAIL_ON)
    assert change.status is Status.REGRESSION
    assert note_text(change.notes[-1]).startswith(
        "machine busier: capacity 1.4 of 2 now vs 2.0 of 2"
    )
    assert note_text(change.notes[-1]).endswith(
        "more than that could explain (at most 37%): judged"
    )


def test_a_difference_excuses_only_the_verdict_it_could_explain() -> None:
    base = busy(record(TEST), 1.0)
    head = busy(record(TEST), 2.0)  # unchanged speedup on twice the cores: maybe a loss
    change = compare_records(base, head, DEFAULT_FAIL_ON)
    assert change.status is Status.UNCHANGED  # stands, but the note says what may hide
    assert note_text(change.notes[0]).startswith(
        "machine quieter: capacity 2.0 of 2 now vs 1.0 of 2"
    )
    assert note_text(change.notes[0]).endswith(
        "may hide a loss or explain a gain of about that size"
    )
    # a regression on a quieter machine is real: more cores cannot make a map slower
    assert compare_records(base, busy(slower(1.5), 2.0)).status is Status.REGRESSION
    # an unchanged run on a busier machine is still unchanged
    busier = compare_records(busy(record(TEST), 2.0), busy(record(TEST), 1.0))
    assert busier.status is Status.UNCHANGED
    assert note_text(busier.notes[0]).endswith(
        "the verdict stands: less capacity cannot hide a loss"
    )


def test_capacity_within_the_tolerance_is_judged_as_usual() -> None:
    base = busy(record(TEST), 2.0)
    head = busy(slower(1.3), 1.85)  # 92.5% of the cores: within the 10% threshold
    change = compare_records(base, head, DEFAULT_FAIL_ON)
    assert change.status is Status.REGRESSION
    assert note_texts(change.notes) == ()


@pytest.mark.parametrize(
    ("fail_on", "head_cores", "factor", "status"),
    [
        ("speedup:10%", 1.79, 1.2, Status.INCOMPARABLE),  # 89.5%: beyond 10%, drop explained
        ("speedup:10%", 1.81, 1.2, Status.REGRESSION),  # 90.5%: within 10%
        ("speedup:25%", 1.6, 1.5, Status.REGRESSION),  # a looser test tolerates more
        ("speedup:25%", 1.4, 1.5, Status.INCOMPARABLE),
        ("speedup:1%", 1.92, 1.05, Status.REGRESSION),  # the 5% floor: the probe's own noise
        ("speedup:1%", 1.88, 1.05, Status.INCOMPARABLE),
        ("speedup:off", 1.81, 1.5, Status.UNCHANGED),  # off: nothing regresses, nothing to excuse
        ("speedup:off", 1.79, 1.5, Status.UNCHANGED),
    ],
)
def test_material_means_beyond_the_speedup_threshold_with_a_floor(
    fail_on: str, head_cores: float, factor: float, status: Status
) -> None:
    thresholds = parse_fail_on(fail_on)
    full = type(thresholds)(
        speedup=thresholds.speedup if thresholds.speedup is not None else 0.1,
        overhead=DEFAULT_FAIL_ON.overhead,
    )
    base = busy(record(TEST), 2.0)
    head = busy(slower(factor), head_cores)
    assert compare_records(base, head, full).status is status


def test_tolerance_values() -> None:
    assert capacity_tolerance(0.10) == 0.10
    assert capacity_tolerance(0.30) == 0.30
    assert capacity_tolerance(0.01) == 0.05
    assert capacity_tolerance(float("inf")) == 0.10


def test_spare_cores_beyond_the_workers_do_not_count() -> None:
    """2 workers on a 4-core machine: 3.0 of 4 feeds them as well as 4.0 of 4."""
    base = busy(record(TEST), 4.0, usable=4)
    assert fed_share(busy(record(TEST), 3.0, usable=4)) == fed_share(base) == 1.0
    assert capacity_mismatch(base, busy(record(TEST), 3.0, usable=4), 0.1) is None
    # 1.5 of 4 cannot feed 2 workers: 75% of what they had
    assert capacity_mismatch(base, busy(record(TEST), 1.5, usable=4), 0.1) is not None
    assert fed_share(record(TEST)) is None


def test_one_side_without_capacity_is_compared_as_before_with_a_note() -> None:
    old = record(TEST)  # a v1 baseline: no capacity
    change = compare_records(old, busy(slower(1.4), 1.4), DEFAULT_FAIL_ON)
    assert change.status is Status.REGRESSION
    assert note_texts(change.notes) == (
        "capacity not measured in the baseline (this run had 1.4 of 2): a busier machine "
        "cannot be told from a regression",
    )
    # the baseline was the busy one, this run has no probe (the e2e case below)
    change = compare_records(busy(record(TEST), 1.0), record(TEST), DEFAULT_FAIL_ON)
    assert change.status is Status.UNCHANGED
    assert note_texts(change.notes) == (
        "capacity not measured in this run (the baseline had 1.0 of 2): a busier machine "
        "cannot be told from a regression",
    )
    # neither side measured it: exactly as before capacity existed
    assert compare_records(record(TEST), record(TEST), DEFAULT_FAIL_ON).notes == ()


def test_engine_mismatch_is_reported_before_capacity() -> None:
    cluster = dataclasses.replace(
        busy(record(TEST), 1.0), executor={"backend": "pool", "engine": "127.0.0.5:1"}
    )
    change = compare_records(busy(record(TEST), 2.0), cluster, DEFAULT_FAIL_ON)
    assert (change.status, change.reason) == (Status.INCOMPARABLE, "engine")


# -- history ---------------------------------------------------------------------

SPREAD = (1.6, 2.0, 1.8, 2.2, 1.7, 1.9)


def run(speedup: float, cores: float | None) -> Record:
    parallel = (1.0, 1.002, 0.998, 1.001, 0.999, 1.0)
    return busy(
        record(TEST, serial=[value * speedup for value in parallel], parallel=parallel), cores
    )


def test_history_keeps_busy_runs_and_their_capacity_explains_them() -> None:
    """Busy runs stay in the history. Without capacities their spread widens the band;
    with them the fit on capacity explains them, and the band stays narrow."""
    quiet = [run(value, 2.0) for value in SPREAD]
    noisy = [run(0.9, 1.0), run(0.95, 1.0)]  # two runs beside a neighbour: speedup halved
    head = run(1.2, 2.0)
    alone = compare_to_history(quiet, head, DEFAULT_FAIL_ON)
    mixed_runs = [*quiet[:3], *noisy, *quiet[3:]]
    blind = compare_to_history(
        [busy(r, None) for r in mixed_runs], busy(head, None), DEFAULT_FAIL_ON
    )
    mixed = compare_to_history(mixed_runs, head, DEFAULT_FAIL_ON)
    assert alone.status is mixed.status is Status.REGRESSION
    assert blind.changes[0].low < alone.changes[0].low  # the mean model: a wider band
    assert (
        note_text(blind.notes[0])
        == "judged against the spread between the last 8 runs of the history"
    )
    assert mixed.changes[0].low > blind.changes[0].low  # the busy runs are explained
    assert note_text(mixed.notes[0]).startswith(
        "judged against the last 8 runs of the history, speedup fitted on capacity (slope "
    )


def test_busy_head_against_a_quiet_history_is_incomparable_when_wholly_explained() -> None:
    """Half the cores explain a drop to about 45% less; against a tight history the
    whole interval of a -47% drop lies within that: not judged. Against a history
    spread +-10% the band reaches beyond it: judged (issue 21)."""
    tight = [run(value, 2.0) for value in (1.9, 1.92, 1.88, 1.91, 1.89, 1.9)]
    change = compare_to_history(tight, run(1.0, 1.0), DEFAULT_FAIL_ON)
    assert change.status is Status.INCOMPARABLE
    assert change.reason == "capacity"
    assert note_text(change.notes[-1]).startswith(
        "machine busier: capacity 1.0 of 2 now vs 2.0 of 2"
    )
    quiet = [run(value, 2.0) for value in SPREAD]
    wide = compare_to_history(quiet, run(0.95, 1.0), DEFAULT_FAIL_ON)
    assert wide.status is Status.REGRESSION
    assert "more than that could explain" in note_text(wide.notes[-1])


def test_a_busier_head_whose_own_cpu_fell_is_judged() -> None:
    """The head left a core idle and a neighbour took it: the machine reads busier by
    the code's own doing, so the capacity excuses nothing (issue 21 item 5)."""
    base = busy(record(TEST), 2.0)
    idle = dataclasses.replace(
        busy(slower(1.4), 1.4), capacity=Capacity(cores=1.4, low=1.4, usable=2, own=0.7)
    )
    change = compare_records(base, idle, DEFAULT_FAIL_ON)
    assert change.status is Status.REGRESSION
    assert "this tree itself used 0.70 cores against 1.00" in note_text(change.notes[-1])
    unknown = dataclasses.replace(idle, capacity=Capacity(cores=1.4, low=1.4, usable=2))
    assert compare_records(base, unknown, DEFAULT_FAIL_ON).status is Status.REGRESSION


def test_busy_history_judges_a_busy_head_against_its_latest_capacity() -> None:
    runs = [run(value, 2.0) for value in SPREAD] + [run(v, 1.0) for v in (0.9, 1.0, 0.95)]
    change = compare_to_history(runs, run(0.93, 1.0), DEFAULT_FAIL_ON)
    assert change.status is not Status.INCOMPARABLE  # as busy as the latest run
    assert note_text(change.notes[0]).startswith(
        "judged against the last 9 runs of the history, speedup fitted"
    )


def test_mixed_v1_v2_history_file_loads_and_judges(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    for value in SPREAD[:3]:  # written by an older pytest-parscale: schema v1, no capacity
        old = document([run(value, None)], MACHINE, [])
        old["schema_version"] = 1
        for item in old["results"]:
            del item["capacity"]
        save(str(path), old, overwrite=False)
    for value in SPREAD[3:]:
        save(str(path), document([run(value, 2.0)], MACHINE, []), overwrite=False)
    loaded = load(path)
    assert [r.schema_version for r in loaded.runs] == [1, 1, 1, 2, 2, 2]
    assert [r.records[TEST].capacity is None for r in loaded.runs] == [True] * 3 + [False] * 3
    change = judge_test(loaded, run(1.9, 2.0), DEFAULT_FAIL_ON)
    assert change.status in (Status.UNCHANGED, Status.UNCERTAIN)  # judged, not a regression
    assert note_text(change.notes[1]) == (
        "capacity not measured in 3 of the 6 runs judged against (schema v1): a busier "
        "machine cannot be told from a regression there"
    )
    # a busy head whose speedup halved: the busy machine could explain about that
    # much, but the band of a +-10% history reaches beyond it: judged (issue 21)
    change = judge_test(loaded, run(1.0, 1.0), DEFAULT_FAIL_ON)
    assert change.status is Status.REGRESSION
    assert "more than that could explain" in note_text(change.notes[-1])


# -- paired pooling ---------------------------------------------------------------


def test_pooled_capacity_is_the_median_round_and_unknown_if_any_session_is() -> None:
    one = Capacity(2.0, 1.8, 2, rounds_rejected=1, quiet_wait_seconds=0.5, per_round=(2.0, 1.8))
    two = Capacity(
        1.0, 0.9, 2, rounds_rejected=0, quiet_wait_seconds=1.0, per_round=(1.0, 0.9, 1.1)
    )
    pooled = pool_capacity([one, two])
    assert pooled == Capacity(1.1, 0.9, 2, 1, 1.5, (2.0, 1.8, 1.0, 0.9, 1.1))
    assert pool_capacity([one, None]) is None
    assert pool_capacity([None, None]) is None
    without_rounds = pool_capacity(
        [Capacity(2.0, 1.9, 2), Capacity(1.6, 1.5, 2), Capacity(1.8, 1.7, 2)]
    )
    assert without_rounds is not None
    assert (without_rounds.cores, without_rounds.low, without_rounds.per_round) == (1.8, 1.5, ())
    sessions = [busy(record(TEST), 2.0), busy(record(TEST), 1.0), busy(record(TEST), 1.8)]
    assert pool_records(sessions).capacity == Capacity(1.8, 1.0, 2, own=1.0)  # own: pooled too


# -- reports ---------------------------------------------------------------------


def busy_runs() -> tuple[list[Record], list[Record]]:
    base = [busy(record("t.py::a"), 2.0), busy(record("t.py::b"), 2.0)]
    head = [busy(slower(1.5, "t.py::a"), 1.4), busy(record("t.py::b"), 1.9)]
    return base, head


def test_reports_list_incomparable_tests_loudly() -> None:
    before, after = busy_runs()
    base, head = results("base.json", before), results("head.json", after)
    changes = compare_results(base.records, head.records)
    assert [c.status for c in changes] == [Status.INCOMPARABLE, Status.UNCHANGED]
    line = verdict_line(changes)
    assert line == (
        "OK: no regression against the baseline; 1 test not judged: machine capacity differed "
        "(1 incomparable, 1 unchanged)"
    )
    warning = (
        "1 test was NOT JUDGED: the machine's capacity differed materially from the "
        "baseline's (see each test's note); rerun on a quiet machine, or use parscale paired"
    )
    text = render_text(changes, base, head, DEFAULT_FAIL_ON)
    assert f"warning: {warning}" in text
    assert "note: t.py::a: machine busier: capacity 1.4 of 2 now vs 2.0 of 2" in text
    header = next(row for row in text.splitlines() if row.startswith("status"))
    assert header.split()[-1] == "capacity"
    assert "2.0/2 -> 1.4/2" in text
    markdown = render_markdown(changes, base, head, DEFAULT_FAIL_ON)
    assert markdown.startswith(f"### :warning: pytest-parscale: {md(line)}")
    assert f"> :warning: {md(warning)}" in markdown
    assert "#### Not compared: machine capacity differs materially (1)" in markdown
    assert md("2.0/2 -> 1.4/2") in markdown
    assert md("2.0/2 -> 1.9/2") in markdown
    data = render_json(changes, base, head, DEFAULT_FAIL_ON)
    assert data["verdict"] == "ok"
    assert data["not_compared"] == [
        {"nodeid": "t.py::a", "reason": "capacity", "notes": list(note_texts(changes[0].notes))}
    ]
    first = data["tests"][0]
    assert first["reason"] == "capacity"
    assert first["baseline"]["capacity"]["cores"] == 2.0
    assert first["head"]["capacity"] == {
        "cores": 1.4,
        "low": 1.4,
        "own": 1.0,
        "usable": 2,
        "rounds_rejected": 0,
        "quiet_wait_seconds": 0.0,
        "per_round": [],
    }
    summary = summary_lines(changes, base, 2)
    assert summary[2] == f"warning: {warning}"
    assert any(
        s.startswith("incomparable t.py::a: speedup 2.00 -> 1.33") and "machine busier" in s
        for s in summary
    )


def test_reports_without_capacity_look_as_before() -> None:
    base = results("base.json", [record("t.py::a")])
    head = results("head.json", [slower(1.5, "t.py::a")])
    changes = compare_results(base.records, head.records)
    markdown = render_markdown(changes, base, head, DEFAULT_FAIL_ON)
    assert "capacity" not in markdown
    assert "capacity" not in "\n".join(table(list(head.records.values())))


def test_speedup_table_and_show_have_a_capacity_column() -> None:
    records = [busy(record("t.py::a"), 1.94), record("t.py::b")]
    lines = table(records)
    assert lines[0].split()[-2:] == ["capacity", "verdict"]
    assert lines[2].split()[-2:] == ["1.9/2", "pass"]
    assert lines[3].split()[-2:] == ["-", "pass"]
    shown = show_markdown(results("r.json", records))
    assert "| capacity |" in shown
    assert f"| {md('1.9/2')} |" in shown


def test_parscale_compare_exits_0_when_the_only_change_is_incomparable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before, after = busy_runs()
    paths = []
    for name, records in (("base.json", before), ("head.json", after)):
        paths.append(str(tmp_path / name))
        save(paths[-1], document(records, MACHINE, []), overwrite=False)
    assert main(["compare", *paths]) == 0
    out = capsys.readouterr().out
    assert "1 test not judged: machine capacity differed" in out
    assert main(["compare", *paths, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["not_compared"][0]["nodeid"] == "t.py::a"


def test_html_report_shows_capacity_per_test(tmp_path: Path) -> None:
    golden = load(Path(__file__).parent.parent / "data" / "results-v2.json")
    page = write_html_report(golden, tmp_path / "html", plots=False).read_text()
    assert "capacity</th>" in page
    assert 'title="1.9 of 2 usable cores, the median over its rounds">1.9/2</td>' in page  # pool
    assert '<td title="not measured">-</td>' in page  # the process record measured none
