"""``pool``: multiprocessing.Pool, measured through ``map`` as users call it."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pytest_parscale.backends import _mp, zerocopy
from pytest_parscale.errors import MapTimeout, WorkerCrashed

if TYPE_CHECKING:
    from multiprocessing.pool import Pool

    from pytest_parscale.config import Settings

# How often a waiting map looks for dead workers; the wait itself ends as soon as the
# result is ready, so this adds no latency to what is measured.
_POLL = 0.05


class PoolExecutor(_mp.PickleShipped):
    backend = "pool"

    def __init__(self, workers: int, start_method: str | None) -> None:
        ctx = _mp.context(start_method)
        self.workers = workers
        self.start_method = ctx.get_start_method()
        self._pool: Pool = ctx.Pool(workers)
        self._pool.map(_mp.warm_task, range(workers * 4), chunksize=1)

    @property
    def native(self) -> Pool:
        return self._pool

    def _processes(self) -> list[Any]:
        return list(getattr(self._pool, "_pool", []))

    def effective_chunksize(self, count: int, chunksize: int | None) -> int | None:
        if chunksize is not None:
            return chunksize
        if count == 0:
            return 0
        size, extra = divmod(count, self.workers * 4)
        return size + 1 if extra else size

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Sequence[Any],
        *,
        chunksize: int | None,
        timeout: float | None,
    ) -> list[Any]:
        before = self._processes()
        pids = {process.pid for process in before}
        pending = self._pool.map_async(fn, items, chunksize)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = _POLL if deadline is None else max(0.0, min(_POLL, deadline - time.monotonic()))
            pending.wait(wait)
            if pending.ready():
                results: list[Any] = pending.get()
                return results
            if {process.pid for process in self._processes()} != pids:
                dead = [p for p in before if p.exitcode is not None]
                codes = ", ".join(f"pid {p.pid} exit code {p.exitcode}" for p in dead)
                raise WorkerCrashed(
                    f"a pool worker process died during the map ({codes or 'replaced by Pool'})"
                )
            if deadline is not None and time.monotonic() >= deadline:
                raise MapTimeout(f"the pool map did not finish within {timeout:g} s")

    def close(self) -> None:
        processes = self._processes()
        self._pool.terminate()
        self._pool.join()
        _mp.kill(processes)


def start(workers: int, settings: Settings) -> PoolExecutor:
    return PoolExecutor(workers, settings.start_method)


# The zero-copy map this backend declares (BackendInfo.zero_copy): one shared-memory
# segment per map, shared with the other multiprocessing backend.
zero_copy_map = zerocopy.map_shared_memory
