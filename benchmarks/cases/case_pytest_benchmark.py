"""Stability, the nearest alternative: serial and parallel as two pytest-benchmark tests.

What a user without pytest-parscale writes: a module-scoped Pool, pytest-benchmark
at its defaults, and the speedup computed afterwards by dividing the two timings.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from multiprocessing.pool import Pool

import pytest
from workloads import workload

WORKERS = 2


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    with multiprocessing.Pool(WORKERS) as started:
        started.map(abs, range(WORKERS * 4), chunksize=1)  # warm, as the plugin does
        yield started


def test_serial(benchmark):
    fn, items = workload("cpu")
    benchmark(lambda: [fn(item) for item in items])


def test_parallel(benchmark, pool):
    fn, items = workload("cpu")
    benchmark(pool.map, fn, items)
