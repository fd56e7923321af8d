"""The Executor protocol every backend implements, and the registry of backends.

The registry names modules as strings and checks packages with ``find_spec`` so that
nothing here imports Ray, Dask or Celery: pytest start-up must not pay for them.
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
class BackendInfo:
    """Where a backend lives and what it needs installed."""

    name: str
    module: str
    requires: tuple[str, ...] = ()
    extra: str | None = None
    summary: str = ""
    # One engine per process (ray.init): a new worker count closes the old one first.
    exclusive: bool = False

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


BACKENDS: dict[str, BackendInfo] = {
    info.name: info
    for info in (
        BackendInfo("pool", "pytest_parscale.backends.pool", summary="multiprocessing.Pool"),
        BackendInfo("process", "pytest_parscale.backends.process", summary="ProcessPoolExecutor"),
        BackendInfo("thread", "pytest_parscale.backends.thread", summary="ThreadPoolExecutor"),
        BackendInfo(
            "ray", "pytest_parscale.backends.ray", ("ray",), "ray", "Ray local cluster", True
        ),
        BackendInfo(
            "dask",
            "pytest_parscale.backends.dask",
            ("dask", "distributed"),
            "dask",
            "Dask distributed LocalCluster",
        ),
        BackendInfo(
            "celery", "pytest_parscale.backends.celery", ("celery",), "celery", "embedded Celery"
        ),
    )
}


if TYPE_CHECKING:
    # The registry loads backends by name, which mypy cannot follow: this tuple makes
    # it check that every backend's start() returns something that is an Executor.
    from pytest_parscale.backends import celery, dask, pool, process, ray, thread

    _TYPED_STARTS: tuple[Start, ...] = (
        pool.start,
        process.start,
        thread.start,
        ray.start,
        dask.start,
        celery.start,
    )


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
