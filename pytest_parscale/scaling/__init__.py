"""Scaling analysis of worker sweeps: efficiency, Karp-Flatt trend, Amdahl and USL fits.

No pytest import and no module-level numpy or scipy: the fits import scipy (the
``report`` extra) inside the functions that need it, so the plugin starts light and a
machine without scipy gets a sentence naming the extra instead of a crash. Every
number here is tested on synthetic data with known parameters (docs/scaling.md).
This face hands on the Python API that docs/scaling.md documents.
"""

from __future__ import annotations

from pytest_parscale.scaling.crossover import SizePoint, SizeSeries, crossover, group_size_series
from pytest_parscale.scaling.fits import AmdahlFit, NoFit, USLFit, fit_amdahl, fit_usl, usl_speedup
from pytest_parscale.scaling.karpflatt import KarpFlattTrend, karp_flatt_trend
from pytest_parscale.scaling.nodeids import sweep_test_id
from pytest_parscale.scaling.points import ScalingPoint, t_critical_95
from pytest_parscale.scaling.sweeps import (
    Sweep,
    SweepAnalysis,
    analyse,
    analyse_records,
    group_sweeps,
    usable_cores_of,
)
from pytest_parscale.stats import serial_fraction

__all__ = [
    "AmdahlFit",
    "KarpFlattTrend",
    "NoFit",
    "ScalingPoint",
    "SizePoint",
    "SizeSeries",
    "Sweep",
    "SweepAnalysis",
    "USLFit",
    "analyse",
    "analyse_records",
    "crossover",
    "fit_amdahl",
    "fit_usl",
    "group_size_series",
    "group_sweeps",
    "karp_flatt_trend",
    "serial_fraction",
    "sweep_test_id",
    "t_critical_95",
    "usable_cores_of",
    "usl_speedup",
]
