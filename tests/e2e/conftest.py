from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

# Few rounds and a short budget: these tests check behaviour, not figures.
FAST = ("-p", "no:cacheprovider", "--parscale-min-rounds=3", "--parscale-max-time=3")

# The baseline tests' suite: one CPU-bound test on the pool backend, whose baseline
# they save and then edit (claim_speedup) to make a regression certain.
GATED = """
def spin(n):
    total = 0
    for i in range(n):
        total += i * i
    return total

def test_gated(parscale):
    parscale.map(spin, [60_000] * 8)
"""
POOL = ("-p", "no:cacheprovider", "--parscale-backends=pool")


def claim_speedup(document: dict[str, Any], factor: float) -> None:
    """Edit a results document in place to claim ``factor`` times its measured speedups."""
    for item in document["results"]:
        item["samples"]["serial"] = [value * factor for value in item["samples"]["serial"]]
        for end in ("estimate", "low", "high"):
            if item["speedup"][end] is not None:
                item["speedup"][end] *= factor


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


# The longest a pytester subprocess may run unless its test says otherwise: a hang
# (a deadlocked worker, an engine that never starts) then fails that test within
# minutes instead of holding the whole CI run until its own time limit.
SUBPROCESS_TIMEOUT = 300.0


@pytest.fixture
def pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """The built-in pytester, with a default timeout on ``runpytest_subprocess``."""
    unbounded = pytester.runpytest_subprocess

    def bounded(*args: Any, timeout: float | None = SUBPROCESS_TIMEOUT) -> pytest.RunResult:
        return unbounded(*args, timeout=timeout)

    pytester.runpytest_subprocess = bounded  # type: ignore[method-assign]
    return pytester


def sigint_default() -> None:
    """``preexec_fn`` of a child a test will Ctrl-C: SIGINT back to its default.

    An ignored signal stays ignored across exec, and a background job of a
    non-interactive shell (``nohup ./ci &``) starts with SIGINT ignored: Python then
    installs no KeyboardInterrupt handler, and the test's SIGINT would do nothing.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def reaped(process: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """Kill and reap ``process`` however the test ends, so a failure leaks nothing
    (a still-running Popen warns in whichever later test collects it)."""
    import psutil

    try:
        yield process
    finally:
        if process.poll() is None:
            with contextlib.suppress(psutil.NoSuchProcess):
                for child in psutil.Process(process.pid).children(recursive=True):
                    child.kill()
            process.kill()
        process.communicate()
