"""Ctrl-C during a measured map: the session ends fast, no orphans, no torn file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.e2e.conftest import ORPHAN_CHECK, reaped, sigint_default, skip_unless_installed

SLOW = """
import os
import time

PARENT = os.getpid()


def slow_in_worker(item: int) -> int:
    if os.getpid() != PARENT:
        time.sleep(1.0)
    return item
"""


SLOW_SUITE = """
import os
import pathlib

import pytest
from slow import slow_in_worker

BACKEND = ["{backend}"]


@pytest.mark.parscale(backends=BACKEND, workers=2)
def test_first(parscale):
    parscale.map(abs, [1, -2])


@pytest.mark.parscale(backends=BACKEND, workers=2)
def test_slow(parscale):
    pathlib.Path("mapping").write_text(str(os.getpid()))
    parscale.map(slow_in_worker, list(range(40)), chunksize=1)
"""

# Seconds from SIGINT to the end of the session: an engine's close takes longer.
ENDS_WITHIN = {"pool": 10, "ray": 15, "dask": 15, "celery": 15}


@pytest.mark.parametrize("backend", list(ENDS_WITHIN))
def test_sigint_during_a_map_ends_the_session_cleanly(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, backend: str
) -> None:
    if backend != "pool":
        skip_unless_installed(backend)
    orphans = tmp_path / "orphans.txt"
    monkeypatch.setenv("PARSCALE_ORPHANS_FILE", str(orphans))
    pytester.makeconftest(ORPHAN_CHECK)
    # Spawned workers (Dask's) learn the test process's pid from the environment.
    pytester.makepyfile(
        slow=SLOW.replace(
            "PARENT = os.getpid()",
            'PARENT = int(os.environ.setdefault("SLOW_PARENT", str(os.getpid())))',
        )
    )
    monkeypatch.delenv("SLOW_PARENT", raising=False)
    pytester.makepyfile(test_slow=SLOW_SUITE.replace("{backend}", backend))
    results = pytester.path / "results.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--parscale-json={results}",
            "--parscale-min-rounds=1",
        ],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=sigint_default,
    )
    with reaped(process):
        _interrupt_and_check(process, pytester.path, results, orphans, backend)


def _interrupt_and_check(
    process: subprocess.Popen[str], folder: Path, results: Path, orphans: Path, backend: str
) -> None:
    # Wait for the slow test itself, not a fixed time: start-up varies with load.
    mapping = folder / "mapping"
    deadline = time.monotonic() + 60
    while not mapping.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # into the measured map: 40 tasks of 1 s on 2 workers
    assert process.poll() is None
    children = psutil.Process(process.pid).children(recursive=True)
    assert children
    interrupted = time.monotonic()
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    elapsed = time.monotonic() - interrupted
    print(f"SIGINT on {backend}: session ended in {elapsed:.1f} s")
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "KeyboardInterrupt" in output
    assert elapsed < ENDS_WITHIN[backend], output
    assert orphans.read_text() == ""
    # multiprocessing's resource tracker (Dask spawns) exits on EOF from the dead
    # session, a moment after it: give every process a few seconds to be gone.
    _, alive = psutil.wait_procs(children, timeout=5)
    survivors = [child.pid for child in alive if _alive(child)]
    assert survivors == [], output
    document = json.loads(results.read_text())  # whole, valid, with what was measured
    assert [record["nodeid"] for record in document["results"]] == [
        f"test_slow.py::test_first[{backend}]"
    ]
    assert not list(folder.glob(".results.json.*.tmp"))


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
