from __future__ import annotations

import math
import random

import pytest

from pytest_parscale.stats import (
    amdahl_speedup,
    karp_flatt,
    median,
    ratio_of_medians_ci,
)


def test_median_odd_and_even() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5


def test_median_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        median([])


def test_ratio_interval_brackets_the_true_ratio_on_noisy_samples() -> None:
    rng = random.Random(7)
    serial = [1.0 * rng.uniform(0.95, 1.05) for _ in range(30)]
    parallel = [0.5 * rng.uniform(0.95, 1.05) for _ in range(30)]
    interval = ratio_of_medians_ci(serial, parallel)
    assert interval.low <= 2.0 <= interval.high
    assert interval.high - interval.low < 0.2
    assert interval.low <= interval.estimate <= interval.high


def test_ratio_interval_is_deterministic_for_the_same_data() -> None:
    serial = [1.0, 1.1, 0.9, 1.05, 0.97]
    parallel = [0.6, 0.55, 0.5, 0.52, 0.58]
    assert ratio_of_medians_ci(serial, parallel) == ratio_of_medians_ci(serial, parallel)


def test_ratio_interval_widens_with_noise() -> None:
    rng = random.Random(1)
    tight = ratio_of_medians_ci(
        [1 + rng.uniform(-0.01, 0.01) for _ in range(10)],
        [0.5 + rng.uniform(-0.005, 0.005) for _ in range(10)],
    )
    loose = ratio_of_medians_ci(
        [1 + rng.uniform(-0.4, 0.4) for _ in range(10)],
        [0.5 + rng.uniform(-0.2, 0.2) for _ in range(10)],
    )
    assert (loose.high - loose.low) > 5 * (tight.high - tight.low)


def test_single_round_interval_is_unbounded() -> None:
    interval = ratio_of_medians_ci([1.0], [0.5])
    assert interval.estimate == 2.0
    assert math.isinf(interval.low)
    assert math.isinf(interval.high)


@pytest.mark.parametrize(
    ("numerator", "denominator", "message"),
    [
        ([1.0], [1.0, 2.0], "equal length"),
        ([], [], "no samples"),
        ([1.0], [0.0], "positive"),
    ],
)
def test_ratio_interval_rejects_bad_samples(
    numerator: list[float], denominator: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ratio_of_medians_ci(numerator, denominator)


def test_karp_flatt_is_constant_on_exact_amdahl_data() -> None:
    fraction = 0.08
    measured = [karp_flatt(amdahl_speedup(fraction, n), n) for n in (2, 4, 8, 16, 64)]
    assert all(value == pytest.approx(fraction) for value in measured)


def test_karp_flatt_of_perfect_scaling_is_zero() -> None:
    assert karp_flatt(4.0, 4) == pytest.approx(0.0)


def test_karp_flatt_needs_two_workers() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        karp_flatt(1.0, 1)


def test_amdahl_limits() -> None:
    assert amdahl_speedup(0.0, 8) == pytest.approx(8.0)
    assert amdahl_speedup(1.0, 8) == pytest.approx(1.0)
    assert amdahl_speedup(0.5, 1_000_000) == pytest.approx(2.0, rel=1e-5)
