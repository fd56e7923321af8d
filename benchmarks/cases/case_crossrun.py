"""Cross-run A/A and A/B (issue 14): one test whose parallel path may carry a serial section.

``SERIAL_UNITS`` calls of the workload's ``fn`` on a small item run in the test
process right after the parallel map: a serial section (Amdahl's serial part), the
kind of change that costs speedup in real code, not a sleep. The harness sizes it
from a calibration run so that it adds a third of the parallel time on this machine:
a 25% drop in speedup. 0 is the A/A case. In the paired benchmark's throwaway git
repository the ``SERIAL_UNITS`` line is rewritten to a constant, one value per commit.

With ``BENCH_SIDE_FILE`` set (the calibration run) the test also writes the time of
one serial unit, measured here in the test process.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from workloads import CPU_N, workload

SERIAL_UNITS = int(os.environ.get("BENCH_SERIAL_UNITS", "0"))
UNIT_N = CPU_N // 20  # one unit is 1/20 of an item: fine enough to size a section to ~1%


@pytest.mark.parscale(backends=["pool"])
def test_cpu_speedup_across_runs(parscale):
    fn, items = workload("cpu")
    pool = parscale.executor

    def parallel() -> list[int]:
        results: list[int] = pool.map(fn, items)
        for _ in range(SERIAL_UNITS):
            fn(UNIT_N)
        return results

    parscale.measure(serial=lambda: [fn(item) for item in items], parallel=parallel)
    side = os.environ.get("BENCH_SIDE_FILE")
    if side:
        times = []
        for _ in range(21):
            start = time.perf_counter()
            fn(UNIT_N)
            times.append(time.perf_counter() - start)
        with open(side, "a", encoding="utf-8") as stream:
            stream.write(json.dumps({"unit": sorted(times)[len(times) // 2]}) + "\n")
