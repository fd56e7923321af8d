"""The user's own engines: refusals, configuration and Celery tasks, without an engine.

The refusals are pure functions of what a running worker reports, so every branch is
checked on facts written by hand; the live workers are tests/e2e/test_user_engines.py.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

import pytest

from pytest_parscale.adoption import for_user_worker
from pytest_parscale.backends.base import EngineStart
from pytest_parscale.diffreport import render_markdown, render_text
from pytest_parscale.engines import (
    CeleryWorkerFacts,
    EngineRefused,
    celery_refusals,
    dask_config,
    dask_refusal,
    is_async_test,
    results_problem,
    scheme,
    task_map_parts,
)
from pytest_parscale.errors import BackendUnavailable, ShippingError
from pytest_parscale.markers import NO_MARKS
from pytest_parscale.notewords import note_texts
from pytest_parscale.regression import Status, compare_records, compare_results, engine_mismatch
from pytest_parscale.results import Record
from pytest_parscale.session import UserEngine
from pytest_parscale.thresholds import DEFAULT_FAIL_ON
from pytest_parscale.transport import TransportStub, carries_bytes
from tests.records import record
from tests.unit.test_diffreport import results

GOOD = CeleryWorkerFacts(
    fixture="celery_session_worker",
    pool="prefork",
    concurrency=2,
    serializer="json",
    result_serializer="json",
    broker="memory",
    result_backend="file",
    polling_interval=0.01,
    always_eager=False,
)


def test_urls_are_reduced_to_their_scheme() -> None:
    assert scheme("cache+memory://") == "cache+memory"
    assert scheme("redis://:secret@127.0.0.1:6379/1") == "redis"
    assert scheme(None) == "disabled"


def test_prefork_results_must_be_shared_across_processes() -> None:
    refused = results_problem("celery_worker", "prefork", "cache+memory", "memory")
    assert refused is not None
    assert "cache+memory://, which its child processes cannot share" in refused
    assert "celery_config" in refused
    assert results_problem("celery_worker", "processes", "rpc", "memory") is not None
    # threads and solo run tasks in the test process: its memory is theirs
    assert results_problem("celery_worker", "threads", "cache+memory", "memory") is None
    assert results_problem("celery_worker", "prefork", "file", "memory") is None
    assert results_problem("celery_worker", "prefork", "rpc", "redis") is None
    assert "no result backend" in str(results_problem("celery_worker", "solo", "disabled", "x"))


def test_a_good_worker_is_not_refused() -> None:
    assert celery_refusals(GOOD, speedup=True) == []


def test_solo_or_one_process_is_refused_only_under_a_speedup_marker() -> None:
    solo = dataclasses.replace(GOOD, pool="solo", concurrency=1)
    assert celery_refusals(solo, speedup=False) == []
    [refused] = celery_refusals(solo, speedup=True)
    assert "celery_session_worker runs the solo pool with concurrency 1" in refused
    assert "celery_worker_pool fixture" in refused
    assert "celery_worker_parameters" in refused
    one = dataclasses.replace(GOOD, concurrency=1)
    assert len(celery_refusals(one, speedup=True)) == 1


def test_eager_and_slow_polling_are_refused_with_what_to_set() -> None:
    facts = dataclasses.replace(GOOD, always_eager=True, polling_interval=1.0)
    eager, poll = celery_refusals(facts, speedup=False)
    assert "task_always_eager" in eager
    assert "polls its queues every 1 s" in poll
    assert "broker_transport_options={'polling_interval': 0.01}" in poll
    # Redis does not poll: nothing to lower
    redis = dataclasses.replace(GOOD, broker="redis", polling_interval=None)
    assert celery_refusals(redis, speedup=True) == []


def test_celery_config_is_what_the_record_keeps() -> None:
    assert GOOD.config() == {
        "pool": "prefork",
        "concurrency": 2,
        "serializer": "json",
        "result_serializer": "json",
        "broker": "memory",
        "result_backend": "file",
    }


def test_dask_config_states_workers_times_threads() -> None:
    assert dask_config({"a": 1, "b": 1}, True) == {
        "n_workers": 2,
        "threads_per_worker": 1,
        "processes": True,
    }
    assert dask_config({"a": 2, "b": 1}, False)["threads_per_worker"] == [1, 2]


def test_async_tests_and_clients_are_refused_with_the_reason() -> None:
    async def body() -> None: ...

    @functools.wraps(body)
    def wrapped() -> None: ...  # gen_cluster wraps the coroutine like this

    assert is_async_test(wrapped)
    assert not is_async_test(test_async_tests_and_clients_are_refused_with_the_reason)
    refused = dask_refusal("parscale_dask_client returned an asynchronous client")
    assert "share the test's own event loop" in refused
    assert "LocalCluster(processes=True)" in refused


def test_a_test_on_the_users_worker_runs_on_celery_unless_marked() -> None:
    narrowed = for_user_worker(NO_MARKS, ["parscale", "celery_session_worker"])
    assert narrowed.parscale.backends == ("celery",)
    assert for_user_worker(NO_MARKS, ["parscale"]) is NO_MARKS
    marked = dataclasses.replace(
        NO_MARKS, parscale=dataclasses.replace(NO_MARKS.parscale, backends=("pool",))
    )
    assert for_user_worker(marked, ["celery_worker"]) is marked


@pytest.fixture(scope="module")
def task() -> Any:
    celery = pytest.importorskip("celery")
    app = celery.Celery("unit", set_as_current=False)

    @app.task(name="unit.pair")
    def pair(item: str) -> tuple[str, int]:
        return (item, len(item))

    return pair


class JsonReturns:
    """An executor whose results come back through JSON, as a user's Celery app's do."""

    def as_received(self, value: Any) -> Any:
        return json.loads(json.dumps(value))


def test_a_celery_task_serially_is_its_own_function_compared_as_received(task: Any) -> None:
    def compare(expected: Any, got: Any) -> str | None:
        return None if expected == got else f"{expected!r} != {got!r}"

    reference, received = task_map_parts(task, "celery", JsonReturns(), compare)  # type: ignore[arg-type]
    assert reference("ab") == ("ab", 2)
    assert received(("ab", 2), ["ab", 2]) is None  # JSON turned the tuple into a list
    assert received(("ab", 2), ["ab", 3]) is not None
    plain, same = task_map_parts(len, "celery", JsonReturns(), compare)  # type: ignore[arg-type]
    assert plain is len
    assert same is compare


def test_a_celery_task_on_another_backend_says_where_it_runs(task: Any) -> None:
    with pytest.raises(ShippingError, match=r"unit.pair is a Celery task: .*'celery' backend only"):
        task_map_parts(task, "pool", JsonReturns(), lambda a, b: None)  # type: ignore[arg-type]


def test_the_embedded_celery_backend_sends_a_task_to_the_users_worker(task: Any) -> None:
    from pytest_parscale.backends.celery import CeleryExecutor

    with pytest.raises(
        ShippingError, match=r"request celery\.contrib\.pytest's celery_session_worker"
    ):
        CeleryExecutor.check_shippable(object(), task)  # type: ignore[arg-type]


def test_kombu_json_is_bytes_on_the_wire() -> None:
    pytest.importorskip("celery")
    from pytest_parscale.backends.celery import kombu_codec

    dumps, loads = kombu_codec("json")
    assert loads(dumps({"a": (1, 2)})) == {"a": [1, 2]}
    assert not carries_bytes(dumps)  # kombu's JSON escapes each zero byte into six
    assert carries_bytes(kombu_codec("pickle")[0])


def test_the_transport_stub_returns_text_for_serializers_without_bytes() -> None:
    assert TransportStub(3)(object()) == bytes(3)
    assert TransportStub(3, text=True)(object()) == "xxx"


class Adopted:
    backend = "celery"
    workers = 2

    def __init__(self) -> None:
        self.closed = False

    def describe(self) -> dict[str, Any]:
        return {"engine": "celery_session_worker", "config": {"pool": "prefork"}}

    def close(self) -> None:
        self.closed = True


def test_a_users_engine_is_listed_once_and_let_go_after_its_test() -> None:
    starts: list[EngineStart] = []
    adopted: list[Adopted] = []

    def adopt() -> Any:
        adopted.append(Adopted())
        return adopted[-1]

    for _ in range(2):  # two tests on one session worker
        source = UserEngine("celery", adopt, starts)
        assert source.on_cluster("celery")
        assert source.get("celery", 2) is source.get("celery", 2)
        source.discard("celery", 2)
    assert len(starts) == 1
    assert [engine.closed for engine in adopted] == [True, True]


def test_adopting_keeps_a_refusal_and_names_any_other_failure() -> None:
    def refuse() -> Any:
        raise EngineRefused("refused: solo pool")

    with pytest.raises(EngineRefused, match="solo pool"):
        UserEngine("celery", refuse, []).get("celery", 2)

    def broken() -> Any:
        raise RuntimeError("no broker")

    with pytest.raises(BackendUnavailable, match="celery engine your fixtures started: Runtime"):
        UserEngine("celery", broken, []).get("celery", 2)


def configured(base: Record, **config: Any) -> Record:
    """``base`` measured on the user's Celery worker configured as ``config`` says."""
    executor = {**base.executor, "engine": "celery_session_worker", "config": config}
    return dataclasses.replace(base, backend="celery", executor=executor)


PREFORK = {"pool": "prefork", "concurrency": 2, "serializer": "json", "broker": "memory"}


def test_a_different_engine_configuration_is_not_judged_and_says_what_differs() -> None:
    base = configured(record(), **PREFORK)
    head = configured(record(), **{**PREFORK, "pool": "threads", "serializer": "pickle"})
    change = compare_records(base, head, DEFAULT_FAIL_ON)
    assert (change.status, change.reason) == (Status.INCOMPARABLE, "config")
    [note] = note_texts(change.notes)
    assert "configuration differs from the baseline's (pool prefork -> threads, " in note
    assert "serializer json -> pickle)" in note
    # a history or change-point window leaves such runs out as well
    assert engine_mismatch(base, head) == change.notes[0]


def test_a_different_size_alone_is_compared_per_worker() -> None:
    base = configured(record(), **PREFORK)
    head = configured(record(workers=4), **{**PREFORK, "concurrency": 4})
    change = compare_records(base, head, DEFAULT_FAIL_ON)
    assert change.status is not Status.INCOMPARABLE
    assert any("workers differ" in note for note in note_texts(change.notes))
    # a baseline from before configurations were recorded is compared as before
    older = dataclasses.replace(base, executor={"engine": "celery_session_worker"})
    assert compare_records(older, head, DEFAULT_FAIL_ON).status is not Status.INCOMPARABLE


def test_reports_say_the_configuration_differs() -> None:
    base = results("base.json", [configured(record("t.py::a"), **PREFORK)])
    head = results("head.json", [configured(record("t.py::a"), **{**PREFORK, "pool": "solo"})])
    changes = compare_results(base.records, head.records)
    markdown = render_markdown(changes, base, head, DEFAULT_FAIL_ON)
    assert "#### Not compared: engine configuration differs (1)" in markdown
    text = render_text(changes, base, head, DEFAULT_FAIL_ON)
    assert "warning: 1 test was not compared: the engine's configuration differs" in text
