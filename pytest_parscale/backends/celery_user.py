"""``celery`` on the user's own worker: their app, tasks, serializer and pool.

A test that requests celery.contrib.pytest's ``celery_worker`` or
``celery_session_worker`` is measured on that worker (docs/engines.md): the mapped
function is one of the app's tasks, dispatched as ``group(task.s(item) ...)`` (or
``task.chunks``) with the app's own serializer and routes, and gathered with a 5 ms
result poll. Its pool type and concurrency are read from the running worker; the
serial reference is the task's own function in the test process.

Nothing is started or stopped here. One task of pytest-parscale's is registered on
the app before the worker starts (engines.prepare_celery_worker): the transport-only
run of the overhead marker, which ships the same items and returns results of the
same encoded size without doing the work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pytest_parscale.backends import _remote
from pytest_parscale.backends.celery import CeleryExecutor, kombu_codec
from pytest_parscale.engines import (
    CeleryWorkerFacts,
    EngineRefused,
    celery_refusals,
    celery_task,
    scheme,
)
from pytest_parscale.errors import ShippingError
from pytest_parscale.transport import TransportStub

TRANSPORT_TASK = "pytest_parscale.transport"
# celery.concurrency module -> the pool name a user passes to celery_worker_pool
POOL_NAMES = {"prefork": "prefork", "thread": "threads", "solo": "solo"}
# Seconds the no-op maps that time the per-task cost may take: a worker that does
# not consume the queue they go to fails the test instead of hanging it.
NO_OP_TIMEOUT = 30.0


def transport(item: Any, result_bytes: int, text: bool) -> Any:
    """The transport-only task: receives the item, returns a result of the same size."""
    return TransportStub(result_bytes, text)(item)


def register_transport_task(app: Any) -> None:
    """Add the transport task to ``app`` (not to every app: ``shared=False``)."""
    if TRANSPORT_TASK not in app.tasks:
        app.task(name=TRANSPORT_TASK, shared=False)(transport)


def worker_facts(worker: Any, fixture: str) -> CeleryWorkerFacts:
    """Read the running worker: its pool, concurrency, serializers, broker and results."""
    app = worker.app
    conf = app.conf
    module = type(worker.pool).__module__.rsplit(".", 1)[-1]
    with app.connection_for_read() as connection:
        poll = getattr(connection.transport, "polling_interval", None)
    return CeleryWorkerFacts(
        fixture=fixture,
        pool=POOL_NAMES.get(module, module),
        concurrency=int(worker.pool.limit or 1),
        serializer=str(conf.task_serializer),
        result_serializer=str(conf.result_serializer),
        broker=scheme(conf.broker_url),
        result_backend=scheme(conf.result_backend),
        polling_interval=None if poll is None else float(poll),
        always_eager=bool(conf.task_always_eager),
    )


class UserCeleryExecutor(CeleryExecutor):
    """The map, gathering and crash watch of the embedded executor, on the user's worker.

    It starts nothing, so it does not run ``CeleryExecutor.__init__``; ``close``
    only lets go.
    """

    def __init__(self, worker: Any, fixture: str, *, speedup: bool) -> None:
        self.app = worker.app
        self._worker = worker
        self._owns_worker = False
        self._thread = None
        self._tempdir = None
        self._broken = False
        self._older_children: set[int] = set()
        self.broker = str(self.app.conf.broker_url)
        self.cluster = None
        self.fixture = fixture
        with _remote.engine_warnings_ignored():
            self.facts = worker_facts(worker, fixture)
        refusals = celery_refusals(self.facts, speedup=speedup)
        if refusals:
            raise EngineRefused("refused: " + "; and ".join(refusals) + " (docs/engines.md)")
        self.workers = self.facts.concurrency
        self._transport_task = self.app.tasks.get(TRANSPORT_TASK)
        # the transport run goes where the measured task goes (check_shippable); until
        # then to the first queue the worker consumes
        consumed = self.app.amqp.queues.consume_from
        self._route: dict[str, Any] = {"queue": next(iter(consumed))} if consumed else {}
        # without our transport task (a worker started earlier) nothing no-op can run
        self.per_task_seconds = (
            _remote.per_task_seconds(self._no_op_map, self.workers)
            if self._transport_task is not None
            else None
        )

    def _no_op_map(self, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        stub = TransportStub(0, text=True)  # the worker knows our transport task only
        return self.map(stub, items, chunksize=None, timeout=NO_OP_TIMEOUT)

    def check_shippable(self, fn: Callable[..., Any]) -> None:
        """fn must be a task the worker's app knows; its route is kept for the transport run."""
        task = celery_task(fn)
        name = getattr(fn, "__qualname__", repr(fn))
        if task is None:
            raise ShippingError(
                f"parscale.map on your {self.fixture} needs a task of its app (declared "
                f"with @app.task or @shared_task), not {name}: pass the task itself, "
                "which is dispatched with the app's own serializer and routes"
            )
        if task.name not in self.app.tasks:
            raise ShippingError(
                f"task {task.name} is not registered on the app {self.fixture} runs "
                f"({self.app.main!r}): override celery_app (or celery_session_app) to "
                "return your own app, or declare the task with @shared_task and list its "
                "module in celery_includes"
            )
        queue = task.app.amqp.router.route(
            {"queue": task.queue} if getattr(task, "queue", None) else {}, task.name
        ).get("queue")
        self._route = {"queue": getattr(queue, "name", queue)} if queue else {}

    def _signatures(
        self, fn: Callable[[Any], Any], items: Sequence[Any], chunksize: int | None
    ) -> Iterable[Any]:
        task: Any = self.app.tasks.get(getattr(fn, "name", None))
        extra: tuple[Any, ...] = ()
        options: dict[str, Any] = {}
        if isinstance(fn, TransportStub):
            if self._transport_task is None:
                raise ShippingError(
                    f"{self.fixture} started before pytest-parscale could register its "
                    "transport task: measure the overhead in a test that starts the worker"
                )
            task, extra, options = self._transport_task, (fn.result_bytes, fn.text), self._route
        if chunksize is None:
            return [task.s(item, *extra).set(**options) for item in items]
        calls = [(item, *extra) for item in items]
        return [part.set(**options) for part in task.chunks(calls, chunksize).group().tasks]

    def as_received(self, value: Any) -> Any:
        """``value`` after a trip through the app's result serializer, as a caller gets it."""
        dumps, loads = kombu_codec(self.facts.result_serializer)
        return loads(dumps(value))

    def describe(self) -> dict[str, Any]:
        facts = self.facts
        found = super().describe()
        found.update(
            engine=self.fixture,
            where=(
                f"your {self.fixture} ({facts.pool} pool, concurrency {facts.concurrency}, "
                f"{facts.serializer} serializer)"
            ),
            pool=facts.pool,
            config=facts.config(),
        )
        return found

    def close(self) -> None:
        """Nothing to stop: the worker is the fixture's, and it stops it."""
        self._worker = None
