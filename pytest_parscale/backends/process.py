"""``process``: concurrent.futures.ProcessPoolExecutor."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from pytest_parscale.backends import _mp
from pytest_parscale.errors import MapTimeout, WorkerCrashed

if TYPE_CHECKING:
    from pytest_parscale.config import Settings


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
        processes = list(getattr(self._executor, "_processes", {}).values())
        self._executor.shutdown(wait=False, cancel_futures=True)
        _mp.kill(processes)


def start(workers: int, settings: Settings) -> ProcessExecutor:
    return ProcessExecutor(workers, settings.start_method)
