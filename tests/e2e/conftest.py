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
ORPHAN_CHECK = """
import os

def pytest_unconfigure(config):
    import psutil
    alive = [p.pid for p in psutil.Process().children(recursive=True) if p.is_running()]
    with open(os.environ["PARSCALE_ORPHANS_FILE"], "w") as out:
        out.write(",".join(map(str, alive)))
"""


@pytest.fixture
def workloads(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(workloads=WORKLOADS)
    return pytester
