"""Fakes for unit tests of the fixture and the session: an executor that runs in-process."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from typing import Any

from pytest_parscale.errors import WorkerCrashed


def double(value: int) -> int:
    return value * 2


class FakeExecutor:
    """Runs the map in this process; ``crash`` makes every map raise WorkerCrashed."""

    backend = "fake"

    def __init__(self, workers: int, *, crash: bool = False) -> None:
        self.workers = workers
        self.crash = crash
        self.maps = 0
        self.closed = False

    @property
    def native(self) -> object:
        return self

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Sequence[Any],
        *,
        chunksize: int | None,
        timeout: float | None,
    ) -> list[Any]:
        self.maps += 1
        if self.crash:
            raise WorkerCrashed("a worker died")
        return [fn(item) for item in items]

    def effective_chunksize(self, count: int, chunksize: int | None) -> int | None:
        return chunksize or 1

    def check_shippable(self, fn: Callable[..., Any]) -> None:
        pass

    def serializer(self) -> tuple[Callable[[Any], bytes], Callable[[bytes], Any]] | None:
        return pickle.dumps, pickle.loads

    def describe(self) -> dict[str, Any]:
        return {"backend": "fake", "engine": "embedded"}

    def cluster_changes(self) -> str | None:
        return None

    def close(self) -> None:
        self.closed = True


class FakeExecutors:
    """The executor source the plugin gives the fixture, keeping what was asked of it."""

    def __init__(self, executor: FakeExecutor, *, cluster: bool = False) -> None:
        self.executor = executor
        self.cluster = cluster
        self.asked: list[tuple[str, int]] = []
        self.discarded: list[tuple[str, int]] = []

    def get(self, backend: str, workers: int) -> FakeExecutor:
        self.asked.append((backend, workers))
        return self.executor

    def on_cluster(self, backend: str) -> bool:
        return self.cluster

    def discard(self, backend: str, workers: int) -> None:
        self.discarded.append((backend, workers))
