"""``process``: concurrent.futures.ProcessPoolExecutor."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from pytest_parscale.backends import _mp, zerocopy
from pytest_parscale.errors import MapTimeout, WorkerCrashed

if TYPE_CHECKING:
    from pytest_parscale.config import Settings

MANAGER_GRACE = 10.0  # seconds the executor's manager thread gets to wind down


class ProcessExecutor(_mp.PickleShipped):
    backend = "process"

    def __init__(self, workers: int, start_method: str | None) -> None:
        ctx = _mp.context(start_method)
        self.workers = workers
        self.start_method = ctx.get_start_method()
        self._executor = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
        list(self._executor.map(_mp.warm_task, range(workers * 4)))

    @property
    def native(self) -> ProcessPoolExecutor:
        return self._executor

    def effective_chunksize(self, count: int, chunksize: int | None) -> int | None:
        return 1 if chunksize is None else chunksize

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Sequence[Any],
        *,
        chunksize: int | None,
        timeout: float | None,
    ) -> list[Any]:
        started = time.monotonic()
        try:
            return list(self._executor.map(fn, items, chunksize=chunksize or 1, timeout=timeout))
        except BrokenProcessPool as error:
            raise WorkerCrashed(f"a process-pool worker died during the map ({error})") from None
        except TimeoutError:
            if timeout is not None and time.monotonic() - started >= timeout:
                raise MapTimeout(f"the process map did not finish within {timeout:g} s") from None
            raise

    def close(self) -> None:
        """Stop the workers, then wait for the executor's manager thread to finish.

        That thread holds the executor's shutdown lock while it winds a broken pool
        down. A fork in that window (the next executor's workers) copies the held
        lock, and the child hangs in the old executor's weakref callback when its
        garbage is collected there (CPython gh-90622's family; seen here as a
        test after a hung worker never starting). So the thread is joined and the
        old executor collected here, in the parent, before anything forks again.
        """
        processes = list(getattr(self._executor, "_processes", {}).values())
        manager = getattr(self._executor, "_executor_manager_thread", None)
        self._executor.shutdown(wait=False, cancel_futures=True)
        _mp.kill(processes)
        if manager is not None:
            manager.join(MANAGER_GRACE)
        gc.collect()


def start(workers: int, settings: Settings) -> ProcessExecutor:
    return ProcessExecutor(workers, settings.start_method)


# The zero-copy map this backend declares (BackendInfo.zero_copy): one shared-memory
# segment per map, shared with the other multiprocessing backend.
zero_copy_map = zerocopy.map_shared_memory
