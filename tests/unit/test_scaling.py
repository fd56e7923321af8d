from __future__ import annotations

import math
import random
import sys

import pytest

from pytest_parscale.scaling import (
    AmdahlFit,
    NoFit,
    ScalingPoint,
    SizePoint,
    USLFit,
    analyse,
    analyse_records,
    crossover,
    fit_amdahl,
    fit_usl,
    group_size_series,
    group_sweeps,
    karp_flatt_trend,
    serial_fraction,
    sweep_test_id,
    t_critical_95,
    usl_speedup,
)
from pytest_parscale.stats import amdahl_speedup
from tests.records import measured

SIGMA, KAPPA = 0.05, 0.002
COUNTS = (1, 2, 4, 8, 12, 16)


def noisy_usl_points(seed: int, noise: float = 0.03, repeats: int = 3) -> list[ScalingPoint]:
    """USL speedups with multiplicative noise and the interval a measurement would give."""
    rng = random.Random(seed)
    points = []
    for workers in COUNTS:
        true = usl_speedup(SIGMA, KAPPA, workers)
        for _ in range(repeats):
            value = true * (1 + rng.gauss(0, noise))
            spread = 1.96 * noise * true
            points.append(ScalingPoint(workers, value, value - spread, value + spread))
    return points


def test_usl_fit_is_exact_on_exact_data() -> None:
    points = [ScalingPoint(n, usl_speedup(SIGMA, KAPPA, n)) for n in (1, 2, 4, 8, 16)]
    fit = fit_usl(points, usable_cores=16)
    assert isinstance(fit, USLFit)
    assert fit.sigma == pytest.approx(SIGMA, abs=1e-10)
    assert fit.kappa == pytest.approx(KAPPA, abs=1e-12)
    assert fit.sigma_se == pytest.approx(0, abs=1e-9)
    assert fit.peak_workers == pytest.approx(((1 - SIGMA) / KAPPA) ** 0.5)
    assert fit.peak_is_projection
    assert "projection" in fit.describe()


def test_usl_fit_recovers_parameters_within_standard_errors_on_noisy_data() -> None:
    """One fixed seed; the calibration test below shows one SE holds ~68% of the time."""
    fit = fit_usl(noisy_usl_points(seed=0), usable_cores=16)
    assert isinstance(fit, USLFit)
    assert fit.sigma_se is not None
    assert fit.kappa_se is not None
    assert abs(fit.sigma - SIGMA) <= fit.sigma_se
    assert abs(fit.kappa - KAPPA) <= fit.kappa_se
    assert fit.weighted


@pytest.mark.parametrize("with_intervals", [True, False])
def test_usl_standard_errors_are_calibrated(with_intervals: bool) -> None:
    """Over many seeds about 68% of fits land within one standard error of the truth."""
    inside_sigma = inside_kappa = 0
    trials = 200
    for seed in range(trials):
        points = noisy_usl_points(seed)
        if not with_intervals:
            points = [ScalingPoint(p.workers, p.speedup) for p in points]
        fit = fit_usl(points, usable_cores=16)
        assert isinstance(fit, USLFit)
        assert fit.sigma_se is not None
        assert fit.kappa_se is not None
        inside_sigma += abs(fit.sigma - SIGMA) <= fit.sigma_se
        inside_kappa += abs(fit.kappa - KAPPA) <= fit.kappa_se
    assert 0.58 <= inside_sigma / trials <= 0.78
    assert 0.58 <= inside_kappa / trials <= 0.78


def test_usl_needs_four_distinct_counts_within_the_usable_cores() -> None:
    points = [
        ScalingPoint(1, 1.0),
        ScalingPoint(2, 1.8),
        ScalingPoint(4, 2.1, oversubscribed=True),
        ScalingPoint(8, 2.0, oversubscribed=True),
    ]
    fit = fit_usl(points, usable_cores=2)
    assert isinstance(fit, NoFit)
    assert fit.reason.startswith("No USL fit: it needs at least 4 distinct worker counts")
    assert "this sweep has 2 (1, 2)" in fit.reason
    assert "4, 8 ran oversubscribed" in fit.reason
    assert "With 2 usable cores no sweep can be fitted here" in fit.reason


def test_usl_counts_above_the_usable_cores_are_left_out_even_if_not_flagged() -> None:
    points = [ScalingPoint(n, usl_speedup(SIGMA, KAPPA, n)) for n in (1, 2, 4, 8, 16)]
    assert isinstance(fit_usl(points, usable_cores=8), USLFit)
    assert isinstance(fit_usl(points, usable_cores=4), NoFit)


def test_no_peak_when_kappa_is_not_positive() -> None:
    points = [ScalingPoint(n, amdahl_speedup(0.1, n) * 1.001**n) for n in (1, 2, 4, 8)]
    fit = fit_usl(points)
    assert isinstance(fit, USLFit)
    assert fit.kappa <= 0
    assert fit.peak_workers is None
    assert "no peak" in fit.describe()


def test_karp_flatt_is_constant_on_exact_amdahl_data() -> None:
    points = [ScalingPoint(n, amdahl_speedup(0.1, n)) for n in (1, 2, 4, 8, 16)]
    values = [p.karp_flatt for p in points if p.karp_flatt is not None]
    assert values == pytest.approx([0.1] * 4)
    trend = karp_flatt_trend(points)
    assert trend.rises is False
    assert trend.slope == pytest.approx(0, abs=1e-12)
    assert "consistent with a fixed serial fraction" in trend.sentence


def test_karp_flatt_rising_with_n_is_called_overhead() -> None:
    points = [ScalingPoint(n, usl_speedup(0.02, 0.01, n)) for n in (1, 2, 4, 6, 8)]
    trend = karp_flatt_trend(points)
    assert trend.rises is True
    assert trend.slope is not None
    assert trend.slope > 0
    assert "points at overhead" in trend.sentence


def test_karp_flatt_noise_without_trend_is_not_a_rise() -> None:
    rng = random.Random(11)
    points = [
        ScalingPoint(n, amdahl_speedup(0.1, n) * (1 + rng.gauss(0, 0.02)))
        for n in (2, 4, 8, 16)
        for _ in range(3)
    ]
    trend = karp_flatt_trend(points)
    assert trend.rises is False
    assert trend.standard_error is not None
    assert trend.standard_error > 0


def test_karp_flatt_two_counts_judged_by_interval_overlap() -> None:
    apart = [ScalingPoint(2, 1.9, 1.85, 1.95), ScalingPoint(4, 2.2, 2.1, 2.3)]
    assert karp_flatt_trend(apart).rises is True
    overlapping = [ScalingPoint(2, 1.9, 1.5, 1.99), ScalingPoint(4, 3.2, 2.0, 3.9)]
    assert karp_flatt_trend(overlapping).rises is False
    bare = [ScalingPoint(2, 1.9), ScalingPoint(4, 2.2)]
    trend = karp_flatt_trend(bare)
    assert trend.rises is None
    assert "cannot be tested" in trend.sentence


def test_karp_flatt_single_count_says_no_trend() -> None:
    trend = karp_flatt_trend([ScalingPoint(1, 1.0), ScalingPoint(2, 1.7)], usable_cores=2)
    assert trend.rises is None
    assert "no trend with N can be judged" in trend.sentence


def test_amdahl_fit_exact_and_its_need_for_two_counts() -> None:
    points = [ScalingPoint(n, amdahl_speedup(0.2, n)) for n in (1, 2, 4)]
    fit = fit_amdahl(points)
    assert isinstance(fit, AmdahlFit)
    assert fit.serial_fraction == pytest.approx(0.2, abs=1e-12)
    assert fit.predict(1000) == pytest.approx(amdahl_speedup(0.2, 1000))
    lonely = fit_amdahl([ScalingPoint(2, 1.6)])
    assert isinstance(lonely, NoFit)
    assert "at least 2 distinct worker counts" in lonely.reason


def test_amdahl_fit_recovers_serial_fraction_within_its_standard_error() -> None:
    rng = random.Random(5)
    points = []
    for n in (1, 2, 4, 8):
        for _ in range(4):
            value = amdahl_speedup(0.15, n) * (1 + rng.gauss(0, 0.02))
            points.append(ScalingPoint(n, value))
    fit = fit_amdahl(points)
    assert isinstance(fit, AmdahlFit)
    assert fit.standard_error is not None
    assert abs(fit.serial_fraction - 0.15) <= fit.standard_error


def test_analysis_labels_counts_beyond_the_measured_ones_as_projections() -> None:
    points = [
        ScalingPoint(1, 1.0, 0.95, 1.05),
        ScalingPoint(2, 1.8, 1.7, 1.9),
        ScalingPoint(8, 1.9, 1.8, 2.0, oversubscribed=True, workers_requested=8),
    ]
    analysis = analyse(points, usable_cores=2)
    assert isinstance(analysis.amdahl, AmdahlFit)
    assert isinstance(analysis.usl, NoFit)
    assert [p.workers for p in analysis.projections] == [8]
    assert analysis.projections[0].label == "projection"
    summary = analysis.summary()
    assert any(line.startswith("No USL fit") for line in summary)
    assert any(line.startswith("projection (Amdahl, not measured)") for line in summary)


def test_t_critical_95_is_the_one_sided_t_quantile() -> None:
    assert t_critical_95(1) == pytest.approx(6.314, abs=1e-3)
    assert t_critical_95(10) == pytest.approx(1.812, abs=1e-3)
    assert t_critical_95(10_000) == pytest.approx(1.645, abs=1e-3)
    with pytest.raises(ValueError):
        t_critical_95(0)


def record(nodeid: str, backend: str, workers: int, speedup: float, **extra: object):  # type: ignore[no-untyped-def]
    return measured(nodeid, backend, workers, speedup, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("nodeid", "expected"),
    [
        ("t.py::test_a[pool-1KB-4w]", "t.py::test_a[pool-1KB]"),
        ("t.py::test_a[pool-w4-1KB]", "t.py::test_a[pool-1KB]"),
        ("t.py::test_a[4-pool]", "t.py::test_a[pool]"),
        ("t.py::test_a[pool-workers=4]", "t.py::test_a[pool]"),
        ("t.py::test_a[4workers]", "t.py::test_a"),
        ("t.py::test_a[pool-40w]", "t.py::test_a[pool-40w]"),
        ("t.py::test_a", "t.py::test_a"),
    ],
)
def test_sweep_test_id_strips_only_the_worker_part(nodeid: str, expected: str) -> None:
    assert sweep_test_id(record(nodeid, "pool", 4, 2.0)) == expected


def test_group_sweeps_by_test_backend_and_size() -> None:
    records = [
        record(f"t.py::test_a[{backend}-1KB-{n}w]", backend, n, 1.0 + n / 4, item_size=1000)
        for backend in ("pool", "thread")
        for n in (1, 2, 4)
    ]
    records.append(record("t.py::test_a[pool-10B-2w]", "pool", 2, 0.1, item_size=10))
    sweeps = group_sweeps(records)
    assert [(s.test, s.backend, s.item_size, len(s.records)) for s in sweeps] == [
        ("t.py::test_a[pool-1KB]", "pool", 1000, 3),
        ("t.py::test_a[thread-1KB]", "thread", 1000, 3),
        ("t.py::test_a[pool-10B]", "pool", 10, 1),
    ]
    analysed = analyse_records(records, usable_cores=4)
    assert len(analysed) == 2
    assert all(isinstance(analysis.amdahl, AmdahlFit) for _, analysis in analysed)


def bare(*pairs: tuple[int, float]) -> list[SizePoint]:
    return [SizePoint(size, speedup, None, None) for size, speedup in pairs]


def tight(*pairs: tuple[int, float], spread: float = 0.02) -> list[SizePoint]:
    return [SizePoint(size, s, s * (1 - spread), s * (1 + spread)) for size, s in pairs]


def test_crossover_estimate_is_log_interpolated() -> None:
    # 0.1x at 10 B and 10x at 1000 B: symmetric in log space, so the crossing is at 100 B.
    found = crossover(tight((10, 0.1), (1000, 10.0)))
    assert found.estimate == pytest.approx(100)
    assert found.item_size == pytest.approx(100)
    unordered = crossover(tight((100_000, 10.0), (10, 0.1), (1000, 0.5)))
    assert unordered.estimate == pytest.approx(
        math.exp(math.log(1000) + math.log(2) / math.log(20) * math.log(100))
    )
    at_one = crossover(tight((10, 1.0), (1000, 0.5), (100_000, 2.0)))
    assert at_one.estimate == pytest.approx(10_000)  # halfway in log space


def test_crossover_interval_comes_from_the_neighbouring_speedup_intervals() -> None:
    points = [SizePoint(10, 0.1, 0.08, 0.125), SizePoint(1000, 10.0, 8.0, 12.5)]
    found = crossover(points)
    # The high ends (0.125, 12.5) cross earliest, the low ends (0.08, 8.0) latest.
    earliest = math.exp(math.log(10) + math.log(8) / math.log(100) * math.log(100))
    latest = math.exp(math.log(10) + -math.log(0.08) / math.log(100) * math.log(100))
    assert found.low == pytest.approx(earliest)
    assert found.high == pytest.approx(latest)
    assert found.low < 100 < found.high
    assert found.item_size == pytest.approx(100)
    assert found.sentence.startswith("crosses 1.0x near ~100B [")


def test_crossover_spanning_more_than_ten_times_is_not_determined() -> None:
    # High ends cross near 1.5KB, low ends near 55KB: 36x apart.
    points = [SizePoint(1000, 0.5, 0.3, 0.9), SizePoint(100_000, 2.0, 1.2, 3.0)]
    found = crossover(points)
    assert found.estimate is not None
    assert found.low is not None
    assert found.high is not None
    assert found.high / found.low > 10
    assert found.item_size is None
    assert found.sentence.startswith("crossover not determined")
    assert "more than a 10x range" in found.sentence


def test_crossover_with_unbounded_interval_ends_is_not_determined() -> None:
    # The high ends are above 1 at the smallest size, the low ends never reach 1.
    found = crossover([SizePoint(1000, 0.8, 0.5, 1.1), SizePoint(100_000, 1.3, 0.9, 1.9)])
    assert found.item_size is None
    assert found.low is None
    assert found.high is None
    assert "from below the smallest size measured to beyond the largest" in found.sentence


def test_crossover_just_inside_ten_times_is_reported() -> None:
    found = crossover([SizePoint(1000, 0.5, 0.45, 0.55), SizePoint(100_000, 2.0, 1.8, 2.2)])
    assert found.low is not None
    assert found.high is not None
    assert found.high / found.low <= 10
    assert found.item_size == found.estimate


def test_crossover_without_intervals_is_not_determined() -> None:
    found = crossover(bare((10, 0.1), (1000, 10.0)))
    assert found.item_size is None
    assert found.estimate == pytest.approx(100)
    assert "uncertainty is unknown" in found.sentence


def test_crossover_absent_cases_say_why() -> None:
    assert "every size measured" in crossover(tight((10, 2.0), (100, 3.0))).sentence
    never = crossover(tight((10, 0.01), (1000, 0.5), (100_000, 0.9)))
    assert never.item_size is None
    assert "slower in parallel at every size" in never.sentence
    assert "falls below 1.0x" in crossover(tight((10, 1.5), (1000, 0.5))).sentence
    assert "one item size only" in crossover(tight((10, 0.5))).sentence


def test_crossover_with_unbounded_ends_from_single_rounds() -> None:
    points = [SizePoint(10, 0.5, -math.inf, math.inf), SizePoint(1000, 2.0, -math.inf, math.inf)]
    found = crossover(points)
    assert found.item_size is None
    assert "not determined" in found.sentence


@pytest.mark.parametrize(
    ("speedup", "workers", "value", "reason"),
    [
        (1.6, 2, 0.25, None),
        (2.0, 2, 0.0, None),
        (1.0, 4, 1.0, None),
        (0.66, 2, None, "speedup < 1"),
        (2.5, 2, None, "speedup > workers"),
        (1.5, 1, None, "one worker"),
        (0.0, 2, None, "no speedup measured"),
        (math.nan, 2, None, "no speedup measured"),
    ],
)
def test_serial_fraction_only_inside_zero_one(
    speedup: float, workers: int, value: float | None, reason: str | None
) -> None:
    fraction = serial_fraction(speedup, workers)
    if value is None:
        assert fraction.value is None
        assert fraction.reason is not None
        assert fraction.reason.startswith(str(reason))
        assert fraction.text() == f"none ({reason})"
    else:
        assert fraction.value == pytest.approx(value)
        assert fraction.reason is None
        assert 0 <= fraction.value <= 1


def test_karp_flatt_trend_leaves_out_counts_with_no_serial_fraction() -> None:
    points = [
        ScalingPoint(2, amdahl_speedup(0.1, 2)),
        ScalingPoint(4, amdahl_speedup(0.1, 4)),
        ScalingPoint(8, amdahl_speedup(0.1, 8)),
        ScalingPoint(16, 0.7),
    ]
    trend = karp_flatt_trend(points)
    assert trend.rises is False
    assert "left out, no serial fraction: 16 workers: speedup < 1" in trend.sentence
    assert points[3].karp_flatt is None


def test_no_projection_from_an_amdahl_fit_outside_zero_one() -> None:
    # Superlinear: S > N at every count, so the fitted serial fraction is negative.
    points = [
        ScalingPoint(1, 1.0),
        ScalingPoint(2, 2.4),
        ScalingPoint(4, 6.0, workers_requested=8),
    ]
    analysis = analyse(points, usable_cores=4)
    assert isinstance(analysis.amdahl, AmdahlFit)
    assert analysis.amdahl.serial_fraction < 0
    assert analysis.projections == ()
    assert analysis.no_projection is not None
    assert "outside [0, 1]" in analysis.no_projection
    assert analysis.no_projection in analysis.summary()


def test_without_scipy_the_fits_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("scipy", "scipy.optimize", "scipy.stats"):
        monkeypatch.setitem(sys.modules, name, None)
    points = [ScalingPoint(n, usl_speedup(SIGMA, KAPPA, n)) for n in (1, 2, 4, 8, 16)]
    for fit in (fit_usl(points), fit_amdahl(points)):
        assert isinstance(fit, NoFit)
        assert "pip install 'pytest-parscale[report]'" in fit.reason
    noisy = [ScalingPoint(n, amdahl_speedup(0.1, n) * (1 + 0.01 * (-1) ** n)) for n in (2, 3, 4, 5)]
    trend = karp_flatt_trend(noisy)  # its t quantile is stats.t_quantile: no scipy
    assert trend.rises is False
    assert "t = " in trend.sentence
    summary = analyse(points).summary()
    assert len(summary) == 3


def test_size_series_one_line_per_backend() -> None:
    records = [
        record(f"t.py::test_b[{backend}-{label}]", backend, 2, speedup, item_size=size)
        for backend in ("pool", "thread")
        for label, size, speedup in (("10B", 10, 0.05), ("1KB", 1000, 0.9), ("100KB", 10**5, 3.0))
    ]
    (series,) = group_size_series(records)
    assert series.test == "t.py::test_b"
    assert sorted(series.lines) == ["pool", "thread"]
    assert [p.item_size for p in series.lines["pool"]] == [10, 1000, 10**5]
    assert series.crossovers()["pool"].item_size is not None


def test_no_projection_from_a_usl_fit_with_sigma_outside_zero_one() -> None:
    # Exact USL data with negative contention (superlinear at first): sigma < 0.
    points = [
        ScalingPoint(n, usl_speedup(-0.05, 0.01, n), workers_requested=n) for n in (1, 2, 3, 4)
    ]
    points.append(ScalingPoint(4, usl_speedup(-0.05, 0.01, 4), workers_requested=16))
    analysis = analyse(points, usable_cores=4)
    assert isinstance(analysis.usl, USLFit)
    assert analysis.usl.sigma == pytest.approx(-0.05)
    assert analysis.projections == ()
    assert analysis.no_projection is not None
    assert "No projection to 16 workers: the USL contention sigma" in analysis.no_projection
