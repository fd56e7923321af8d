"""``dask``: ``client.map(fn, items, pure=False)`` + ``gather`` on a distributed cluster.

Embedded: a ``LocalCluster`` of ``workers`` single-threaded worker processes, no
dashboard and no memory limit (spilling would measure the disk). With
``--parscale-dask-scheduler`` only a ``Client`` is made, and only it is closed; the
tests run with every thread the scheduler's workers have (``client.nthreads()``).

The client is not made the default scheduler: a Dask ``.compute()`` in a test of
another backend must not land on this cluster. In ``parscale.measure`` use
``parscale.executor.compute(x).result()`` or ``x.compute(scheduler=parscale.executor)``.
An embedded cluster allows no task retry, so a dying worker fails the map.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pytest_parscale.backends import _remote
from pytest_parscale.backends.base import qualified_name
from pytest_parscale.engines import DASK_FIXTURE, EngineRefused, dask_config, dask_refusal
from pytest_parscale.errors import MapTimeout, ShippingError, WorkerCrashed
from pytest_parscale.fmt import plural

if TYPE_CHECKING:
    from pytest_parscale.config import Settings

# Seconds a freshly started scheduler may take before its first worker registers.
CONNECT_GRACE = 10.0


class DaskExecutor(_remote.RemoteExecutor):
    backend = "dask"

    def __init__(
        self,
        workers: int,
        scheduler: str | None,
        connect_timeout: float = 5.0,
        *,
        handed: Any = None,
    ) -> None:
        import dask
        import distributed

        self._dask: Any = dask
        self._distributed: Any = distributed
        self.workers = workers
        self.scheduler = scheduler
        self._cluster: Any = None
        client_type: Any = distributed.Client
        if handed is not None:
            check_handed(handed, client_type)
        # The client to close: not one the user handed over (parscale_dask_client).
        self._owns_client = handed is None or not isinstance(handed, client_type)
        self._handed = handed is not None
        # Set when a map timed out or lost a worker: close() kills the worker
        # processes first, since a hung task keeps a graceful close waiting.
        self._broken = False
        # distributed logs every worker start and stop at INFO; pytest would capture
        # and show them under any failing test. Its warnings still get through.
        self._logger = logging.getLogger("distributed")
        self._logger_level = self._logger.level
        self._logger.setLevel(max(logging.WARNING, self._logger.getEffectiveLevel()))
        with _remote.engine_warnings_ignored():
            self._client: Any
            if isinstance(handed, client_type):
                self._client = handed
            elif handed is not None:  # the user's cluster: a client of our own on it
                self._client = client_type(handed, set_as_default=False)
            elif scheduler is None:
                self._cluster = self._local_cluster(workers)
                self._client = self._distributed.Client(self._cluster, set_as_default=False)
            else:
                self._client = self._connect(scheduler, connect_timeout)
        self.cluster: _remote.Cluster | None = None
        try:
            if scheduler is not None or handed is not None:
                address = scheduler or str(self._client.scheduler.address)
                members = _remote.polled_members(self._members, CONNECT_GRACE)
                self.cluster = _remote.Cluster("dask", address, "dask worker", members)
                self.workers = self.cluster.workers
            self._config = dask_config(self._members(), self._in_processes())
            self.per_task_seconds = _remote.per_task_seconds(self._map_plain, self.workers)
        except BaseException:
            self.close()
            raise

    def _local_cluster(self, workers: int) -> Any:
        """The embedded cluster: single-threaded worker processes, no retry, no spilling."""
        with self._dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            return self._distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                memory_limit=0,
                silence_logs=logging.ERROR,
            )

    def _in_processes(self) -> bool:
        """Whether every worker runs in a process of its own (not threads of this one)."""
        here = (socket.gethostname(), os.getpid())
        places = self._client.run(_where_am_i)
        return all(tuple(place) != here for place in places.values())

    def _members(self) -> dict[str, int]:
        """Threads of each worker the scheduler knows, by address: the worker slots."""
        return {str(address): int(count) for address, count in self._client.nthreads().items()}

    @property
    def native(self) -> Any:
        """The ``distributed.Client``."""
        return self._client

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Sequence[Any],
        *,
        chunksize: int | None,
        timeout: float | None,
    ) -> list[Any]:
        client = self._client
        self._ship(fn)
        if chunksize is None:
            futures = client.map(fn, list(items), pure=False)
        else:
            task = functools.partial(_remote.run_chunk, fn)
            futures = client.map(task, _remote.chunks(items, chunksize), pure=False)
        try:
            with client.as_current():
                self._distributed.wait(futures, timeout=timeout)
            results: list[Any] = client.gather(futures)
        except (TimeoutError, self._distributed.TimeoutError):
            self._broken = True
            client.cancel(futures, force=True)
            raise MapTimeout(f"the dask map did not finish within {timeout:g} s") from None
        except self._distributed.KilledWorker as error:
            self._broken = True
            raise WorkerCrashed(f"a dask worker died during the map ({error})") from None
        except Exception as error:
            failed = (index for index, future in enumerate(futures) if future.status == "error")
            _remote.note_failed_task(error, next(failed, None), chunksize, len(items))
            raise
        return results if chunksize is None else _remote.flatten(results)

    def _connect(self, scheduler: str, timeout: float) -> Any:
        """A client of the user's scheduler; a dead address fails in ``timeout`` seconds."""
        try:
            return self._distributed.Client(scheduler, set_as_default=False, timeout=timeout)
        except OSError as error:  # TimeoutError and refused connections alike
            raise RuntimeError(
                f"no Dask scheduler answered at {scheduler} within {timeout:g} s "
                f"(--parscale-connect-timeout): {type(error).__name__}: {error}"
            ) from None

    def _ship(self, fn: Callable[..., Any]) -> None:
        module = _remote.module_to_ship_by_value(fn)
        if module is not None:
            # distributed pickles by value what cloudpickle's registry names.
            importlib.import_module("cloudpickle").register_pickle_by_value(module)

    def check_shippable(self, fn: Callable[..., Any]) -> None:
        self._ship(fn)
        dumps, _ = self.serializer()
        try:
            dumps(fn)
        except Exception as error:
            raise ShippingError(
                f"cannot ship {qualified_name(fn)} to 'dask' workers: "
                f"{type(error).__name__}: {error}. Keep unpicklable state (locks, open "
                "files, clients) out of the function and its closure."
            ) from None

    def serializer(self) -> tuple[Callable[[Any], bytes], Callable[[bytes], Any]]:
        from distributed.protocol import pickle

        return pickle.dumps, pickle.loads

    def describe(self) -> dict[str, Any]:
        return {
            "dask": self._dask.__version__,
            "distributed": self._distributed.__version__,
            "python": sys.version.split()[0],
            "engine": "embedded",
            "workers": self.workers,
            "per_task_seconds": self.per_task_seconds,
            "config": self._config,
            **(self.cluster.describe() if self.cluster is not None else {}),
            **(self._handed_words() if self._handed else {}),
        }

    def _handed_words(self) -> dict[str, Any]:
        config = self._config
        kind = "processes" if config["processes"] else "threads of the test process"
        threads = config["threads_per_worker"]
        each = plural(threads, "thread") if isinstance(threads, int) else f"{threads} threads"
        return {
            "where": (
                f"your Dask cluster at {self.cluster.address if self.cluster else '?'} "
                f"({DASK_FIXTURE}: {plural(config['n_workers'], 'worker')} x {each}, {kind})"
            )
        }

    def close(self) -> None:
        """Close the client; the cluster too when this executor started it."""
        try:
            with _remote.engine_warnings_ignored():
                if self._broken and self._cluster is not None:
                    self._kill_workers()
                if self._owns_client:
                    self._client.close()
                if self._cluster is not None:
                    self._cluster.close()
        finally:
            self._logger.setLevel(self._logger_level)

    def _kill_workers(self) -> None:
        """SIGKILL the embedded worker processes: a task thread cannot be interrupted."""
        for nanny in list(self._cluster.workers.values()):
            pid = getattr(getattr(nanny, "process", None), "pid", None)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def check_handed(handed: Any, client_type: type) -> None:
    """Refuse what parscale_dask_client returned unless a synchronous Client or cluster."""
    if getattr(handed, "asynchronous", False) or getattr(
        getattr(handed, "cluster", None), "asynchronous", False
    ):
        raise EngineRefused(dask_refusal(f"{DASK_FIXTURE} returned an asynchronous client"))
    if not isinstance(handed, client_type) and not hasattr(handed, "scheduler_address"):
        raise EngineRefused(
            f"{DASK_FIXTURE} returned {type(handed).__name__}: expected a "
            "distributed.Client or a cluster such as LocalCluster (docs/engines.md)"
        )


def _where_am_i() -> tuple[str, int]:
    """Run on each worker: its host and process."""
    return socket.gethostname(), os.getpid()


def start(workers: int, settings: Settings) -> DaskExecutor:
    return DaskExecutor(workers, settings.dask_scheduler, settings.connect_timeout)


def zero_copy_map(
    executor: DaskExecutor, fn: Callable[[Any], Any], items: Sequence[Any], *, timeout: float | None
) -> list[Any]:
    """The zero-copy map (BackendInfo.zero_copy): ``client.scatter`` the items to the
    workers ahead of the tasks, and cancel them after."""
    client = executor.native
    futures = client.scatter(list(items), hash=False)
    try:
        return executor.map(fn, futures, chunksize=None, timeout=timeout)
    finally:
        client.cancel(futures)
