"""The fixture with a fake in-process executor: what it hands over, and when.

No verdict is asserted on these live timings: the tests carry no speedup bar (or
check only what does not depend on the clock); decisions are tested in
test_record.py on synthetic samples.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pytest_parscale.config import resolve
from pytest_parscale.errors import ConfigError
from pytest_parscale.fixture import Parscale, Thresholds
from pytest_parscale.markers import NO_MARKS, merge, parse_parscale, parse_speedup
from pytest_parscale.parametrize import ParscaleParam, WorkerPlan
from pytest_parscale.results import Record
from pytest_parscale.thresholds import FailOn, parse_fail_on
from tests.fakes import FakeExecutor, FakeExecutors, double

NODEID = "test_x.py::test_map[fake]"


def make(
    executors: FakeExecutors,
    *,
    param: ParscaleParam | None = None,
    cli: dict[str, Any] | None = None,
    own: FailOn | None = None,
) -> tuple[Parscale, list[Record]]:
    added: list[Record] = []
    settings = resolve({"min_rounds": "2", "max_rounds": "2", **(cli or {})}, {}, {})
    own = own or FailOn()
    fixture = Parscale(
        nodeid=NODEID,
        param=param or ParscaleParam("fake", None, WorkerPlan(2, 2, 1.0)),
        settings=settings,
        executors=executors,
        add_record=added.append,
        thresholds=Thresholds(own, own),
    )
    return fixture, added


def test_map_hands_over_one_complete_frozen_record() -> None:
    executors = FakeExecutors(FakeExecutor(2))
    fixture, added = make(executors, own=parse_fail_on("speedup:20%"))
    assert fixture.map(double, range(8), chunksize=2) == [value * 2 for value in range(8)]
    assert added == [fixture.record]
    record = added[0]
    assert (record.kind, record.item_count, record.chunksize, record.rounds) == ("map", 8, 2, 2)
    assert record.serialisation is not None
    assert record.serialisation.item_bytes > 0
    assert record.fail_on == "speedup:20%"
    assert record.executor == {"backend": "fake", "engine": "embedded"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.verdict = "fail"  # type: ignore[misc]


def test_measure_without_a_serialiser_records_no_cost() -> None:
    executors = FakeExecutors(FakeExecutor(2))
    fixture, added = make(executors)
    assert fixture.measure(serial=lambda: 3, parallel=lambda: 3) == 3
    (record,) = added
    assert record.kind == "measure"
    assert record.serialisation is None
    assert record.fail_on is None


def test_one_measurement_per_test() -> None:
    fixture, added = make(FakeExecutors(FakeExecutor(2)))
    fixture.measure(serial=lambda: 1, parallel=lambda: 1)
    with pytest.raises(ConfigError, match="second measurement"):
        fixture.map(double, [1])
    assert len(added) == 1


def test_a_crashed_worker_discards_the_executor_and_fails_the_test() -> None:
    executors = FakeExecutors(FakeExecutor(2, crash=True))
    fixture, added = make(executors)
    with pytest.raises(pytest.fail.Exception, match=r"a worker died \(fake, 2 workers\)"):
        fixture.map(double, range(4))
    assert executors.discarded == [("fake", 2)]
    assert added == []


def test_disabled_runs_serially_and_records_nothing() -> None:
    executors = FakeExecutors(FakeExecutor(2))
    fixture, added = make(executors, cli={"disable": True})
    assert fixture.map(double, [1, 2]) == [2, 4]
    assert executors.executor.maps == 0
    assert added == []


@pytest.mark.parametrize(("asked", "requested"), [(None, 3), ("2", 2), ("4", 4)])
def test_a_cluster_is_used_at_its_own_size(asked: str | None, requested: int) -> None:
    executors = FakeExecutors(FakeExecutor(3), cluster=True)
    fixture, added = make(executors, cli={"workers": asked})
    fixture.start()
    assert (fixture.workers, fixture.requested_workers) == (3, requested)
    fixture.map(double, range(6))
    assert (added[0].workers, added[0].workers_requested) == (3, requested)


def test_a_sweep_on_a_cluster_of_another_size_is_skipped() -> None:
    spec = merge(None, None, parse_parscale([], {"workers": [2, 4]}, "t"), "t")
    param = ParscaleParam("fake", None, WorkerPlan(2, 2, 1.0), True, False, spec)
    fixture, _ = make(FakeExecutors(FakeExecutor(3), cluster=True), param=param)
    with pytest.raises(pytest.skip.Exception, match="has 3 workers"):
        fixture.start()


def test_a_marked_test_that_never_measures_fails() -> None:
    assert merge(None, None, None, "t") == NO_MARKS
    marked = merge(parse_speedup([1.5], {}, "t"), None, None, "t")
    param = ParscaleParam("fake", None, WorkerPlan(2, 2, 1.0), spec=marked)
    fixture, _ = make(FakeExecutors(FakeExecutor(2)), param=param)
    with pytest.raises(pytest.fail.Exception, match="never called"):
        fixture.finish()
