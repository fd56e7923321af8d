"""numpy matmul on threads: the GIL is released inside BLAS, so threads scale.

Compare with examples/test_cpu_bound.py, where pure Python on threads stays near
1.0x. One BLAS thread per worker (examples/conftest.py). The bar is far below the
~1.8x two idle cores give, so a busy machine does not fail it.
"""

from __future__ import annotations

import numpy
import pytest
from workloads import matmul_power


@pytest.mark.speedup(min=1.1, workers=2)
@pytest.mark.parscale(backends=["thread"], workers=2)
def test_matmul_scales_on_threads(parscale):
    rng = numpy.random.default_rng(7)
    matrices = [rng.standard_normal((300, 300)) for _ in range(16)]
    parscale.map(matmul_power, matrices, check={"rel": 1e-9})
