"""Measuring on the Dask cluster your own fixture builds, instead of one parscale starts.

A Dask user's conftest usually has a session fixture with a ``LocalCluster`` (or a
``Client`` of the team's scheduler). Overriding ``parscale_dask_client`` to return it
makes the dask backend measure there, as it is: its ``n_workers`` x
``threads_per_worker`` is the worker count, and goes into the record (docs/engines.md).
pytest-parscale closes only the client it opened on a cluster; the cluster is yours.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from workloads import cpu_work

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[Any]:
    """The cluster the project's tests already use: two single-threaded worker processes."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        memory_limit=0,
    ) as cluster:
        yield cluster


@pytest.fixture
def parscale_dask_client(dask_cluster: Any) -> Any:
    """pytest-parscale's hook: the dask backend measures on what this returns."""
    return dask_cluster


@pytest.mark.speedup(min=1.3, workers=2)
@pytest.mark.parscale(backends=["dask"])
def test_cpu_work_scales_on_my_cluster(parscale: Any) -> None:
    results = parscale.map(cpu_work, [400_000] * 16)
    assert results[0] == cpu_work(400_000)
