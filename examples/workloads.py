"""The seed article's workloads, at module level so every backend can ship them."""

from __future__ import annotations


def checksum(item: bytes) -> int:
    """Almost no work per byte: the serialisation tax decides the speedup."""
    return sum(item)


def cpu_work(n: int) -> int:
    """Pure-Python CPU work: scales on processes, not on threads (the GIL)."""
    return sum(i * i for i in range(n))
