"""Large ndarrays with and without zero-copy: ``map(..., share=True)``.

The plain map pickles each 4 MB array to the worker; the zero-copy variant ships
it through shared memory (pool, process), Ray's object store or ``client.scatter``
(Dask). The summary prints both speedups ("zero-copy: ... would give Nx"). Threads
and Celery have no zero-copy path, so they are not asked.
"""

from __future__ import annotations

import pytest
from workloads import total


@pytest.mark.parscale(backends=["pool", "process", "ray", "dask"], workers=2)
def test_large_arrays_zero_copy(parscale):
    vectors = parscale.payloads(8, size=4_000_000, kind="ndarray")
    results = parscale.map(total, vectors, share=True)
    assert results[0] == float(vectors[0].sum())
