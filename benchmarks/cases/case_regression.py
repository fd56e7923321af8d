"""False alarms and power: one test, compared against its own saved baseline.

``BENCH_REGRESS=0.25`` injects a regression that takes 25% off the speedup: a
serial sleep after the parallel map, one third of the map's own wall time, so the
parallel time grows by 4/3 whatever the load. ``0`` is the A/A case: same code path.
"""

from __future__ import annotations

import os
import time

import pytest
from workloads import workload

REGRESS = float(os.environ.get("BENCH_REGRESS", "0"))


@pytest.mark.parscale(backends=["pool"])
def test_cpu_speedup_against_baseline(parscale):
    fn, items = workload("cpu")
    pool = parscale.executor

    def parallel() -> list[int]:
        start = time.perf_counter()
        results: list[int] = pool.map(fn, items)
        if REGRESS:
            time.sleep((time.perf_counter() - start) * (1 / (1 - REGRESS) - 1))
        return results

    parscale.measure(serial=lambda: [fn(item) for item in items], parallel=parallel)
