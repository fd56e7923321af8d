"""The Executor protocol every backend implements, and the registry of backends.

The registry names modules as strings and checks packages with ``find_spec`` so that
nothing here imports Ray, Dask or Celery: pytest start-up must not pay for them. A
backend declares what it can do on its BackendInfo (a zero-copy path, the option
naming a user's running cluster), so the rest of the plugin never tests backend
names: adding one is its module, its line here (or ``register`` from a plugin) and
its extra in pyproject.toml (docs/architecture.md, "How to add a backend").
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pytest_parscale.errors import ShippingError

if TYPE_CHECKING:
    from pytest_parscale.config import Settings

    Start = Callable[[int, Settings], "Executor"]


class Executor(Protocol):
    """A started, warm pool of ``workers`` workers of one backend."""

    backend: str
    workers: int

    @property
    def native(self) -> Any:
        """The engine object itself (Pool, Client, Celery app...), for ``measure``."""

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Sequence[Any],
        *,
        chunksize: int | None,
        timeout: float | None,
    ) -> list[Any]:
        """Run fn over items on the workers; results in item order.

        Raises MapTimeout past ``timeout`` seconds and WorkerCrashed when a worker
        dies; after either the executor is broken and is replaced.
        """

    def effective_chunksize(self, count: int, chunksize: int | None) -> int | None:
        """The chunksize the backend really uses for ``count`` items."""

    def check_shippable(self, fn: Callable[..., Any]) -> None:
        """Raise ShippingError, naming fn and the remedy, if fn cannot reach a worker."""

    def serializer(self) -> tuple[Callable[[Any], bytes], Callable[[bytes], Any]] | None:
        """The (dumps, loads) pair the backend uses to ship items and results.

        None when nothing is shipped (threads) or the engine's own serialiser cannot
        be called alone; the fixture then skips the serialisation cost.
        """

    def describe(self) -> dict[str, Any]:
        """Versions, start method and engine address, for the results record."""

    def cluster_changes(self) -> str | None:
        """For an engine the user started: which nodes or workers left or joined since
        pytest-parscale connected, in words; None when none did (or it is embedded)."""

    def close(self) -> None:
        """Stop every worker this executor started; never what the user started."""


@dataclass(frozen=True)
class ZeroCopy:
    """How a backend ships items without pickling their buffers (``map(share=True)``).

    With ``method`` set, the backend's module defines ``zero_copy_map(executor, fn,
    items, *, timeout)``; without, ``absent`` is the sentence the test is skipped with.
    """

    method: str | None = None  # in words, for the record: "client.scatter"
    absent: str = ""
    buffers_only: bool = False  # bytes-like items and numeric ndarrays only (shared memory)


@dataclass(frozen=True)
class BackendInfo:
    """Where a backend lives, what it needs installed and what it can do."""

    name: str
    module: str
    requires: tuple[str, ...] = ()
    extra: str | None = None
    summary: str = ""
    # One engine per process (ray.init): a new worker count closes the old one first.
    exclusive: bool = False
    zero_copy: ZeroCopy = ZeroCopy()
    # The Settings field holding the address of a user's running engine of this
    # backend (--parscale-ray-address ...): set, the tests run on that engine instead.
    cluster_option: str | None = None

    def missing_reason(self) -> str | None:
        """Why the backend cannot run here, or None; never imports the package."""
        for package in self.requires:
            try:
                found = importlib.util.find_spec(package) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                return (
                    f"backend {self.name!r} needs the {package!r} package: "
                    f"pip install 'pytest-parscale[{self.extra}]'"
                )
        return None

    def start(self, workers: int, settings: Settings) -> Executor:
        module = importlib.import_module(self.module)
        executor: Executor = module.start(workers, settings)
        return executor

    def zero_copy_map(
        self,
        executor: Executor,
        fn: Callable[[Any], Any],
        items: Sequence[Any],
        timeout: float | None,
    ) -> list[Any]:
        """``executor.map(fn, items)`` with the items shipped by the backend's zero-copy path."""
        if self.zero_copy.method is None:
            raise ValueError(self.zero_copy.absent or f"{self.name!r} has no zero-copy path")
        module = importlib.import_module(self.module)
        results: list[Any] = module.zero_copy_map(executor, fn, items, timeout=timeout)
        return results


_SHARED_MEMORY = ZeroCopy("multiprocessing.shared_memory", buffers_only=True)


BACKENDS: dict[str, BackendInfo] = {
    info.name: info
    for info in (
        BackendInfo(
            "pool",
            "pytest_parscale.backends.pool",
            summary="multiprocessing.Pool",
            zero_copy=_SHARED_MEMORY,
        ),
        BackendInfo(
            "process",
            "pytest_parscale.backends.process",
            summary="ProcessPoolExecutor",
            zero_copy=_SHARED_MEMORY,
        ),
        BackendInfo(
            "thread",
            "pytest_parscale.backends.thread",
            summary="ThreadPoolExecutor",
            zero_copy=ZeroCopy(
                absent="the thread backend's workers already share the items: nothing is shipped"
            ),
        ),
        BackendInfo(
            "ray",
            "pytest_parscale.backends.ray",
            ("ray",),
            "ray",
            "Ray local cluster",
            exclusive=True,
            zero_copy=ZeroCopy("ray.put object references"),
            cluster_option="ray_address",
        ),
        BackendInfo(
            "dask",
            "pytest_parscale.backends.dask",
            ("dask", "distributed"),
            "dask",
            "Dask distributed LocalCluster",
            zero_copy=ZeroCopy("client.scatter"),
            cluster_option="dask_scheduler",
        ),
        BackendInfo(
            "celery",
            "pytest_parscale.backends.celery",
            ("celery",),
            "celery",
            "embedded Celery",
            zero_copy=ZeroCopy(
                absent="Celery sends every argument in a broker message: it has no zero-copy path"
            ),
            cluster_option="celery_broker",
        ),
    )
}


@dataclass(frozen=True)
class EngineStart:
    """One engine the session started: its backend, workers, start-up seconds and what
    it said of itself (the report's engine lines)."""

    backend: str
    workers: int
    seconds: float
    details: dict[str, Any]


def register(info: BackendInfo) -> None:
    """Add a backend from outside this package (a plugin's or a conftest's import time,
    before collection); its module needs ``start(workers, settings) -> Executor``."""
    if info.name in BACKENDS and BACKENDS[info.name] != info:
        raise ValueError(f"backend {info.name!r} is already registered as {BACKENDS[info.name]}")
    BACKENDS[info.name] = info


def cluster_address(backend: str, settings: Settings) -> str | None:
    """The running engine the user named for ``backend``, or None (embedded): the
    option the backend declares (BackendInfo.cluster_option) holds its address."""
    info = BACKENDS.get(backend)
    if info is None or info.cluster_option is None:
        return None
    address: str | None = getattr(settings, info.cluster_option)
    return address


def default_backends() -> tuple[str, ...]:
    """Every registered backend whose packages are importable."""
    return tuple(name for name, info in BACKENDS.items() if info.missing_reason() is None)


def qualified_name(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", None) or "?"
    name = getattr(fn, "__qualname__", None) or repr(fn)
    return f"{module}.{name}"


def check_picklable_by_reference(fn: Callable[..., Any], backend: str) -> None:
    """Pickle fn the way multiprocessing does; explain the failure in user terms."""
    import pickle  # here, not at pytest start-up (docs/architecture.md)

    try:
        pickle.dumps(fn)
    except Exception as error:
        name = qualified_name(fn)
        if "<lambda>" in name or "<locals>" in name:
            why = (
                "it is a lambda or a function defined inside another function, and "
                "multiprocessing pickles functions by reference (module + name)"
            )
        else:
            why = f"pickling it failed: {type(error).__name__}: {error}"
        raise ShippingError(
            f"cannot ship {name} to {backend!r} workers: {why}. "
            "Define the function at module level (or use functools.partial of a "
            "module-level function)."
        ) from None
