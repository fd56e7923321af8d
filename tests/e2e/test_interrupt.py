"""Ctrl-C during a measured map: the session ends fast, no orphans, no torn file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import ORPHAN_CHECK

SLOW = """
import os
import time

PARENT = os.getpid()


def slow_in_worker(item: int) -> int:
    if os.getpid() != PARENT:
        time.sleep(1.0)
    return item
"""


def test_sigint_during_a_map_ends_the_session_cleanly(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    orphans = tmp_path / "orphans.txt"
    monkeypatch.setenv("PARSCALE_ORPHANS_FILE", str(orphans))
    pytester.makeconftest(ORPHAN_CHECK)
    pytester.makepyfile(slow=SLOW)
    pytester.makepyfile(
        test_slow="""
        import pytest
        from slow import slow_in_worker

        @pytest.mark.parscale(backends=["pool"], workers=2)
        def test_first(parscale):
            parscale.map(abs, [1, -2])

        @pytest.mark.parscale(backends=["pool"], workers=2)
        def test_slow(parscale):
            parscale.map(slow_in_worker, list(range(40)), chunksize=1)
        """
    )
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
    )
    time.sleep(4)  # start-up plus the first test; the slow map takes 20 s
    assert process.poll() is None
    interrupted = time.monotonic()
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=30)
    elapsed = time.monotonic() - interrupted
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert "KeyboardInterrupt" in output
    assert elapsed < 10, output
    assert orphans.read_text() == ""
    document = json.loads(results.read_text())  # whole, valid, with what was measured
    assert [record["nodeid"] for record in document["results"]] == [
        "test_slow.py::test_first[pool]"
    ]
    assert not list(pytester.path.glob(".results.json.*.tmp"))
