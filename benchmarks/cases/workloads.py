"""The benchmark workloads, at module level so every backend can ship them.

The same three as issue 8: pure-Python CPU work, and the seed article's checksum over
10-byte and 100 KB items (counts as in examples/test_serialisation_tax.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_parscale.payloads import payload_block

CPU_N = 200_000
CPU_ITEMS = 16


def cpu_work(n: int) -> int:
    """Pure-Python CPU work: scales on processes, not on threads (the GIL)."""
    return sum(i * i for i in range(n))


def checksum(item: bytes) -> int:
    """Almost no work per byte: the serialisation tax decides the speedup."""
    return sum(item)


def workload(name: str) -> tuple[Callable[[Any], Any], list[Any]]:
    """(fn, items) for a workload name: ``cpu``, ``10B`` or ``100KB``."""
    if name == "cpu":
        return cpu_work, [CPU_N] * CPU_ITEMS
    if name == "10B":
        return checksum, [payload_block(10, index) for index in range(400)]
    if name == "100KB":
        return checksum, [payload_block(100_000, index) for index in range(20)]
    raise ValueError(f"unknown workload {name!r}")


WORKLOADS = ("cpu", "10B", "100KB")
