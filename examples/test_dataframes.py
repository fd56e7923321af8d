"""pandas shards with groupby on the process-based backends.

Each shard is a DataFrame of about 1 MB pickled (``payloads(kind="dataframe")``);
the results are DataFrames, compared with ``pandas.testing`` cell by cell.
No speedup bar: on 2 cores the pickled frames take a large share, and the table
shows how large (transport column, serialised bytes per item).
"""

from __future__ import annotations

import pytest
from workloads import summarise


@pytest.mark.parscale(backends=["pool", "process", "ray", "dask", "celery"], workers=2)
def test_groupby_per_shard(parscale):
    shards = parscale.payloads(16, size=1_000_000, kind="dataframe")
    results = parscale.map(summarise, shards)
    assert list(results[0].columns) == ["sum", "mean", "std", "median", "max", "rank"]
