"""``thread``: concurrent.futures.ThreadPoolExecutor; shows what the GIL allows."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from pytest_parscale.errors import MapTimeout

if TYPE_CHECKING:
    from pytest_parscale.config import Settings


class ThreadExecutor:
    backend = "thread"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="parscale")
        list(self._executor.map(abs, range(workers * 4)))

    @property
    def native(self) -> ThreadPoolExecutor:
        return self._executor

    def effective_chunksize(self, count: int, chunksize: int | None) -> int | None:
        return None

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
            return list(self._executor.map(fn, items, timeout=timeout))
        except TimeoutError:
            if timeout is not None and time.monotonic() - started >= timeout:
                raise MapTimeout(
                    f"the thread map did not finish within {timeout:g} s "
                    "(a hung thread cannot be killed; it is abandoned)"
                ) from None
            raise

    def check_shippable(self, fn: Callable[..., Any]) -> None:
        """Threads share the interpreter: anything callable reaches them."""

    def serializer(self) -> tuple[Callable[[Any], bytes], Callable[[bytes], Any]] | None:
        return None

    def describe(self) -> dict[str, Any]:
        gil = getattr(sys, "_is_gil_enabled", lambda: True)()
        return {"python": sys.version.split()[0], "gil": gil, "engine": "embedded"}

    def cluster_changes(self) -> str | None:
        return None  # always embedded

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def start(workers: int, settings: Settings) -> ThreadExecutor:
    return ThreadExecutor(workers)
