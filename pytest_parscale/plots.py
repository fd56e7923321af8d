"""Pictures of scaling results, as PNG and SVG, through the optional ``plot`` extra.

matplotlib is imported inside the functions (never at plugin start-up) and drawn on
an Agg canvas owned by each figure, so no global pyplot state or display is touched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_parscale.errors import ParscaleError
from pytest_parscale.notewords import change_point_text
from pytest_parscale.scaling.crossover import SizeSeries
from pytest_parscale.scaling.fits import AmdahlFit, USLFit
from pytest_parscale.scaling.sweeps import Sweep, SweepAnalysis
from pytest_parscale.sizes import approx_size

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from pytest_parscale.changepoint import ScalingChange
    from pytest_parscale.results import Record

INSTALL_HINT = "pip install 'pytest-parscale[plot]'"
FORMATS = ("png", "svg")


class PlotUnavailable(ParscaleError, ImportError):
    """matplotlib is not installed; the message says how to get it."""


def require_matplotlib() -> None:
    """Raise PlotUnavailable naming the extra when matplotlib cannot be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise PlotUnavailable(f"plots need matplotlib: {INSTALL_HINT}") from error


def _figure() -> Figure:
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, base: Path) -> list[Path]:
    """Write ``base.png`` and ``base.svg``; SVG keeps text as text for searchability."""
    base.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix in FORMATS:
        path = base.with_suffix(f".{suffix}")
        metadata: dict[str, Any] = {"Date": None} if suffix == "svg" else {}
        figure.savefig(path, format=suffix, metadata=metadata)
        written.append(path)
    return written


def _error_bars(
    values: list[float], lows: list[float | None], highs: list[float | None]
) -> list[list[float]] | None:
    if any(low is None for low in lows) or any(high is None for high in highs):
        return None
    below = [
        max(value - low, 0.0) for value, low in zip(values, lows, strict=True) if low is not None
    ]
    above = [
        max(high - value, 0.0)
        for value, high in zip(values, highs, strict=True)
        if high is not None
    ]
    return [below, above]


def _draw_model(axes: Any, model: AmdahlFit | USLFit, right: float) -> None:
    """The fitted curve: solid over the measured counts, dashed as a projection to
    ``right``, and a USL fit's peak starred."""
    measured = max(model.counts)
    inside = _grid(1.0, float(measured))
    axes.plot(inside, [model.predict(n) for n in inside], color="C1", label=_model_label(model))
    if right > measured:
        beyond = _grid(float(measured), float(right))
        axes.plot(
            beyond,
            [model.predict(n) for n in beyond],
            color="C1",
            linestyle="--",
            label=f"{model.model} projection (not measured)",
        )
    if isinstance(model, USLFit) and model.peak_workers is not None:
        assert model.peak_speedup is not None
        axes.plot([model.peak_workers], [model.peak_speedup], marker="*", color="C3")
        axes.annotate(
            f"N* ≈ {model.peak_workers:.1f}",
            (model.peak_workers, model.peak_speedup),
            textcoords="offset points",
            xytext=(6, 6),
        )


def speedup_vs_workers(sweep: Sweep, analysis: SweepAnalysis, base: Path) -> list[Path]:
    """Measured speedup per worker count, the ideal line and the fitted model's curve.

    The model is drawn solid over the measured counts and dashed beyond them, where it
    is a projection; oversubscribed points are hollow and never fitted.
    """
    figure = _figure()
    axes = figure.add_subplot()
    points = analysis.points
    counts = [p.workers for p in points] + [p.workers_requested or p.workers for p in points]
    model = analysis.model
    right = float(max(counts))
    if isinstance(model, USLFit) and model.peak_workers is not None:
        right = max(right, min(model.peak_workers * 1.2, 4 * right))
    axes.plot([1, right], [1, right], color="0.6", linestyle=":", label="ideal (S = N)")
    for oversubscribed, marker_face, label in ((False, None, "measured"), (True, "none", None)):
        chosen = [p for p in points if p.oversubscribed == oversubscribed]
        if not chosen:
            continue
        values = [p.speedup for p in chosen]
        axes.errorbar(
            [p.workers for p in chosen],
            values,
            yerr=_error_bars(values, [p.low for p in chosen], [p.high for p in chosen]),
            fmt="o",
            color="C0",
            markerfacecolor=marker_face,
            capsize=3,
            label=label or "measured, oversubscribed (not fitted)",
        )
    if model is not None:
        _draw_model(axes, model, right)
    if analysis.usable_cores is not None and analysis.usable_cores < right:
        axes.axvline(analysis.usable_cores, color="0.4", linewidth=0.8)
        axes.annotate(
            f"usable cores = {analysis.usable_cores}",
            (analysis.usable_cores, 1.0),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize="small",
            color="0.3",
        )
    axes.set_xlabel("workers N")
    axes.set_ylabel("speedup S = T1 / TN")
    axes.set_xlim(left=0)
    axes.set_ylim(bottom=0)
    axes.set_title(_shorten(sweep.label), fontsize="medium", parse_math=False)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", loc="upper left")
    return _save(figure, base)


def speedup_vs_item_size(series: SizeSeries, base: Path) -> list[Path]:
    """Speedup against item size per backend on a log axis, with 1.0 and the crossovers.

    A crossover is drawn with its interval shaded, and only when it is determined:
    the same ``scaling.crossover`` the terminal and the HTML text print.
    """
    figure = _figure()
    axes = figure.add_subplot()
    axes.set_xscale("log")
    axes.axhline(1.0, color="0.4", linestyle=":", label="1.0x (break-even)")
    crossovers = series.crossovers()
    for index, (backend, points) in enumerate(sorted(series.lines.items())):
        color = f"C{index % 10}"
        sizes = [p.item_size for p in points]
        values = [p.speedup for p in points]
        axes.errorbar(
            sizes,
            values,
            yerr=_error_bars(values, [p.low for p in points], [p.high for p in points]),
            fmt="o-",
            color=color,
            capsize=3,
            label=backend,
        )
        crossing = crossovers[backend]
        found = crossing.item_size  # None unless determined (docs/scaling.md, "Crossover")
        if found is not None:
            axes.axvline(found, color=color, linestyle="--", linewidth=0.8)
            if crossing.low is not None and crossing.high is not None:
                axes.axvspan(crossing.low, crossing.high, color=color, alpha=0.12, linewidth=0)
            axes.annotate(
                f"crossover ≈ {approx_size(found)}",
                (found, 1.0),
                textcoords="offset points",
                xytext=(-4, -14 - 12 * index),
                horizontalalignment="right",
                fontsize="small",
                color=color,
            )
    axes.set_xlabel("item size (bytes, log scale)")
    axes.set_ylabel("speedup S = T1 / TN")
    if all(p.speedup > 0 for points in series.lines.values() for p in points):
        spread = [p.speedup for points in series.lines.values() for p in points]
        if max(spread) / min(spread) > 20:
            axes.set_yscale("log")
    axes.set_title(
        _shorten(f"{series.test} · {series.workers} workers"), fontsize="medium", parse_math=False
    )
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize="small", loc="best")  # up to six backends: where no line runs
    return _save(figure, base)


def _grid(start: float, stop: float, steps: int = 80) -> list[float]:
    if stop <= start:
        return [start]
    return [start + (stop - start) * i / steps for i in range(steps + 1)]


def _model_label(model: AmdahlFit | USLFit) -> str:
    if isinstance(model, USLFit):
        return f"USL fit (sigma {model.sigma:.3g}, kappa {model.kappa:.2g})"
    return f"Amdahl fit (serial fraction {model.serial_fraction:.3g})"


def _shorten(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def speedup_trend(
    title: str,
    runs: Sequence[tuple[str, Record]],
    change: tuple[int, ScalingChange] | None,
    base: Path,
) -> list[Path]:
    """One test's speedup with its interval over the runs of a history, oldest first.

    ``runs`` pairs a label (the short commit) with the run's record; ``change`` is
    the index in ``runs`` of the first run after a change point and the change, drawn
    as a dashed line before that run with the speedup level on each side
    (changepoint.py).
    """
    figure = _figure()
    axes = figure.add_subplot()
    positions = list(range(1, len(runs) + 1))
    values = [record.speedup.estimate for _, record in runs]
    lows: list[float | None] = [record.speedup.low for _, record in runs]
    highs: list[float | None] = [record.speedup.high for _, record in runs]
    finite = [(low, high) for low, high in zip(lows, highs, strict=True) if _finite(low, high)]
    axes.errorbar(
        positions,
        values,
        yerr=_error_bars(values, lows, highs) if len(finite) == len(runs) else None,
        fmt="o-",
        color="C0",
        capsize=3,
        label="speedup (interval)",
    )
    if change is not None:
        where, step = change
        # the sentence goes in the legend: an annotation would cross the title
        axes.axvline(
            where + 0.5, color="C3", linestyle="--", linewidth=1, label=change_point_text(step)
        )
        axes.plot([0.6, where + 0.5], [step.before] * 2, color="C3", linewidth=0.8)
        axes.plot([where + 0.5, len(runs) + 0.4], [step.after] * 2, color="C3", linewidth=0.8)
    axes.set_xticks(positions, [label for label, _ in runs], rotation=60, fontsize="x-small")
    axes.set_xlabel("run of the history (oldest first)")
    axes.set_ylabel("speedup S = T1 / TN")
    axes.set_ylim(bottom=0)
    axes.set_title(_shorten(title), fontsize="medium", parse_math=False)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small", loc="lower left")
    return _save(figure, base)


def _finite(low: float | None, high: float | None) -> bool:
    return low is not None and high is not None and math.isfinite(low) and math.isfinite(high)
