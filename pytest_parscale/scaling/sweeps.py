"""Records grouped into sweeps, and each sweep analysed: trend, fits, projections.

Renders never recompute: a SweepAnalysis carries every sentence the reports show.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_parscale.scaling.fits import AmdahlFit, NoFit, USLFit, fit_amdahl, fit_usl
from pytest_parscale.scaling.karpflatt import KarpFlattTrend, karp_flatt_trend
from pytest_parscale.scaling.nodeids import sweep_test_id
from pytest_parscale.scaling.points import ScalingPoint, counts_text, fittable, point_from_record
from pytest_parscale.sizes import format_size

if TYPE_CHECKING:
    from pytest_parscale.results import Record


@dataclass(frozen=True)
class ModelProjection:
    """A speedup a fitted model predicts at a count that was not measured usably."""

    workers: int
    speedup: float
    model: str
    label: str = "projection"

    def describe(self) -> str:
        return (
            f"projection ({self.model}, not measured): ~{self.speedup:.3g}x "
            f"at {self.workers} workers"
        )


@dataclass(frozen=True)
class SweepAnalysis:
    """Everything the reports show about one sweep; renders never recompute it."""

    points: tuple[ScalingPoint, ...]
    usable_cores: int | None
    trend: KarpFlattTrend
    amdahl: AmdahlFit | NoFit
    usl: USLFit | NoFit
    projections: tuple[ModelProjection, ...] = field(default=())
    no_projection: str | None = None  # why counts beyond the measured ones are not projected

    @property
    def model(self) -> AmdahlFit | USLFit | None:
        """The model to draw and project with: USL when fitted, else Amdahl, else None."""
        if isinstance(self.usl, USLFit):
            return self.usl
        if isinstance(self.amdahl, AmdahlFit):
            return self.amdahl
        return None

    def summary(self) -> list[str]:
        """Sentences saying what was and was not fitted, for every report."""
        lines = [self.trend.sentence]
        for fit in (self.amdahl, self.usl):
            lines.append(fit.reason if isinstance(fit, NoFit) else fit.describe())
        lines.extend(projection.describe() for projection in self.projections)
        if self.no_projection is not None:
            lines.append(self.no_projection)
        return lines


def analyse(points: Sequence[ScalingPoint], usable_cores: int | None = None) -> SweepAnalysis:
    """Trend, fits and labelled projections for one sweep's points."""
    ordered = tuple(sorted(points, key=lambda p: (p.workers, p.workers_requested or 0)))
    amdahl: AmdahlFit | NoFit = fit_amdahl(ordered, usable_cores)
    usl: USLFit | NoFit = fit_usl(ordered, usable_cores)
    parallel = [p.speedup for p in fittable(ordered, usable_cores) if p.workers >= 2]
    if parallel and max(parallel) < 1:
        # Overhead swamps the work: neither law (both have S >= 1) can describe it.
        reason = (
            f"parallel runs are slower than serial at every usable count (best "
            f"{max(parallel):.3g}x): overhead dominates and the scaling laws do not apply."
        )
        if isinstance(amdahl, AmdahlFit):
            amdahl = NoFit("Amdahl", f"No Amdahl fit: {reason}")
        if isinstance(usl, USLFit):
            usl = NoFit("USL", f"No USL fit: {reason}")
    analysis = SweepAnalysis(
        ordered, usable_cores, karp_flatt_trend(ordered, usable_cores), amdahl, usl
    )
    model = analysis.model
    if model is None:
        return analysis
    measured = max(model.counts)
    wanted = {p.workers_requested or p.workers for p in ordered} | {p.workers for p in ordered}
    beyond = [count for count in sorted(wanted) if count > measured]
    if not beyond:
        return analysis
    outside = _outside_its_law(model)
    if outside is not None:
        counts = counts_text(beyond)
        return dataclasses.replace(
            analysis, no_projection=f"No projection to {counts} workers: {outside}."
        )
    projections = tuple(ModelProjection(n, model.predict(n), model.model) for n in beyond)
    return dataclasses.replace(analysis, projections=projections)


def _outside_its_law(model: AmdahlFit | USLFit) -> str | None:
    """Why a fitted model must not be projected from, or None when it may be."""
    if isinstance(model, AmdahlFit) and not 0 <= model.serial_fraction <= 1:
        return (
            f"the Amdahl serial fraction {model.serial_fraction:.3g} is outside [0, 1], "
            "so Amdahl's law does not describe this sweep"
        )
    if isinstance(model, USLFit) and not 0 <= model.sigma <= 1:
        return (
            f"the USL contention sigma {model.sigma:.3g} is outside [0, 1], "
            "so the USL does not describe this sweep"
        )
    return None


@dataclass(frozen=True)
class Sweep:
    """The records of one test on one backend at one item size, across worker counts."""

    test: str
    backend: str
    item_size: int | None
    records: tuple[Record, ...]

    @property
    def points(self) -> list[ScalingPoint]:
        return [point_from_record(record) for record in self.records]

    @property
    def requested_counts(self) -> list[int]:
        return sorted({r.workers_requested or r.workers for r in self.records})

    @property
    def label(self) -> str:
        parts = [self.test, self.backend]
        if self.item_size is not None:
            parts.append(format_size(self.item_size))
        return " · ".join(parts)


def group_sweeps(records: Iterable[Record]) -> list[Sweep]:
    """Group records by (test without the worker part, backend, item size).

    Order follows the first appearance of each group; records keep their order within
    a group.
    """
    groups: dict[tuple[str, str, int | None], list[Record]] = {}
    for record in records:
        key = (sweep_test_id(record), record.backend, record.item_size)
        groups.setdefault(key, []).append(record)
    return [
        Sweep(test, backend, size, tuple(rows)) for (test, backend, size), rows in groups.items()
    ]


def usable_cores_of(machine: Mapping[str, Any]) -> int | None:
    """The usable cores a results document's machine recorded, if it did."""
    value = machine.get("usable_cores")
    return int(value) if isinstance(value, (int, float)) and value > 0 else None


def analyse_records(
    records: Iterable[Record], usable_cores: int | None
) -> list[tuple[Sweep, SweepAnalysis]]:
    """Every sweep (two or more requested worker counts) among the records, analysed."""
    return [
        (sweep, analyse(sweep.points, usable_cores))
        for sweep in group_sweeps(records)
        if len(sweep.requested_counts) >= 2
    ]
