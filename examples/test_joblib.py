"""A function that parallelises itself with joblib's ``n_jobs``, through ``measure()``.

``measure`` times any serial/parallel pair: here the same function with
``n_jobs=1`` and ``n_jobs=parscale.workers`` (joblib's own process pool, loky).
The bar is far below what two idle cores give.
"""

from __future__ import annotations

import pytest
from workloads import cpu_work

joblib = pytest.importorskip("joblib")


def squares(items, n_jobs):
    return joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(cpu_work)(n) for n in items)


@pytest.mark.speedup(min=1.1, workers=2)
@pytest.mark.parscale(backends=["thread"], workers=2)
def test_joblib_n_jobs(parscale):
    items = [400_000] * 16
    squares(items, parscale.workers)  # start loky's workers before timing
    parscale.measure(
        serial=lambda: squares(items, 1),
        parallel=lambda: squares(items, parscale.workers),
    )
