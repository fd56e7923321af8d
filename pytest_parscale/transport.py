"""The transport-only run and serialisation costs behind the overhead marker.

docs/architecture.md defines overhead as the wall time of the same map with the work taken out
(same arguments shipped, results of the same pickled size shipped back) divided by
the parallel time. ``TransportStub`` is that map's function: module level, so every
backend ships it by reference.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TransportStub:
    """Ignores its item and returns ``result_bytes`` zero bytes (or as many characters
    when ``text``: a JSON serializer cannot carry bytes)."""

    result_bytes: int
    text: bool = False

    def __call__(self, item: object) -> bytes | str:
        return "x" * self.result_bytes if self.text else bytes(self.result_bytes)


def carries_bytes(dumps: Callable[[Any], bytes]) -> bool:
    """Whether the serialiser ships bytes about byte for byte.

    pickle does; JSON refuses them, or (kombu's) escapes a zero byte into six.
    """
    try:
        grown = len(dumps(bytes(1000))) - len(dumps(b""))
    except Exception:
        return False
    return grown <= 1100


@dataclass(frozen=True)
class SerialisationCost:
    """Bytes on the wire and seconds of dumps + loads, per item and per result."""

    item_bytes: float
    result_bytes: float
    seconds_per_item: float


def mean_payload(dumps: Callable[[Any], bytes], values: Sequence[Any], limit: int = 64) -> float:
    """Mean serialised size over an evenly spaced sample of at most ``limit`` values."""
    if not values:
        return 0.0
    step = max(1, len(values) // limit)
    sample = values[::step][:limit]
    return sum(len(dumps(value)) for value in sample) / len(sample)


def serialisation_cost(
    dumps: Callable[[Any], bytes],
    loads: Callable[[bytes], Any],
    items: Sequence[Any],
    results: Sequence[Any],
    limit: int = 64,
) -> SerialisationCost:
    """Time the backend's own serialiser on a sample of items and results."""
    if not items:
        return SerialisationCost(0.0, 0.0, 0.0)
    step = max(1, len(items) // limit)
    indices = list(range(0, len(items), step))[:limit]
    item_bytes = result_bytes = 0
    started = time.perf_counter()
    for index in indices:
        shipped = dumps(items[index])
        loads(shipped)
        returned = dumps(results[index])
        loads(returned)
        item_bytes += len(shipped)
        result_bytes += len(returned)
    seconds = time.perf_counter() - started
    count = len(indices)
    return SerialisationCost(item_bytes / count, result_bytes / count, seconds / count)


def first_unshippable(
    dumps: Callable[[Any], bytes], items: Sequence[Any]
) -> tuple[int, str] | None:
    """Index and error of the first item the serialiser refuses, or None."""
    for index, item in enumerate(items):
        try:
            dumps(item)
        except Exception as error:
            return index, f"{type(error).__name__}: {error}"
    return None
