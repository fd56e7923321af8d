"""The engine a user started themselves: which fixture hands it over, and when to refuse it.

Three engines can be the user's own instead of one pytest-parscale starts
(docs/engines.md):

- a Celery worker of ``celery.contrib.pytest`` (``celery_worker`` or
  ``celery_session_worker`` in the test's fixtures), which runs the user's app,
  tasks, serializer and pool;
- a Dask ``Client`` or cluster returned by the ``parscale_dask_client`` fixture the
  user overrides;
- a Ray that the user's code already initialised (``ray.init(num_cpus=...)``).

Each is measured as it is: its size is the worker count, nothing is started or
stopped, and the record names it. The refusals here are pure (facts in, message
out) so they are tested without an engine; nothing heavy is imported.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_parscale.errors import ParscaleError, ShippingError

if TYPE_CHECKING:
    from pytest_parscale.backends.base import Executor

# celery.contrib.pytest's worker fixtures, session one first (the cheaper to share).
CELERY_WORKER_FIXTURES = ("celery_session_worker", "celery_worker")
# The fixture a user overrides to hand over a Dask Client (or a LocalCluster).
DASK_FIXTURE = "parscale_dask_client"
# Pools that run one task at a time whatever the concurrency says.
SERIAL_POOLS = ("solo",)
# Result stores that live in one process's memory: a prefork child's results stay in it.
PROCESS_LOCAL_RESULTS = ("cache+memory", "memory")
# A broker poll slower than this makes every map wait up to one poll before its
# first task starts (kombu's virtual transports poll every 1 s by default).
SLOW_POLL_SECONDS = 0.1
# Broker settings that make kombu's in-process transports poll fast enough.
FAST_POLL = "broker_transport_options={'polling_interval': 0.01}"


class EngineRefused(ParscaleError):
    """The user's engine would measure something other than what the test claims."""


def scheme(url: str | None) -> str:
    """``redis`` of ``redis://host/0``; ``disabled`` for no URL (Celery's own word)."""
    if not url:
        return "disabled"
    return str(url).split("://", 1)[0].lower()


def results_problem(fixture: str, pool: str, result_backend: str, broker: str) -> str | None:
    """Why the worker's results could never reach the test process, or None.

    Checked before a prefork worker starts: celery.contrib.pytest's own ping would
    otherwise wait 10 s and fail with a bare TimeoutError.
    """
    settings = f"set result_backend in celery_config (or the app {fixture} runs)"
    if result_backend == "disabled":
        return f"{fixture}'s app has no result backend: parscale needs the results back; {settings}"
    children = pool in ("prefork", "processes")
    local = result_backend in PROCESS_LOCAL_RESULTS or (
        result_backend == "rpc" and broker == "memory"
    )
    if children and local:
        return (
            f"{fixture} runs the prefork pool with result_backend {result_backend}://, "
            "which its child processes cannot share: a result stored in a child never "
            f"reaches the test process. {settings.capitalize()} to a store every process "
            "reaches, e.g. 'file:///tmp/celery-results' or a Redis URL"
        )
    return None


@dataclass(frozen=True)
class CeleryWorkerFacts:
    """What a running Celery worker really is, read from it (never assumed)."""

    fixture: str
    pool: str
    concurrency: int
    serializer: str
    result_serializer: str
    broker: str
    result_backend: str
    polling_interval: float | None  # None: the broker does not poll (Redis, AMQP)
    always_eager: bool

    def config(self) -> dict[str, Any]:
        """The configuration a record keeps and ``parscale compare`` matches on."""
        return {
            "pool": self.pool,
            "concurrency": self.concurrency,
            "serializer": self.serializer,
            "result_serializer": self.result_serializer,
            "broker": self.broker,
            "result_backend": self.result_backend,
        }


def celery_refusals(facts: CeleryWorkerFacts, *, speedup: bool) -> list[str]:
    """Every reason the worker cannot measure this test, each naming what to change."""
    fixture = facts.fixture
    found = []
    if facts.always_eager:
        found.append(
            f"{fixture}'s app has task_always_eager set: tasks run inline in the test "
            "process, so nothing of Celery (broker, serializer, pool) would be measured; "
            "leave it off in celery_config (or the app your celery_app fixture returns)"
        )
    problem = results_problem(fixture, facts.pool, facts.result_backend, facts.broker)
    if problem is not None:
        found.append(problem)
    if speedup and (facts.pool in SERIAL_POOLS or facts.concurrency < 2):
        found.append(
            f"{fixture} runs the {facts.pool} pool with concurrency {facts.concurrency} "
            "(celery.contrib.pytest's default is solo, 1): one task at a time, so "
            "@pytest.mark.speedup cannot pass; override the celery_worker_pool fixture to "
            "return 'prefork' (or 'threads' for work that releases the GIL) and "
            "celery_worker_parameters to return {'concurrency': 2} or more"
        )
    poll = facts.polling_interval
    if poll is not None and poll > SLOW_POLL_SECONDS:
        found.append(
            f"{fixture}'s broker ({facts.broker}://) polls its queues every {poll:g} s "
            f"(kombu's default is 1 s): each map would wait up to that before its first "
            f"task starts; lower it in celery_config: {FAST_POLL}"
        )
    return found


def dask_refusal(what: str) -> str:
    """Why Dask workers in the test's own event loop cannot be measured.

    ``what`` names them: an asynchronous client handed over, or an async test
    (gen_cluster runs its scheduler and workers in the loop that runs the test).
    """
    return (
        f"refused: {what}: the Dask workers share the test's own event loop, which a "
        "measured (synchronous) map would block, so nothing would run beside it; build a "
        f"LocalCluster(processes=True) in a fixture and return it from {DASK_FIXTURE} "
        "(docs/engines.md)"
    )


def is_async_test(function: Any) -> bool:
    """Whether the test is a coroutine under its decorators (gen_cluster wraps one)."""
    return inspect.iscoroutinefunction(inspect.unwrap(function))


def dask_config(nthreads: Mapping[str, int], processes: bool) -> dict[str, Any]:
    """``n_workers`` x ``threads_per_worker`` (a list when they differ) and ``processes``."""
    counts = sorted(set(nthreads.values()))
    threads: int | list[int] = counts[0] if len(counts) == 1 else sorted(nthreads.values())
    return {"n_workers": len(nthreads), "threads_per_worker": threads, "processes": processes}


# -- Celery tasks as the mapped function ---------------------------------------


def celery_task(fn: Any) -> Any | None:
    """``fn`` when it is a Celery task (or a ``@shared_task`` proxy), else None.

    Never imports Celery: a process that has not loaded it has no Celery task. A task
    declared on an app not yet finalized is a lazy proxy: it is evaluated here.
    """
    local = sys.modules.get("celery.local")
    if local is not None and isinstance(fn, local.Proxy):
        fn = fn._get_current_object()
    module = sys.modules.get("celery.app.task")
    if module is None or not isinstance(fn, module.Task):
        return None
    return fn


def task_map_parts(
    fn: Callable[[Any], Any],
    backend: str,
    executor: Executor,
    compare: Callable[[Any, Any], str | None],
) -> tuple[Callable[[Any], Any], Callable[[Any, Any], str | None]]:
    """For ``parscale.map``: the serial reference's function and the result comparison.

    A Celery task's serial reference is its own function (``task.run``) in the test
    process, and its results are compared as the caller receives them, after a trip
    through the app's result serializer (JSON turns tuples into lists).
    """
    task = celery_task(fn)
    if task is None:
        return fn, compare
    if backend != "celery":
        raise ShippingError(
            f"{task.name} is a Celery task: it is measured on the 'celery' backend only "
            "(@pytest.mark.parscale(backends=['celery'])); pass its function "
            f"({task.name}.run) to measure that on {backend!r}"
        )
    received: Callable[[Any], Any] | None = getattr(executor, "as_received", None)
    if received is None:
        return task.run, compare
    as_received = received

    def compare_received(expected: Any, got: Any) -> str | None:
        return compare(as_received(expected), got)

    return task.run, compare_received
