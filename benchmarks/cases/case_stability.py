"""Stability, plugin side: the CPU workload on the pool backend, measured as users do."""

from __future__ import annotations

import pytest
from workloads import workload


@pytest.mark.parscale(backends=["pool"])
def test_cpu_speedup(parscale):
    fn, items = workload("cpu")
    parscale.map(fn, items)
