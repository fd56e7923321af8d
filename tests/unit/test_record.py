"""build_record on synthetic samples: verdicts, warnings, projection, the file format."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from pytest_parscale.markers import merge, parse_overhead, parse_parscale, parse_speedup
from pytest_parscale.measure import Outcome, Samples
from pytest_parscale.parametrize import ParscaleParam, WorkerPlan
from pytest_parscale.record import build_record, ending, requirements_for
from pytest_parscale.report import notes, table
from pytest_parscale.results import ChunkAdvice, Record
from pytest_parscale.transport import SerialisationCost

GOLDEN = Path(__file__).parent.parent / "data" / "results-v2.json"
SERIAL = [2.0, 2.02, 1.98, 2.01, 1.99, 2.0]
NODEID = "test_x.py::test_it[pool]"


def outcome(parallel: list[float], transport: list[float] | None = None) -> Outcome:
    samples = Samples(list(SERIAL), parallel, transport or [])
    return Outcome(samples, None, None, 0.25, 12.0, "decided")


def param(minimum: float | None = None, *, plan: WorkerPlan | None = None) -> ParscaleParam:
    speedup = parse_speedup([minimum], {}, "t") if minimum is not None else None
    spec = merge(speedup, None, None, "t")
    return ParscaleParam("pool", 1000, plan or WorkerPlan(2, 2, 1.0), spec=spec)


def build(run: ParscaleParam, result: Outcome, *, strict: bool = False, **extra: object) -> Record:
    return build_record(
        nodeid=NODEID,
        param=run,
        outcome=result,
        requirements=requirements_for(run, run.spec),
        confidence=0.95,
        kind="map",
        item_count=64,
        chunksize=8,
        executor={"backend": "pool", "start_method": "fork"},
        strict=strict,
        **extra,  # type: ignore[arg-type]
    )


def test_a_clear_speedup_passes_with_no_warning() -> None:
    record = build(param(1.5), outcome([1.0, 1.01, 0.99, 1.0, 1.02, 0.98]))
    assert record.verdict == "pass"
    assert record.warnings == []
    assert record.speedup.estimate == pytest.approx(2.0, rel=0.01)
    assert record.efficiency == pytest.approx(1.0, rel=0.01)


def test_a_clear_miss_fails_and_is_not_also_a_warning() -> None:
    record = build(param(3.0), outcome([1.0, 1.01, 0.99, 1.0, 1.02, 0.98]))
    assert record.verdict == "fail"
    assert record.warnings == []


def test_an_undecided_bar_is_a_warning_unless_strict() -> None:
    noisy = outcome([0.6, 1.4, 0.9, 1.3, 0.7, 1.1])
    record = build(param(2.0), noisy)
    assert record.verdict == "undecided"
    assert len(record.warnings) == 1
    assert "undecided against required 2.00x" in record.warnings[0]
    assert build(param(2.0), noisy, strict=True).warnings == []


def test_ending_fails_a_miss_warns_an_undecided_bar_and_fails_it_when_strict() -> None:
    noisy = outcome([0.6, 1.4, 0.9, 1.3, 0.7, 1.1])
    undecided = build(param(2.0), noisy)
    assert ending(undecided, False) == ("", undecided.warnings[0])
    failure, warning = ending(undecided, True)
    assert failure.startswith("undecided under --parscale-strict: ")
    assert warning == ""
    missed = build(param(3.0), outcome([1.0, 1.01, 0.99, 1.0, 1.02, 0.98]))
    failure, warning = ending(missed, False)
    assert "< required 3.00x" in failure
    assert warning == ""
    passed = build(param(1.5), outcome([1.0, 1.01, 0.99, 1.0, 1.02, 0.98]))
    assert ending(passed, True) == ("", "")


def test_an_undersized_plan_scales_the_bar_and_projects() -> None:
    run = param(1.5, plan=WorkerPlan(4, 2, 0.5))
    record = build(run, outcome([1.2, 1.21, 1.19, 1.2, 1.22, 1.18]))
    (requirement,) = record.requirements
    assert (requirement.threshold, requirement.declared) == (0.75, 1.5)
    assert record.projection is not None
    assert record.projection.workers == 4
    # speedup 2.0 / 1.2 at 2 workers: (1/S - 1/p) / (1 - 1/p) = (0.6 - 0.5) / 0.5
    assert record.karp_flatt == pytest.approx(0.2, rel=0.05)


def test_unjudged_sweep_counts_and_small_items_carry_no_bar() -> None:
    spec = merge(parse_speedup([1.5], {"from_size": "10KB"}, "t"), parse_overhead([0.5], {}, "t"),
                 parse_parscale([], {"workers": [1, 2]}, "t"), "t")  # fmt: skip
    small = ParscaleParam("pool", 1000, WorkerPlan(2, 2, 1.0), True, True, spec)
    assert [req.metric for req in requirements_for(small, spec)] == ["overhead"]
    unjudged = dataclasses.replace(small, judged=False)
    assert requirements_for(unjudged, spec) == []


def test_serialisation_is_typed_but_stays_under_executor_in_the_file() -> None:
    cost = SerialisationCost(1009.0, 17.0, 2.5e-6)
    advice = ChunkAdvice(8, 2, 0.5, 0.9, True)
    record = build(
        param(), outcome([1.0] * 6), serialisation=cost, chunk_advice=advice, fail_on="speedup:5%"
    )
    data = record.to_dict()
    assert "serialisation" not in data
    assert data["executor"] == {
        "backend": "pool",
        "start_method": "fork",
        "serialisation": {"item_bytes": 1009.0, "result_bytes": 17.0, "seconds_per_item": 2.5e-6},
    }
    assert set(data) == set(json.loads(GOLDEN.read_text())["results"][0])  # schema v2 keys
    # ... in the order earlier releases wrote them
    assert list(data)[-6:] == [
        "executor",
        "chunk_advice",
        "warnings",
        "fail_on",
        "capacity",
        "samples",
    ]
    again = Record.from_dict(json.loads(json.dumps(data)))
    assert again == record
    assert again.serialisation == cost
    assert again.chunk_advice == advice


def test_every_golden_record_reads_and_writes_back_unchanged() -> None:
    for item in json.loads(GOLDEN.read_text())["results"]:
        assert Record.from_dict(item).to_dict() == item


def test_the_report_renders_a_built_record() -> None:
    cost = SerialisationCost(1009.0, 17.0, 2.5e-6)
    record = build(param(1.5), outcome([1.0, 1.01, 0.99, 1.0, 1.02, 0.98]), serialisation=cost)
    rows = table([record])
    assert any("test_it[pool]" in row and "pass" in row for row in rows)
    assert (
        "serialisation: test_it[pool]: 1009 B/item out, 17 B/result back, 2.5us/item to dump+load"
        in notes([record], [])
    )


def test_capacity_keeps_what_the_probe_read_per_round() -> None:
    from pytest_parscale.record import capacity_of

    measured = outcome([1.0] * 6)
    assert capacity_of(measured, 2) is None  # no probe: nothing claimed
    measured.samples.capacity[:] = [1.9, None, 2.04, 1.2, 1.8, 1.95]
    found = capacity_of(measured, 2)
    assert found is not None
    assert (found.cores, found.low, found.usable) == (1.9, 1.2, 2)
    assert found.per_round == (1.9, 2.0, 1.2, 1.8, 1.95)  # clipped to the usable cores
    assert capacity_of(measured, None) is None
