from __future__ import annotations

import pytest

# Few rounds and a short budget: these tests check behaviour, not figures.
FAST = ("-p", "no:cacheprovider", "--parscale-min-rounds=3", "--parscale-max-time=3")

WORKLOADS = '''
def cpu_work(n: int) -> int:
    """Pure-Python CPU work: parallelises on processes, not on threads (GIL)."""
    return sum(i * i for i in range(n))


def checksum(item: bytes) -> int:
    return sum(item)
'''

# Written into pytester runs that must prove no child process outlives the session:
# it runs after pytest-parscale's session teardown and lists what is still alive.
# multiprocessing's resource tracker (started by spawn, e.g. Dask's workers) is the
# stdlib's own helper: it reads a pipe from this process and exits with it.
ORPHAN_CHECK = """
import os

def _ours(process):
    try:
        return "multiprocessing.resource_tracker" not in " ".join(process.cmdline())
    except Exception:  # gone meanwhile
        return False

def pytest_unconfigure(config):
    import psutil
    alive = [
        p.pid for p in psutil.Process().children(recursive=True) if p.is_running() and _ours(p)
    ]
    with open(os.environ["PARSCALE_ORPHANS_FILE"], "w") as out:
        out.write(",".join(map(str, alive)))
"""


@pytest.fixture
def workloads(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(workloads=WORKLOADS)
    return pytester


def skip_unless_installed(*backends: str) -> None:
    """Skip when an engine is missing, without importing it into this process.

    ``pytest.importorskip`` would load Ray or Dask here, and the in-process pytester
    runs of other tests then cannot re-import numpy or find the plugin.
    """
    from pytest_parscale.backends.base import BACKENDS

    for backend in backends:
        reason = BACKENDS[backend].missing_reason()
        if reason is not None:
            pytest.skip(reason)
