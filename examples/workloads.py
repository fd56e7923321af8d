"""The seed article's workloads, at module level so every backend can ship them."""

from __future__ import annotations


def checksum(item: bytes) -> int:
    """Almost no work per byte: the serialisation tax decides the speedup."""
    return sum(item)


def cpu_work(n: int) -> int:
    """Pure-Python CPU work: scales on processes, not on threads (the GIL)."""
    return sum(i * i for i in range(n))


def summarise(frame):  # type: ignore[no-untyped-def]
    """A per-shard aggregate a data team writes: group, several statistics, a rank."""
    stats = frame.groupby("key")["value"].agg(["sum", "mean", "std", "median", "max"])
    stats["rank"] = stats["sum"].rank()
    return stats


def matmul_power(matrix):  # type: ignore[no-untyped-def]
    """numpy releases the GIL inside matmul: threads scale where pure Python does not."""
    result = matrix
    for _ in range(3):
        result = result @ matrix
    return float(result.trace())


def total(vector):  # type: ignore[no-untyped-def]
    """Little work per byte: shipping the array decides the speedup."""
    return float(vector.sum())
