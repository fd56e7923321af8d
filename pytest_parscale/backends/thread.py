"""``thread``: a thread-pool executor; shows what the GIL allows.

The pool is ``DaemonThreadPool``, not ``concurrent.futures.ThreadPoolExecutor``:
the standard pool's threads are joined at interpreter exit, so one ``fn`` that
never returns would keep pytest from ever exiting after its test failed on
``--parscale-timeout``. A thread cannot be killed; a daemon thread can at least be
abandoned: the hung call keeps running (and holding whatever it holds) until the
test process exits, and the next test gets a fresh pool. The dispatch path is the
same as the standard pool's (a Future per call, one shared queue), so what is
measured is what a ThreadPoolExecutor user pays.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any

from pytest_parscale.errors import MapTimeout

if TYPE_CHECKING:
    from pytest_parscale.config import Settings

_Job = tuple["Future[Any]", Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class DaemonThreadPool(Executor):
    """A fixed pool of daemon threads behind the ``concurrent.futures.Executor`` API."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "parscale") -> None:
        self._max_workers = max_workers
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._shut = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{thread_name_prefix}_{index}", daemon=True)
            for index in range(max_workers)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, fn, args, kwargs = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args, **kwargs)
            except BaseException as error:
                future.set_exception(error)
            else:
                future.set_result(result)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:
            if self._shut:
                raise RuntimeError("cannot schedule new futures after shutdown")
            future: Future[Any] = Future()
            self._jobs.put((future, fn, args, kwargs))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shut = True
            if cancel_futures:
                while True:
                    try:
                        job = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if job is not None:
                        job[0].cancel()
            for _ in self._threads:
                self._jobs.put(None)
        if wait:
            for thread in self._threads:
                thread.join()


class ThreadExecutor:
    backend = "thread"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor = DaemonThreadPool(workers, thread_name_prefix="parscale")
        list(self._executor.map(abs, range(workers * 4)))

    @property
    def native(self) -> DaemonThreadPool:
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
                    "(a hung thread cannot be killed; it is abandoned as a daemon thread)"
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
