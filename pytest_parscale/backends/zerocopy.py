"""Shipping items without pickling their buffers: the seed's remedies for the
serialisation tax, measured against the plain pickled map (README, "Zero-copy").

Each backend declares its path on its BackendInfo (``zero_copy``) and, where it has
one, maps with it in its own module's ``zero_copy_map``; the shared-memory path of
pool and process lives here:

- pool, process: the items' buffers are copied once into one
  ``multiprocessing.shared_memory`` segment per map; each task carries only its
  segment name, offset, length, dtype and shape, and the worker calls ``fn`` on a
  read-only view of the segment (bytes arrive as a ``memoryview``, ndarrays as an
  ndarray on the segment). Only bytes-like items and numeric ndarrays qualify.
- ray: ``ray.put`` each item and pass the object reference; Ray hands workers
  ndarrays straight from its shared object store (read-only).
- dask: ``client.scatter`` the items to the workers ahead of the tasks.
- thread: the workers already share the items; there is nothing to ship.
- celery: every argument travels in a broker message; there is no zero-copy path.

Every segment this process creates is unlinked when its map ends, whether it
returned, raised or was interrupted (try/finally), and any left over (a crash
between create and the finally) at interpreter exit.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from multiprocessing.shared_memory import SharedMemory

    from pytest_parscale.backends.base import Executor

# Prefix of every segment this plugin creates, so a test (and a person looking at
# /dev/shm) can tell ours apart.
PREFIX = "parscale_"

_live: dict[str, SharedMemory] = {}


@dataclass(frozen=True)
class Slot:
    """Where one item lies in the map's segment, and how to view it."""

    segment: str
    offset: int
    length: int
    dtype: str | None  # None: a bytes-like item, viewed as a memoryview
    shape: tuple[int, ...] = ()


def unsupported(backend: str, items: Sequence[Any]) -> str | None:
    """Why these items cannot be shipped zero-copy on ``backend``; None when they can."""
    from pytest_parscale.backends.base import BACKENDS

    info = BACKENDS.get(backend)
    if info is None or info.zero_copy.method is None:
        absent = info.zero_copy.absent if info is not None else ""
        return absent or f"no zero-copy path is known for the {backend!r} backend"
    if info.zero_copy.buffers_only:
        for index, item in enumerate(items):
            if not _sharable(item):
                return (
                    f"item {index} is a {type(item).__name__}: shared memory ships bytes, "
                    "bytearrays and numeric numpy arrays only"
                )
    return None


def _sharable(item: Any) -> bool:
    if isinstance(item, bytes | bytearray):
        return True
    if type(item).__module__ != "numpy" or type(item).__name__ != "ndarray":
        return False
    return bool(item.dtype.kind in "biufc")


def shared_map(
    executor: Executor,
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    *,
    timeout: float | None,
) -> list[Any]:
    """``executor.map(fn, items)`` with the items shipped zero-copy (one task per item),
    by the path the executor's backend declares."""
    from pytest_parscale.backends.base import BACKENDS

    return BACKENDS[executor.backend].zero_copy_map(executor, fn, items, timeout)


def map_shared_memory(
    executor: Executor,
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    *,
    timeout: float | None,
) -> list[Any]:
    """The pool and process backends' zero-copy map: one shared-memory segment per map."""
    from multiprocessing.shared_memory import SharedMemory

    sizes = [_nbytes(item) for item in items]
    segment = SharedMemory(create=True, size=max(1, sum(sizes)), name=_new_name())
    _live[segment.name] = segment
    try:
        buffer = segment.buf
        assert buffer is not None  # just created
        slots = []
        offset = 0
        for item, size in zip(items, sizes, strict=True):
            buffer[offset : offset + size] = _bytes_view(item)
            dtype = None if isinstance(item, bytes | bytearray) else item.dtype.str
            shape = () if dtype is None else tuple(item.shape)
            slots.append(Slot(segment.name, offset, size, dtype, shape))
            offset += size
        del buffer
        return executor.map(
            functools.partial(call_on_view, fn), slots, chunksize=None, timeout=timeout
        )
    finally:
        free(segment.name)


def _nbytes(item: Any) -> int:
    return len(item) if isinstance(item, bytes | bytearray) else int(item.nbytes)


def _bytes_view(item: Any) -> memoryview:
    if isinstance(item, bytes | bytearray):
        return memoryview(item)
    import numpy

    contiguous: Any = numpy.ascontiguousarray(item)
    return memoryview(contiguous).cast("B")


_counter = iter(range(1 << 62))


def _new_name() -> str:
    # Short: macOS limits shared memory names to 31 characters.
    return f"{PREFIX}{os.getpid()}_{next(_counter)}"


def free(name: str) -> None:
    """Close and unlink a segment this process created (once; later calls do nothing)."""
    segment = _live.pop(name, None)
    if segment is None:
        return
    with contextlib.suppress(BufferError):  # a view still exported here: unlink anyway
        segment.close()
    with contextlib.suppress(FileNotFoundError):
        segment.unlink()


@atexit.register
def sweep() -> None:
    """Unlink every segment still live: the end-of-session safety net."""
    for name in list(_live):
        free(name)


def call_on_view(fn: Callable[[Any], Any], slot: Slot) -> Any:
    """In the worker: attach the segment, call ``fn`` on a read-only view of the item."""
    segment = _attach(slot.segment)
    buffer = segment.buf
    assert buffer is not None  # open: close() is below
    try:
        view = buffer[slot.offset : slot.offset + slot.length].toreadonly()
        if slot.dtype is None:
            item: Any = view
        else:
            import numpy

            item = numpy.frombuffer(view, dtype=slot.dtype).reshape(slot.shape)
        result = fn(item)
        result = _detached(result, view)
        del item, view
    finally:
        with contextlib.suppress(BufferError):  # the result still points into it: GC closes
            segment.close()
    return result


def _detached(result: Any, view: memoryview) -> Any:
    """A result that still reads the segment is copied before the segment closes."""
    if isinstance(result, memoryview):
        return bytes(result)
    if type(result).__module__ == "numpy" and type(result).__name__ == "ndarray":
        import numpy

        if numpy.shares_memory(result, numpy.frombuffer(view, dtype=numpy.uint8)):
            return result.copy()
    return result


def _attach(name: str) -> SharedMemory:
    """Open a segment without registering it with this worker's resource tracker:
    the test process owns and unlinks it (Python < 3.13 would unlink it, or warn of
    a leak, when the worker exits)."""
    from multiprocessing import resource_tracker
    from multiprocessing.shared_memory import SharedMemory

    register = resource_tracker.register
    resource_tracker.register = lambda *args, **kwargs: None
    try:
        return SharedMemory(name=name)
    finally:
        resource_tracker.register = register
