"""What goes around one parallel pass: error translation, the transport-only run, chunk advice.

Kept out of the fixture's public API so each can be read (and tested) on its own.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from pytest_parscale import measure as engine
from pytest_parscale.checking import check_lists, difference
from pytest_parscale.errors import MapTimeout, ShippingError, WorkerCrashed
from pytest_parscale.results import ChunkAdvice
from pytest_parscale.sizes import approx_size
from pytest_parscale.stats import median
from pytest_parscale.transport import (
    TransportStub,
    carries_bytes,
    first_unshippable,
    mean_payload,
)

if TYPE_CHECKING:
    from pytest_parscale.backends.base import Executor
    from pytest_parscale.config import Settings
    from pytest_parscale.results import Record


def run_serial(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """The serial reference: a plain loop in the test process.

    ``list(map(...))`` keeps the loop itself as cheap as a hand-written one; when fn
    raises, a second pass finds the index so the failure can name the item.
    """
    try:
        return list(map(fn, items))
    except Exception as error:
        for index, item in enumerate(items):
            try:
                fn(item)
            except Exception:
                annotate(error, f"parscale: fn raised on item {index} (serial reference)")
                raise
        raise


def annotate(error: BaseException, note: str) -> None:
    add_note = getattr(error, "add_note", None)
    if add_note is not None:
        add_note(note)


class ParallelRunner:
    """Runs parallel passes on one executor and turns their failures into test failures.

    A broken executor (crashed worker, timeout) is handed to ``discard`` so the next
    test gets a fresh one; a pass that fails the way serialisation fails is checked
    with the backend's serialiser so the message names the item that cannot travel.
    """

    def __init__(
        self, executor: Executor, backend: str, workers: int, discard: Callable[[], None]
    ) -> None:
        self.executor = executor
        self.backend = backend
        self.workers = workers
        self._discard = discard

    def where(self) -> str:
        return f"({self.backend}, {self.workers} workers)"

    def __call__(self, run: Callable[[], Any], items: Sequence[Any] = ()) -> Any:
        try:
            return run()
        except (WorkerCrashed, MapTimeout) as error:
            message, replace = f"{error} {self.where()}", True
            change = self.cluster_change()
            if change is not None:
                message += f"; {change}"
        except (TypeError, AttributeError, pickle.PicklingError, ShippingError) as error:
            stuck = self.unshippable(items)
            if stuck is not None:
                message = stuck
            elif isinstance(error, ShippingError):
                message = f"{error} {self.where()}"
            else:
                annotate(error, f"parscale: raised in a {self.backend!r} worker")
                raise
            replace = False
        except Exception as error:
            annotate(error, f"parscale: raised in a {self.backend!r} worker")
            raise
        if replace:
            self._discard()
        pytest.fail(message, pytrace=False)

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Sequence[Any],
        chunksize: int | None,
        timeout: float,
        *,
        name_items: bool = False,
    ) -> Callable[[], Any]:
        """One parallel map as a callable the engine can time."""
        executor = self.executor
        return lambda: self(
            lambda: executor.map(fn, items, chunksize=chunksize, timeout=timeout),
            items if name_items else (),
        )

    def cluster_change(self) -> str | None:
        """Who left or joined the user's cluster since we connected, or None."""
        try:
            return self.executor.cluster_changes()
        except Exception as error:  # the cluster itself may be gone
            return f"the {self.backend} cluster did not list its members ({error})"

    def unshippable(self, items: Sequence[Any]) -> str | None:
        serializer = self.executor.serializer()
        if serializer is None:
            return None
        found = first_unshippable(serializer[0], items)
        if found is None:
            return None
        index, error = found
        name = getattr(self.executor, "serializer_name", None)
        how = f" (the {name} serializer)" if name else ""
        return (
            f"item {index} ({type(items[index]).__name__}) cannot be shipped to "
            f"{self.backend!r} workers: {error}{how}. Send what it refers to instead "
            "(a path, the bytes, the parameters) and open it in the worker."
        )


def transport_run(
    runner: ParallelRunner,
    fn: Callable[[Any], Any],
    items: list[Any],
    chunksize: int | None,
    timeout: float,
) -> Callable[[], Any]:
    """The same map with fn replaced by a stub returning results of the same size."""
    return runner.map(transport_stub(runner, fn, items), items, chunksize, timeout)


def transport_stub(runner: ParallelRunner, fn: Callable[[Any], Any], items: list[Any]) -> Any:
    """A function that does no work and returns results as large as fn's."""
    serializer = runner.executor.serializer()
    sample = items[:: max(1, len(items) // 64)][:64]
    dumps = serializer[0] if serializer else pickle.dumps
    text = not carries_bytes(dumps)
    result_bytes = mean_payload(dumps, run_serial(fn, sample)) - len(dumps("" if text else b""))
    return TransportStub(max(0, int(result_bytes)), text)


def memory_problem(
    fn: Callable[[Any], Any], items: list[Any], settings: Settings, where: str
) -> str | None:
    """Refuse a map whose items and results would not fit --parscale-memory-limit.

    The test process holds the items, the serial results and the parallel
    results at once; results are estimated from fn on the first item, before any
    worker sends a byte back.
    """
    limit = settings.memory_limit
    if limit is None or not items:
        return None
    item_bytes = mean_payload(pickle.dumps, items) * len(items)
    result_bytes = len(pickle.dumps(run_serial(fn, items[:1])[0])) * len(items)
    needed = item_bytes + 2 * result_bytes
    if needed <= limit:
        return None
    return (
        f"this map would hold about {approx_size(needed)} in the test process "
        f"({approx_size(item_bytes)} of items, and twice {approx_size(result_bytes)} of "
        f"results estimated from item 0) > {settings.source_of('memory_limit')} "
        f"{approx_size(limit)} {where}"
    )


def suggested_chunksize(count: int, workers: int) -> int:
    """The chunksize rule of the README's chunking advice: ``len(items) // (4 * workers)``."""
    return max(1, count // (4 * workers))


def _fixed_rounds(
    first: Callable[[], Any],
    second: Callable[[], Any],
    rounds: int,
    settings: Settings,
    compare: Callable[[Any, Any], str | None],
    transport: Callable[[], Any] | None = None,
) -> engine.Outcome:
    """Two maps interleaved for exactly ``rounds`` rounds (no verdict stops them early),
    results checked against each other; ``first`` lands in the serial samples."""
    return engine.run(
        first,
        second,
        transport=transport,
        limits=engine.Limits(rounds, rounds, settings.max_time),
        check=functools.partial(check_lists, compare=compare),
        decided=lambda samples: False,
    )


def chunk_advice(
    runner: ParallelRunner,
    fn: Callable[[Any], Any],
    items: list[Any],
    measured: Record,
    settings: Settings,
    compare: Callable[[Any, Any], str | None] = difference,
) -> ChunkAdvice | None:
    """When transport dominates, time the suggested chunksize against the one used.

    Both maps are interleaved for a few rounds on the same warm executor and
    reported with their speedups against the measured serial median.
    """
    share = measured.transport_share
    suggested = suggested_chunksize(len(items), runner.workers)
    used = measured.chunksize
    honours = runner.executor.effective_chunksize(len(items), suggested) == suggested
    struggling = measured.speedup.estimate < 1 or (share is not None and share.estimate > 0.5)
    if not struggling or not honours or used == suggested:
        return None
    outcome = _fixed_rounds(
        runner.map(fn, items, used if used else None, settings.timeout),
        runner.map(fn, items, suggested, settings.timeout),
        min(settings.min_rounds, 3),
        settings,
        compare,
    )
    serial_median = median(measured.serial)
    current = serial_median / median(outcome.samples.serial)
    better = serial_median / median(outcome.samples.parallel)
    return ChunkAdvice(used, suggested, current, better, better > current * 1.1)


def zero_copy(
    runner: ParallelRunner,
    fn: Callable[[Any], Any],
    items: list[Any],
    measured: Record,
    settings: Settings,
    compare: Callable[[Any, Any], str | None] = difference,
) -> dict[str, Any]:
    """The pickled map and the zero-copy one, interleaved on the same warm executor
    (one task per item for both), as speedups over this test's serial median."""
    from pytest_parscale.backends import zerocopy
    from pytest_parscale.backends.base import BACKENDS

    executor, timeout = runner.executor, settings.timeout

    def shared() -> Any:
        return runner(lambda: zerocopy.shared_map(executor, fn, items, timeout=timeout), items)

    transport = None
    if measured.transport_share is not None:  # the pickled map's share was measured
        stub = transport_stub(runner, fn, items)

        def transport() -> Any:
            return runner(lambda: zerocopy.shared_map(executor, stub, items, timeout=timeout))

    outcome = _fixed_rounds(
        runner.map(fn, items, measured.chunksize, timeout),
        shared,
        max(3, min(settings.min_rounds, 5)),
        settings,
        compare,
        transport,
    )
    samples = outcome.samples
    serial_median = median(measured.serial)
    found: dict[str, Any] = {
        "method": BACKENDS[runner.backend].zero_copy.method,
        "rounds": len(samples.parallel),
        "pickle_speedup": serial_median / median(samples.serial),
        "shared_speedup": serial_median / median(samples.parallel),
    }
    if measured.transport_share is not None and samples.transport:
        found["pickle_transport_share"] = measured.transport_share.estimate
        found["shared_transport_share"] = median(samples.transport) / median(samples.parallel)
    return found
