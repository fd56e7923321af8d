"""Cross-run A/A and A/B (issue 14): one test whose workers may waste a third of their work.

With ``WASTE`` above 0 each worker does ``WASTE`` of its item's work again and
throws it away before doing the item: redundant work in the parallel path only
(a per-item re-parse or re-validation is the real-world kind), so the serial
reference is untouched and the parallel time grows by ``1 + WASTE``. At
``WASTE = 1/3`` the speedup falls by 25% of a compute-bound map, whatever the
machine's load: both the work and the waste slow down together. (A fixed serial
section, the first design, cost -9% to -41% depending on how busy the machine was
when it was sized.) 0 is the A/A case. In the paired benchmark's throwaway git
repository the ``WASTE`` line is rewritten to a constant, one value per commit.
"""

from __future__ import annotations

import os

import pytest
from workloads import cpu_work, workload

WASTE = float(os.environ.get("BENCH_WASTE", "0"))


def wasteful(n: int) -> int:
    """The item's work, after ``WASTE`` of it again done for nothing."""
    if WASTE:
        cpu_work(int(n * WASTE))
    return cpu_work(n)


@pytest.mark.parscale(backends=["pool"])
def test_cpu_speedup_across_runs(parscale):
    fn, items = workload("cpu")
    pool = parscale.executor
    parscale.measure(
        serial=lambda: [fn(item) for item in items], parallel=lambda: pool.map(wasteful, items)
    )
