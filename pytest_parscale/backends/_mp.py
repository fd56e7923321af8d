"""What the multiprocessing-based backends share: context, warm-up task, teardown."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import pickle
import sys
from collections.abc import Callable, Iterable
from typing import Any

from pytest_parscale.backends.base import check_picklable_by_reference


def context(start_method: str | None) -> multiprocessing.context.BaseContext:
    """The start method asked for, else the platform default (recorded either way)."""
    return multiprocessing.get_context(start_method)


def warm_task(value: int) -> int:
    """Module-level no-op so every start method can import it in a fresh worker."""
    return value


def describe(start_method: str, workers: int) -> dict[str, Any]:
    return {
        "start_method": start_method,
        "python": sys.version.split()[0],
        "workers": workers,
        "engine": "embedded",
    }


def kill(processes: Iterable[multiprocessing.process.BaseProcess], grace: float = 2.0) -> None:
    """Terminate, then kill what is still alive after ``grace`` seconds; reap all."""
    processes = list(processes)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(grace)
        if process.is_alive():
            process.kill()
            process.join(grace)


def _dumps(value: Any) -> bytes:
    return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


class PickleShipped:
    """What pool and process share: pickle by reference, their start method, versions."""

    backend: str
    workers: int
    start_method: str

    def check_shippable(self, fn: Callable[..., Any]) -> None:
        check_picklable_by_reference(fn, self.backend)

    def serializer(self) -> tuple[Callable[[Any], bytes], Callable[[bytes], Any]] | None:
        return _dumps, pickle.loads

    def describe(self) -> dict[str, Any]:
        return describe(self.start_method, self.workers)

    def cluster_changes(self) -> str | None:
        return None  # always embedded
