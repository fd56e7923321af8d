"""The seed article's table as a test: the same checksum over items of growing size.

Tiny items lose to pickling and dispatch; large ones amortise it. The summary
prints the speedup per backend and size, the transport share, the serialised bytes
per item and, per backend, where the speedup crosses 1.0.
"""

from __future__ import annotations

import pytest
from workloads import checksum

# Enough items to show the trend, few enough that one task per item stays quick on
# Celery and Dask; 10 MB items stay at 8 (80 MB a map).
BYTES_PER_MAP = 2_000_000


@pytest.mark.parscale(item_sizes=["10B", "1KB", "100KB", "10MB"])
def test_checksum_serialisation_tax(parscale):
    count = min(400, max(8, BYTES_PER_MAP // parscale.item_size))
    items = parscale.payloads(count=count)
    results = parscale.map(checksum, items)
    assert results[0] == sum(items[0])
