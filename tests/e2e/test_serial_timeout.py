"""The serial reference is bounded by --parscale-timeout like the parallel map."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import FAST

SUITE = """
import time

import pytest


def hangs(item):
    time.sleep(600)


def spins(item):
    while True:
        try:
            sum(range(1000))
        except Exception:  # code under test that swallows errors cannot keep it alive
            pass


@pytest.mark.parscale(backends=["pool"], workers=2)
def test_1_serial_sleeps(parscale):
    parscale.map(hangs, [1, 2])


@pytest.mark.parscale(backends=["pool"], workers=2)
def test_2_serial_spins(parscale):
    parscale.map(spins, [1, 2])


@pytest.mark.parscale(backends=["pool"], workers=2)
def test_3_measure_serial_hangs(parscale):
    parscale.measure(serial=lambda: hangs(0), parallel=lambda: 1)


@pytest.mark.parscale(backends=["pool"], workers=2)
def test_4_goes_on(parscale):
    assert parscale.map(abs, [-1, -2]) == [1, 2]
"""


def test_a_hanging_serial_run_fails_its_test_and_the_session_goes_on(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_hang=SUITE)
    began = time.monotonic()
    result = pytester.runpytest_subprocess(*FAST, "-rA", "--parscale-timeout=2", timeout=300)
    elapsed = time.monotonic() - began
    result.assert_outcomes(failed=3, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*SerialTimeout: the serial reference did not finish within "
            "--parscale-timeout=2 s; it was at:",
            "*in hangs*",
            "*time.sleep(600)*",
        ]
    )
    result.stdout.fnmatch_lines(["*in spins*", "*sum(range(1000))*"])
    result.stdout.fnmatch_lines(["*SerialTimeout: the serial callable did not finish*"])
    result.stdout.fnmatch_lines(["PASSED test_hang.py::test_4_goes_on[pool]"])
    assert elapsed < 120  # three 2 s timeouts, not three 600 s sleeps
