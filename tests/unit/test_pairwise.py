"""A paired run judged pair by pair: synthetic sessions, no clock."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest

from pytest_parscale.notewords import note_text
from pytest_parscale.paired.pairwise import compare_pairs, look_confidence
from pytest_parscale.regression import Status
from pytest_parscale.results import Record
from pytest_parscale.thresholds import DEFAULT_FAIL_ON
from tests.benchmarks import load
from tests.records import record


def session(speedup: float, transport: float | None = None) -> Record:
    parallel = [1.0, 1.01]
    return record(
        serial=[value * speedup for value in parallel],
        parallel=parallel,
        transport=[value * transport for value in parallel] if transport is not None else (),
    )


def pairs(base: list[float], head: list[float]) -> list[tuple[Record, Record]]:
    return [(session(b), session(h)) for b, h in zip(base, head, strict=True)]


STATES = [2.0, 1.7, 2.2, 1.9, 2.1]  # the machine's state moves the pair, not the difference


def test_a_drop_far_beyond_the_threshold_is_a_regression_whatever_the_machine_did() -> None:
    test = compare_pairs(pairs(STATES, [0.7 * s for s in STATES]), DEFAULT_FAIL_ON)
    assert test.status is Status.REGRESSION
    (speedup,) = test.changes
    assert speedup.change == pytest.approx(-0.3)
    assert speedup.p_value < 0.001
    assert "judged on 5 pairs of sessions" in note_text(test.notes[0])


def test_a_drift_inside_the_threshold_is_unchanged_and_never_called() -> None:
    noise = random.Random(3)
    head = [0.95 * s * math.exp(noise.gauss(0, 0.01)) for s in STATES]
    test = compare_pairs(pairs(STATES, head), DEFAULT_FAIL_ON)
    assert test.status is Status.UNCHANGED
    assert test.changes[0].low > -0.10


def test_a_change_near_the_threshold_is_uncertain_and_one_pair_decides_nothing() -> None:
    noise = random.Random(4)
    head = [0.9 * s * math.exp(noise.gauss(0, 0.05)) for s in STATES]
    assert compare_pairs(pairs(STATES, head), DEFAULT_FAIL_ON).status is Status.UNCERTAIN
    single = compare_pairs(pairs(STATES[:1], [0.5]), DEFAULT_FAIL_ON)
    assert (single.status, single.changes) == (Status.UNCERTAIN, ())


def test_the_transport_share_is_judged_on_its_per_pair_differences() -> None:
    both = [(session(2.0, 0.10), session(2.0, 0.30)), (session(1.8, 0.12), session(1.8, 0.31))]
    both += [(session(2.1, 0.11), session(2.1, 0.30))]
    overhead = compare_pairs(both, DEFAULT_FAIL_ON).changes[1]
    assert (overhead.metric, overhead.status) == ("overhead", Status.REGRESSION)
    assert overhead.change == pytest.approx((0.20 + 0.19 + 0.19) / 3)


def test_engines_of_another_kind_are_not_compared() -> None:
    base, head = session(2.0), session(2.0)
    cluster = dataclasses.replace(head, executor={"engine": "tcp://127.0.0.2:8786"})
    test = compare_pairs([(base, cluster)] * 3, DEFAULT_FAIL_ON)
    assert (test.status, test.reason) == (Status.INCOMPARABLE, "engine")


def test_the_looks_spend_at_most_the_level() -> None:
    alphas = [(1 - look_confidence(k, 0.95)) / 2 for k in range(1, 8)]
    assert alphas[0] == pytest.approx(0.0125)
    assert sum(alphas) < 0.025
    assert (1 - look_confidence(8, 0.95, final=True)) / 2 == pytest.approx(0.025 - sum(alphas))


def test_a_paired_run_keeps_its_level_at_the_threshold() -> None:
    """Simulated paired runs (benchmarks/calibration_cross.py, seeded, 300 runs) whose
    head is exactly 10% slower: called <= 2.5% + two standard errors (measured 0.7%
    over 1000); a 25% drop is caught in >= 90% (measured 95%)."""
    import numpy as np

    cross = load("calibration_cross")
    shipped, paired_run = cross.PAIRED_RULES[-1], cross.paired_run
    rng = np.random.default_rng(9)
    at = [paired_run(rng, -0.10, shipped)[0] for _ in range(300)]
    assert at.count("regression") / 300 <= 0.025 + 2 * math.sqrt(0.025 * 0.975 / 300)
    caught = [paired_run(rng, -0.25, shipped)[0] for _ in range(100)]
    assert caught.count("regression") >= 90
