"""What the Ray, Dask and Celery backends share: chunks, test-module code, per-task cost.

Nothing heavy is imported here: each engine module brings its own package.
"""

from __future__ import annotations

import functools
import os
import site
import sys
import sysconfig
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from pytest_parscale.backends import _mp

# Logs and warnings these engines emit at start and stop that say nothing about the
# code under test. Under ``filterwarnings = error`` they would fail the test that
# happened to start the engine.
NOISY_WARNING_MODULES = r"(ray|dask|distributed|celery|kombu|billiard|tornado|google|grpc)(\.|$)"


@contextmanager
def engine_warnings_ignored() -> Iterator[None]:
    """Silence the engine's own warnings while it starts, maps or stops."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=NOISY_WARNING_MODULES)
        warnings.filterwarnings("ignore", category=ResourceWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        yield


def chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    """``items`` cut into consecutive lists of ``size`` (the last may be shorter)."""
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


def run_chunk(fn: Callable[[Any], Any], chunk: Sequence[Any]) -> list[Any]:
    """One remote task over a chunk; module level so every worker can import it."""
    return [fn(item) for item in chunk]


def call(fn: Callable[[Any], Any], item: Any) -> Any:
    """One remote task over one item, for engines that take the function as an argument."""
    return fn(item)


def note_failed_task(
    error: BaseException, task: int | None, chunksize: int | None, count: int
) -> None:
    """Say which item (or chunk of items) raised, when the engine can tell the task."""
    add_note = getattr(error, "add_note", None)
    if task is None or add_note is None:
        return
    if chunksize is None:
        add_note(f"parscale: fn raised on item {task} (parallel run)")
    else:
        first = task * chunksize
        last = min(count, first + chunksize) - 1
        add_note(
            f"parscale: fn raised on one of items {first}..{last} (parallel run, chunk {task})"
        )


def flatten(parts: Sequence[Sequence[Any]]) -> list[Any]:
    return [result for part in parts for result in part]


@functools.lru_cache(maxsize=1)
def _installed_roots() -> tuple[str, ...]:
    paths = set(sysconfig.get_paths().values())
    paths.update(site.getsitepackages())
    paths.add(site.getusersitepackages())
    return tuple(os.path.realpath(path) + os.sep for path in paths if path)


def module_to_ship_by_value(fn: Callable[..., Any]) -> ModuleType | None:
    """The module fn was defined in when a worker may not import it by name.

    pytest puts test directories on ``sys.path`` of the test process only, so a
    worker unpickling ``test_x.work`` by reference fails with ``No module named
    'test_x'``. Modules of installed packages (and of this plugin) travel by
    reference; anything else is sent by value.
    """
    target: Any = fn
    while isinstance(target, functools.partial):
        target = target.func
    name = getattr(target, "__module__", None) or type(target).__module__
    if name in (None, "__main__", "builtins") or name.split(".")[0] == "pytest_parscale":
        return None
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if module is None or path is None or _is_installed(path):
        return None
    return module


@functools.lru_cache(maxsize=256)
def _is_installed(path: str) -> bool:
    return os.path.realpath(path).startswith(_installed_roots())


def per_task_seconds(
    run_map: Callable[[Callable[[Any], Any], list[Any]], list[Any]],
    workers: int,
    rounds: int = 3,
) -> float:
    """Warm the workers, then the best wall time per no-op task over a few small maps.

    The fixed cost a task pays (dispatch, transport, result) before any work: the
    floor under which splitting work into more tasks cannot pay off.
    """
    count = max(16, 8 * workers)
    run_map(_mp.warm_task, list(range(count)))
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        run_map(_mp.warm_task, list(range(count)))
        best = min(best, time.perf_counter() - started)
    return best / count


class Cluster:
    """An engine pytest-parscale connected to but did not start, and who was in it.

    ``members`` maps each node or worker (as the engine names it) to its worker
    slots; their sum is the worker count the tests run with. Comparing a fresh
    listing against the one taken at connection is how a worker that left or
    joined mid-measurement is named instead of skewing the speedup silently.
    """

    def __init__(self, backend: str, address: str, kind: str, members: dict[str, int]) -> None:
        if not members or sum(members.values()) < 1:
            raise RuntimeError(
                f"the {backend} cluster at {address} has no {kind} with a free worker slot; "
                f"start at least one {kind} before running the tests"
            )
        self.backend = backend
        self.address = redacted(address)
        self.kind = kind
        self.members = dict(members)

    @property
    def workers(self) -> int:
        return sum(self.members.values())

    def describe(self) -> dict[str, Any]:
        return {
            "engine": self.address,
            "workers": self.workers,
            "nodes": len(self.members),
            "node_kind": self.kind,
        }

    def change(self, now: dict[str, int]) -> str | None:
        """What differs between the members at connection and ``now``, in words; or None."""
        left = sorted(name for name in self.members if name not in now)
        joined = sorted(name for name in now if name not in self.members)
        if not left and not joined:
            return None
        events = [f"{self.kind} {name} left" for name in left]
        events += [f"{self.kind} {name} joined" for name in joined]
        return (
            f"the {self.backend} cluster at {self.address} changed: {', '.join(events)} "
            f"({self.workers} -> {sum(now.values())} workers)"
        )


def redacted(address: str) -> str:
    """``address`` without its password: it goes into results files and reports."""
    parts = urllib.parse.urlsplit(address)
    if parts.password is None:
        return address
    netloc = parts.netloc.rsplit("@", 1)[-1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urllib.parse.urlunsplit(parts._replace(netloc=user + netloc))


def polled_members(list_members: Callable[[], dict[str, int]], grace: float) -> dict[str, int]:
    """The members, asked again for ``grace`` seconds while none has a free slot.

    Workers of a cluster that was just started register a moment after their
    scheduler answers; a test run started right then would see an empty cluster.
    """
    deadline = time.monotonic() + grace
    while True:
        members = list_members()
        if sum(members.values()) >= 1 or time.monotonic() >= deadline:
            return members
        time.sleep(0.2)


class RemoteExecutor:
    """What the Ray, Dask and Celery executors share.

    One task per item unless a chunksize is given, and, for a user's cluster, a
    member list to tell who left or joined during a measurement.
    """

    workers: int
    cluster: Cluster | None

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Sequence[Any],
        *,
        chunksize: int | None,
        timeout: float | None,
    ) -> list[Any]:
        raise NotImplementedError

    def _members(self) -> dict[str, int]:
        """Worker slots of each member of the cluster, by a name a user recognises."""
        raise NotImplementedError

    def cluster_changes(self) -> str | None:
        if self.cluster is None:
            return None
        with engine_warnings_ignored():
            return self.cluster.change(self._members())

    def effective_chunksize(self, count: int, chunksize: int | None) -> int | None:
        return 1 if chunksize is None else chunksize

    def _map_plain(self, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        return self.map(fn, items, chunksize=None, timeout=None)
