"""``celery``: a group of tasks, one per item (or chunk), and ``.get()`` on its results.

Embedded (the default) needs no server: a ``memory://`` broker consumed by a worker
running in a thread of the test process, a ``prefork`` pool of ``workers`` child
processes, and a ``file://`` result backend in a temporary directory, which the
children write and the test process reads (``cache+memory://`` results stay in
the child that stored them). Polling intervals are 5 ms: kombu's default 1 s poll
and the 0.5 s result poll would swamp the measurement.

Prefork children fork when the worker starts, so a task registered later would be
unknown to them. Two generic tasks receive the user's function instead, pickled by
reference; the children were forked from the test process, so they have every test
module that collection imported.

With ``--parscale-celery-broker`` (and ``--parscale-celery-backend``, required then)
nothing is started or stopped: a worker of this module's app must already be
consuming that broker, e.g.::

    celery -A pytest_parscale.backends.celery -b BROKER --result-backend BACKEND worker -c 2

and the functions under test must be importable by that worker. The tests run with
the summed pool concurrency of every worker that answers (``inspect().stats()``).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import celery
import kombu.serialization
from celery import Celery, bootsteps, group
from celery.exceptions import WorkerLostError
from kombu.exceptions import EncodeError

from pytest_parscale.backends import _mp, _remote
from pytest_parscale.backends.base import check_picklable_by_reference
from pytest_parscale.engines import celery_task, scheme
from pytest_parscale.errors import MapTimeout, ShippingError, WorkerCrashed

if TYPE_CHECKING:
    from pytest_parscale.config import Settings

CALL_TASK = "pytest_parscale.call"
CHUNK_TASK = "pytest_parscale.run_chunk"
SERIALIZER = "pickle"
# Broker and result polling: small enough not to show in a millisecond-scale map.
POLL_SECONDS = 0.005
START_TIMEOUT = 60.0
# How long external workers get to answer ``inspect().stats()``.
STATS_TIMEOUT = 2.0
# How often a long map checks that no prefork child died; a map that finishes
# sooner waits on its results alone.
_WATCH = 0.5
# How long close() lets billiard stop the children of a broken map before SIGKILL.
_KILL_AFTER = 3.0


def build_app(broker: str | None, backend: str | None, *, remote_control: bool = True) -> Celery:
    """A Celery app with the two generic tasks and the pickle serializer they need."""
    app = Celery("pytest_parscale", broker=broker, backend=backend, set_as_current=False)
    app.conf.update(
        task_serializer=SERIALIZER,
        result_serializer=SERIALIZER,
        accept_content=[SERIALIZER],
        result_accept_content=[SERIALIZER],
        broker_transport_options={"polling_interval": POLL_SECONDS},
        broker_connection_retry_on_startup=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_enable_remote_control=remote_control,
    )
    app.task(name=CALL_TASK)(_remote.call)
    app.task(name=CHUNK_TASK)(_remote.run_chunk)
    return app


def kombu_codec(name: str) -> tuple[Callable[[Any], bytes], Callable[[bytes], Any]]:
    """(dumps, loads) of kombu's serializer ``name``, as a Celery message carries it."""
    kombu_serialization: Any = kombu.serialization
    content_type, encoding, _ = kombu_serialization.dumps(None, serializer=name)

    def dumps(obj: Any) -> bytes:
        data = kombu_serialization.dumps(obj, serializer=name)[2]
        return data.encode(encoding) if isinstance(data, str) else bytes(data)

    def loads(data: bytes) -> Any:
        return kombu_serialization.loads(data, content_type, encoding, accept=[content_type])

    return dumps, loads


def _billiard_children() -> list[Any]:
    """Live processes billiard started from this process (reaps the finished ones)."""
    process: Any = importlib.import_module("billiard.process")
    children: list[Any] = process.active_children()
    return children


# What ``celery -A pytest_parscale.backends.celery worker`` finds for an external broker.
app = build_app(None, None)


class CeleryExecutor(_remote.RemoteExecutor):
    backend = "celery"
    per_task_seconds: float | None

    def __init__(
        self,
        workers: int,
        broker: str | None,
        result_backend: str | None,
        connect_timeout: float = 5.0,
    ) -> None:
        self.workers = workers
        self.broker = broker
        self._tempdir: str | None = None
        self._worker: Any = None
        self._thread: threading.Thread | None = None
        # Set when a map timed out or lost a child: close() then kills the children
        # instead of letting billiard wait on tasks that will never finish.
        self._broken = False
        self._older_children = {child.pid for child in _billiard_children()}
        self._owns_worker = broker is None
        if broker is None:
            self._tempdir = tempfile.mkdtemp(prefix="parscale-celery-")
            backend = result_backend or f"file://{self._tempdir}"
            self.app = build_app("memory://", backend, remote_control=False)
            # kombu's memory:// queues are shared by every connection in the process: a
            # user's celery.contrib.pytest worker consuming "celery" would take our
            # tasks (and fail them as unknown) without a queue of our own
            self.app.conf.task_default_queue = f"parscale-{os.getpid()}-{id(self)}"
        else:
            if not result_backend:
                raise RuntimeError(
                    "--parscale-celery-broker needs --parscale-celery-backend too: "
                    "the results must come back to the test process"
                )
            self.app = build_app(broker, result_backend)
        self.cluster: _remote.Cluster | None = None
        try:
            with _remote.engine_warnings_ignored():
                if broker is None:
                    self._start_worker(workers)
                else:
                    self._check_broker(broker, connect_timeout)
                    members = self._members()
                    if not members:
                        raise RuntimeError(
                            f"no Celery worker answers on {broker}; start one with: celery -A "
                            "pytest_parscale.backends.celery -b BROKER --result-backend "
                            f"BACKEND worker -c {workers}"
                        )
                    self.cluster = _remote.Cluster("celery", broker, "celery worker", members)
                    self.workers = self.cluster.workers
            self._call = self.app.tasks[CALL_TASK]
            self._run_chunk = self.app.tasks[CHUNK_TASK]
            self.per_task_seconds = _remote.per_task_seconds(self._map_plain, self.workers)
        except BaseException:
            self.close()
            raise

    def _check_broker(self, broker: str, timeout: float) -> None:
        """Fail in ``timeout`` seconds, naming the broker, when nobody listens there."""
        try:
            with self.app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=timeout)
        except Exception as error:
            raise RuntimeError(
                f"cannot reach the Celery broker {broker} within {timeout:g} s "
                f"(--parscale-connect-timeout): {type(error).__name__}: {error}"
            ) from None

    def _start_worker(self, workers: int) -> None:
        from celery.result import _set_task_join_will_block
        from celery.worker import WorkController

        ready = threading.Event()
        self._worker = WorkController(
            app=self.app,
            hostname=f"parscale-{os.getpid()}@localhost",
            pool_cls="prefork",
            concurrency=workers,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel=logging.ERROR,
            ready_callback=lambda *_: ready.set(),
        )
        self._thread = threading.Thread(
            target=self._worker.start, name="parscale-celery-worker", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not ready.wait(0.05):
            if not self._thread.is_alive():
                raise RuntimeError("the embedded Celery worker stopped while starting")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the embedded Celery worker was not ready in {START_TIMEOUT:g} s"
                )
        # A worker in the process marks every .get() as "inside a task"; the test
        # process is not a task, and a user's own group(...).get() must work here.
        _set_task_join_will_block(False)

    def _pool_pids(self) -> list[int]:
        """Pids of the embedded prefork children (none to watch for an external worker)."""
        pool = getattr(self._worker, "pool", None)
        if pool is None or (self._owns_worker and not self.alive()):
            return []  # no worker, or one that stopped and closed its pool
        pids: list[int] = pool.info.get("processes", [])
        return sorted(pids)

    def alive(self) -> bool:
        """False once the embedded worker stopped by itself.

        celery.contrib.pytest stops its worker by setting a flag every worker loop of
        the process obeys, so a user's ``celery_worker`` ending stops ours too; the
        session then starts a fresh one (session.Executors.get), and closes ours
        after each such test in case it saw the flag but has not begun to stop.
        """
        if self._thread is None:
            return True
        # The thread outlives the stop by a second or so while billiard ends the pool:
        # a worker no longer in RUN is stopping, and a map on it would see its pool
        # vanish and report a crash.
        blueprint = getattr(self._worker, "blueprint", None)
        running = blueprint is None or blueprint.state == bootsteps.RUN
        return running and self._thread.is_alive()

    def _members(self) -> dict[str, int]:
        """Pool concurrency of each worker answering on the broker, by worker name."""
        stats = self.app.control.inspect(timeout=STATS_TIMEOUT).stats() or {}
        return {
            str(name): int(info.get("pool", {}).get("max-concurrency", 0))
            for name, info in stats.items()
        }

    @property
    def native(self) -> Celery:
        """The Celery app; ``parscale.executor.tasks`` has the two generic tasks."""
        return self.app

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Sequence[Any],
        *,
        chunksize: int | None,
        timeout: float | None,
    ) -> list[Any]:
        before = self._pool_pids()
        try:
            pending = group(self._signatures(fn, items, chunksize)).apply_async()
        except EncodeError as error:
            raise ShippingError(f"celery could not encode a task: {error}") from None
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                wait = _WATCH if deadline is None else min(_WATCH, deadline - time.monotonic())
                try:
                    results: list[Any] = pending.get(timeout=max(wait, 0.0), interval=POLL_SECONDS)
                    break
                except celery.exceptions.TimeoutError:
                    # A prefork child killed mid-task is replaced, and its task may
                    # never report back: a changed pool means a crash, not a hang.
                    if self._pool_pids() != before:
                        self._broken = True
                        raise WorkerCrashed(
                            "a celery prefork worker process died during the map"
                        ) from None
                    if deadline is not None and time.monotonic() >= deadline:
                        self._broken = True
                        if not self._owns_worker:  # stop our tasks on a worker we keep
                            pending.revoke(terminate=True)
                        raise MapTimeout(
                            f"the celery map did not finish within {timeout:g} s"
                        ) from None
        except WorkerLostError as error:
            self._broken = True
            raise WorkerCrashed(f"a celery worker process died during the map ({error})") from None
        except KeyboardInterrupt:
            self._broken = True  # tasks still run in the children: close kills them
            raise
        except Exception as error:
            failed = (index for index, result in enumerate(pending.results) if result.failed())
            _remote.note_failed_task(error, next(failed, None), chunksize, len(items))
            raise
        finally:
            # Each result is a file in the embedded backend: do not let them pile up.
            for result in pending.results:
                with contextlib.suppress(OSError):  # not stored: the task never finished
                    result.forget()
        return results if chunksize is None else _remote.flatten(results)

    def _signatures(
        self, fn: Callable[[Any], Any], items: Sequence[Any], chunksize: int | None
    ) -> Iterable[Any]:
        """One generic task per item (or chunk), carrying fn pickled by reference."""
        if chunksize is None:
            return (self._call.s(fn, item) for item in items)
        return (self._run_chunk.s(fn, part) for part in _remote.chunks(items, chunksize))

    def check_shippable(self, fn: Callable[..., Any]) -> None:
        task = celery_task(fn)
        if task is not None:
            raise ShippingError(
                f"{task.name} is a Celery task of app {task.app.main!r}: it is measured on "
                "the worker that runs its app; request celery.contrib.pytest's "
                "celery_session_worker (or celery_worker) in this test (docs/engines.md)"
            )
        check_picklable_by_reference(fn, self.backend)

    @property
    def serializer_name(self) -> str:
        """The app's task serializer: the one items travel with."""
        return str(self.app.conf.task_serializer)

    def serializer(self) -> tuple[Callable[[Any], bytes], Callable[[bytes], Any]]:
        """kombu's encoder for the serializer this app is configured with."""
        return kombu_codec(self.serializer_name)

    def describe(self) -> dict[str, Any]:
        return {
            "celery": celery.__version__,
            "kombu": kombu.__version__,
            "python": sys.version.split()[0],
            "engine": "embedded",
            "pool": "prefork" if self.broker is None else "external worker",
            "workers": self.workers,
            "per_task_seconds": self.per_task_seconds,
            "config": self.config(),
            **(self.cluster.describe() if self.cluster is not None else {}),
        }

    def config(self) -> dict[str, Any]:
        """The engine configuration a record keeps (``parscale compare`` matches it)."""
        conf = self.app.conf
        found: dict[str, Any] = {
            "serializer": str(conf.task_serializer),
            "result_serializer": str(conf.result_serializer),
            "broker": scheme(conf.broker_url),
            "result_backend": scheme(conf.result_backend),
        }
        if self._owns_worker:
            found = {"pool": "prefork", "concurrency": self.workers, **found}
        return found

    def close(self) -> None:
        """Stop the embedded worker and its children; nothing the user started."""
        try:
            if self._worker is not None:
                children = self._pool_pids()
                self._stop_waiting_for_tasks()
                watchdog = _kill_later(self._pool_pids()) if self._broken else None
                try:
                    with _remote.engine_warnings_ignored():
                        self._worker.terminate(in_sighandler=False)
                finally:
                    if watchdog is not None:
                        watchdog.cancel()
                _reap_stragglers(self._older_children, children)
                if self._thread is not None:
                    self._thread.join(10.0)
        finally:
            self._worker = None
            if self._tempdir is not None:
                shutil.rmtree(self._tempdir, ignore_errors=True)
                self._tempdir = None

    def _stop_waiting_for_tasks(self) -> None:
        """Make billiard's terminate quick after a hung or crashed map.

        Its result handler waits up to ~6 s for tasks still in the pool's cache (the
        hung one, those queued behind it) before ``terminate`` returns; nothing will
        answer them. A billiard internal, looked up defensively: without it close is
        slower, not wrong.
        """
        pool = getattr(getattr(self._worker, "pool", None), "_pool", None)
        handler = getattr(pool, "_result_handler", None)
        if handler is not None and hasattr(handler, "terminate"):
            handler.terminate()


def _reap_stragglers(older: set[int], children: list[int]) -> None:
    """Kill prefork children that billiard's terminate did not see.

    A child that dies mid-map is replaced by the pool; when the replacement is
    forked while terminate runs, billiard never stops it (its own comment says
    so). Only children started since the executor began (not in ``older``) are touched.
    """
    _mp.kill([child for child in _billiard_children() if child.pid not in older], grace=1.0)
    for pid in children:  # SIGTERM'd by terminate; one may not have been joined
        try:
            if os.waitpid(pid, os.WNOHANG)[0] != 0:
                continue
        except ChildProcessError:
            continue  # already reaped: the pid is no longer ours to signal
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _kill_later(pids: list[int]) -> threading.Timer:
    """SIGKILL the prefork children ``pids`` if terminate has not stopped them in time.

    billiard sends SIGTERM and joins; a task that ignores SIGTERM would block
    that join forever. Killing earlier is no better: an idle child holds the
    shared queue's lock while it waits, and terminate then deadlocks on it.
    """

    def kill() -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    timer = threading.Timer(_KILL_AFTER, kill)
    timer.daemon = True
    timer.start()
    return timer


def start(workers: int, settings: Settings) -> CeleryExecutor:
    return CeleryExecutor(
        workers, settings.celery_broker, settings.celery_backend, settings.connect_timeout
    )
