"""Moderated spreads: the prior of a suite's variances, and history judging with it."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest

from pytest_parscale.family import apply_family
from pytest_parscale.history import MIN_RUNS, judge_for, judge_test, judged_against, suite_prior
from pytest_parscale.moderation import (
    MIN_TESTS,
    Prior,
    digamma,
    estimate_prior,
    trigamma,
    trigamma_inverse,
)
from pytest_parscale.notewords import note_text, note_texts
from pytest_parscale.regression import Status, compare_results
from pytest_parscale.storage import Results
from pytest_parscale.thresholds import DEFAULT_FAIL_ON
from tests.records import MACHINE, at_speedup

EULER = 0.5772156649015329
PARALLEL = (1.0, 1.002, 0.998, 1.001, 0.999, 1.0)


def test_digamma_and_trigamma_match_their_closed_forms() -> None:
    assert digamma(1) == pytest.approx(-EULER, abs=1e-9)
    assert digamma(0.5) == pytest.approx(-EULER - 2 * math.log(2), abs=1e-9)
    assert trigamma(1) == pytest.approx(math.pi**2 / 6, abs=1e-9)
    assert trigamma(0.5) == pytest.approx(math.pi**2 / 2, abs=1e-9)
    for x in (0.05, 1.7, 4.5, 80.0):
        assert trigamma_inverse(trigamma(x)) == pytest.approx(x, rel=1e-9)
    with pytest.raises(ValueError, match="x > 0, got 0"):
        digamma(0)


def sample_variances(
    rng: random.Random, tests: int, freedom: int, prior: tuple[float, float] | None, spread: float
) -> list[float]:
    """Each test's sample variance on ``freedom`` degrees of freedom; its true variance
    drawn from a scaled inverse chi-square ``prior`` (s0^2, d0), or log-uniform over a
    factor ``spread`` when ``prior`` is None."""

    def chi2(k: float) -> float:
        return 2 * rng.gammavariate(k / 2, 1)

    found = []
    for _ in range(tests):
        if prior is not None:
            scale, prior_freedom = prior
            true = prior_freedom * scale / chi2(prior_freedom)
        else:
            true = 0.01 * spread ** rng.uniform(-1, 1)
        found.append(true * chi2(freedom) / freedom)
    return found


def test_the_prior_is_recovered_from_variances_drawn_from_it() -> None:
    rng = random.Random(1)
    variances = sample_variances(rng, 4000, 4, (0.0049, 6.0), 1.0)
    plain = estimate_prior(variances, [4] * len(variances), guard=0)
    guarded = estimate_prior(variances, [4] * len(variances))
    assert plain is not None
    assert guarded is not None
    assert plain.tests == 4000
    assert plain.freedom == pytest.approx(6.0, rel=0.25)  # d0 is the loosely known one
    assert math.sqrt(plain.variance) == pytest.approx(0.07, rel=0.05)
    # the guard takes d0 low by its sampling error: small with 4000 tests
    assert plain.freedom * 0.8 < guarded.freedom < plain.freedom


def test_equal_variances_shrink_heavily_and_wildly_different_ones_hardly() -> None:
    rng = random.Random(2)
    alike = estimate_prior(sample_variances(rng, 48, 4, None, 1.0), [4] * 48)
    apart = estimate_prior(sample_variances(rng, 48, 4, None, 1e4), [4] * 48)
    assert alike is not None
    assert apart is not None
    assert alike.freedom > 20  # five times the tests' own 4 degrees of freedom, or inf
    assert apart.freedom < 1
    noisy = 0.05  # one test's sample variance, five times the others' 0.01
    assert alike.moderate(noisy, 4)[0] < 0.02  # pulled most of the way to the prior
    assert apart.moderate(noisy, 4)[0] > 0.04  # it keeps its own


def test_the_prior_needs_enough_positive_variances() -> None:
    assert estimate_prior([0.01] * (MIN_TESTS - 1) + [0.0], [4] * MIN_TESTS) is None
    with pytest.raises(ValueError, match="one number of degrees of freedom per variance"):
        estimate_prior([0.01, 0.02], [4])
    same = estimate_prior([0.01] * MIN_TESTS, [4] * MIN_TESTS)
    assert same is not None
    assert math.isinf(same.freedom)
    assert same.moderate(0.5, 4) == (same.variance, math.inf)
    assert Prior(0.01, 4.0, 10).moderate(0.03, 4.0) == pytest.approx((0.02, 8.0))


SUITE = 12  # tests of the history below
OFFSETS = (-0.05, 0.02, -0.01, 0.05, -0.01)  # log speedup of each run around its test's centre


def suite_history() -> Results:
    """A history of 5 runs of 12 tests whose spreads differ by up to a factor 1.5."""
    runs = []
    for index, offset in enumerate(OFFSETS):
        records = {
            f"t.py::test_{test}": at_speedup(
                f"t.py::test_{test}",
                1.5 * math.exp(offset * (0.8 + 0.4 * test / (SUITE - 1))),
                PARALLEL,
            )
            for test in range(SUITE)
        }
        created = f"2026-12-0{index + 1}T12:00:00+00:00"
        runs.append(Results("h.jsonl", 3, created, None, MACHINE, [], records))
    return dataclasses.replace(runs[-1], runs=tuple(runs))


def test_a_run_judged_with_pooled_spreads_calls_a_drop_its_own_spread_left_uncertain() -> None:
    baseline = suite_history()
    prior = suite_prior(baseline.runs)
    assert prior is not None
    assert prior.tests == SUITE
    head = {nodeid: at_speedup(nodeid, 1.5, PARALLEL) for nodeid in baseline.records}
    dropped = "t.py::test_6"
    head[dropped] = at_speedup(dropped, 1.5 * 0.76, PARALLEL)
    judged = {}
    for pooled in (False, True):
        judge = judge_for(baseline, pooled=pooled)
        changes = compare_results(baseline.records, head, DEFAULT_FAIL_ON, judge=judge)
        judged[pooled] = {t.nodeid: t for t in apply_family(changes, "holm", 0.95)[0]}
    assert judged[False][dropped].status is Status.UNCERTAIN
    assert judged[True][dropped].status is Status.REGRESSION
    assert any(
        "spread pooled with the history's 12 tests" in n
        for n in note_texts(judged[True][dropped].notes)
    )
    for pooled in (False, True):  # no unchanged test is called either way
        others = [t for nodeid, t in judged[pooled].items() if nodeid != dropped]
        assert Status.REGRESSION not in {t.status for t in others}
    assert "spreads pooled across its 12 tests" in note_text(judged_against(baseline))
    # the plugin's per-test call pools too (its prior computed once per baseline)
    assert judge_test(baseline, head[dropped], DEFAULT_FAIL_ON).changes[0].p_value == (
        judged[True][dropped].changes[0].p_value
    )


def test_one_test_alone_is_not_pooled() -> None:
    baseline = suite_history()
    one = [
        dataclasses.replace(run, records={"t.py::test_0": run.records["t.py::test_0"]})
        for run in baseline.runs
    ]
    assert suite_prior(one) is None
    assert suite_prior(baseline.runs[: MIN_RUNS - 1]) is None  # too few runs per test
    lone = dataclasses.replace(one[-1], runs=tuple(one))
    judged = judge_test(lone, at_speedup("t.py::test_0", 1.2, PARALLEL), DEFAULT_FAIL_ON)
    assert "history-pooled" not in {note.reason for note in judged.notes}
    assert "pooled" not in note_text(judged_against(lone))


def test_only_a_family_rule_pools_the_spreads() -> None:
    # pooling raises the noisiest test's own rate: judged alone, a run would inherit it
    from pytest_parscale.history import pools

    assert pools("holm")
    assert pools("bh")
    assert not pools("none")
