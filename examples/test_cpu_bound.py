"""CPU-bound pure Python: processes scale, threads do not (the GIL)."""

from __future__ import annotations

import pytest
from workloads import cpu_work

PROCESS_BACKENDS = ["pool", "process", "ray", "dask", "celery"]


@pytest.mark.speedup(min=1.3, workers=2)
@pytest.mark.parscale(backends=PROCESS_BACKENDS)
def test_cpu_work_scales(parscale):
    results = parscale.map(cpu_work, [400_000] * 16)
    assert results[0] == cpu_work(400_000)


@pytest.mark.parscale(backends=["thread"], workers=2)
def test_threads_share_one_interpreter_lock(parscale):
    """No speedup marker: the table shows threads stay near 1.0x on pure Python."""
    parscale.map(cpu_work, [400_000] * 16)
