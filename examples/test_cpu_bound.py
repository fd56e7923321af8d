"""The CPU-bound example on every installed backend: the speedup table side by side.

Pure-Python work holds the GIL, so ``thread`` shows ~1x while the process-based
backends (pool, process, ray, dask, celery) should approach the worker count.
"""

from __future__ import annotations

from typing import Any

import pytest


def sum_of_squares(n: int) -> int:
    """Module level, so every backend can ship it (by reference or by value)."""
    return sum(i * i for i in range(n))


ITEMS = [400_000] * 16  # ~0.25 s serial on a 2-core CI runner


@pytest.mark.parscale(backends=["pool", "process", "thread", "ray", "dask", "celery"])
def test_cpu_bound_everywhere(parscale: Any) -> None:
    results = parscale.map(sum_of_squares, ITEMS)
    assert results == [sum_of_squares(n) for n in ITEMS]


@pytest.mark.speedup(min=1.3, workers=2)
@pytest.mark.parscale(backends=["pool", "process", "ray", "dask", "celery"])
def test_cpu_bound_scales(parscale: Any) -> None:
    results = parscale.map(sum_of_squares, ITEMS, chunksize=1)
    assert results[0] == sum_of_squares(ITEMS[0])
