"""The session: executors started once per engine, records in, one results document out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_parscale.backends.base import BACKENDS, BackendInfo
from pytest_parscale.config import Settings, resolve
from pytest_parscale.errors import BackendUnavailable
from pytest_parscale.session import Executors, ParscaleSession
from tests.fakes import FakeExecutor
from tests.records import record

STARTED: list[int] = []


def start(workers: int, settings: Settings) -> FakeExecutor:
    """The fake backend's start(), found by module name as every backend's is."""
    if workers == 13:
        raise RuntimeError("no such engine")
    STARTED.append(workers)
    return FakeExecutor(workers)


@pytest.fixture
def fake_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    STARTED.clear()
    monkeypatch.setitem(BACKENDS, "fake", BackendInfo("fake", __name__))


@pytest.mark.usefixtures("fake_backend")
def test_each_engine_starts_once_and_a_discarded_one_restarts() -> None:
    executors = Executors(resolve({}, {}, {}))
    first = executors.get("fake", 2)
    assert executors.get("fake", 2) is first
    assert STARTED == [2]
    executors.get("fake", 3)
    executors.discard("fake", 2)
    assert isinstance(first, FakeExecutor)
    assert first.closed
    assert executors.get("fake", 2) is not first
    assert STARTED == [2, 3, 2]
    assert [start.workers for start in executors.starts] == [2, 3, 2]
    executors.close_all()


@pytest.mark.usefixtures("fake_backend")
def test_the_embedded_celery_engine_is_closed_after_a_users_celery_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # celery.contrib.pytest's teardown flag may have reached our worker loop too
    monkeypatch.setitem(BACKENDS, "celery", BackendInfo("celery", __name__))
    executors = Executors(resolve({}, {}, {}))
    embedded, other = executors.get("celery", 2), executors.get("fake", 2)
    executors.user_celery_worker_ended()
    assert isinstance(embedded, FakeExecutor)
    assert embedded.closed
    assert not executors.holds("celery")
    assert executors.get("fake", 2) is other
    executors.close_all()


@pytest.mark.usefixtures("fake_backend")
def test_a_users_celery_worker_leaves_a_celery_cluster_connection_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    celery = BackendInfo("celery", __name__, cluster_option="celery_broker")
    monkeypatch.setitem(BACKENDS, "celery", celery)
    settings = resolve({"celery_broker": "redis://127.0.0.1:6379/0"}, {}, {})
    executors = Executors(settings)
    connection = executors.get("celery", 2)
    executors.user_celery_worker_ended()
    assert executors.get("celery", 2) is connection
    executors.close_all()


@pytest.mark.usefixtures("fake_backend")
def test_a_failed_start_is_remembered_not_retried() -> None:
    executors = Executors(resolve({}, {}, {}))
    for _ in range(2):
        with pytest.raises(BackendUnavailable, match="'fake' with 13 workers: no such engine"):
            executors.get("fake", 13)
    assert STARTED == []


def test_the_results_file_holds_every_added_record(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    session = ParscaleSession(resolve({"json": str(path)}, {}, {}))
    first, second = record("t.py::a"), record("t.py::b", fail_on="speedup:5%")
    session.add(first)
    assert [item["nodeid"] for item in session.results()["results"]] == ["t.py::a"]
    session.add(second)  # the document is built again, never patched
    session.write_outputs()
    written: dict[str, Any] = json.loads(path.read_text())
    assert written["results"] == [first.to_dict(), second.to_dict()]
    assert written["results"][1]["fail_on"] == "speedup:5%"


def test_nothing_is_written_when_nothing_is_asked(tmp_path: Path) -> None:
    session = ParscaleSession(resolve({}, {}, {}), tmp_path)
    session.add(record())
    session.write_outputs()
    assert list(tmp_path.iterdir()) == []


def _compared(nodeid: str, p_value: float) -> Any:
    from pytest_parscale.regression import Change, Status, TestChange

    status = Status.REGRESSION if p_value <= 0.025 else Status.UNCHANGED
    change = Change("speedup", 2.0, 1.5, -0.25, -0.3, -0.2, 0.1, True, True, status, p_value)
    return TestChange(nodeid, status, None, None, (change,))


@pytest.mark.parametrize(
    ("family", "at_first_step", "at_end"),
    [
        ("holm", ["t::a"], ["t::b"]),
        ("bh", ["t::a"], ["t::b", "t::c"]),
        ("none", ["t::a", "t::b", "t::c"], []),
    ],
)
def test_a_session_judges_each_test_at_the_first_step_and_the_family_at_the_end(
    family: str, at_first_step: list[str], at_end: list[str]
) -> None:
    """10 comparisons collected: a test ending fails at p <= 2.5%/10 (Holm's and BH's
    first step); at the end Holm also calls p = 0.0027 (x9 = 2.43%) and BH p = 0.004
    (x10/3 = 1.3%): those pass as tests and fail the session."""
    from pytest_parscale.storage import Results

    session = ParscaleSession(Settings(family=family))
    session.baseline = Results("base.json", 2, "2026-01-01T00:00:00+00:00", None, {}, [])
    session.family_members = 10
    p_values = {"t::a": 0.001, "t::b": 0.0027, "t::c": 0.004}
    p_values.update({f"t::q{i}": 0.5 for i in range(7)})
    failed = [
        nodeid
        for nodeid, p in p_values.items()
        if session.judge(_compared(nodeid, p)).status.value == "regression"
    ]
    assert failed == at_first_step
    session.settle_family()
    assert session.called_at_end == at_end
    assert session.family is not None
    assert session.family.cases == 10
