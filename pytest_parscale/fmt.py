"""How numbers look in every report: ratios, seconds, intervals, percentages, short ids.

One module so the terminal table, the comparison report and the HTML page print the
same figure the same way. Pure and light: no pytest, no numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_parscale.results import Capacity
    from pytest_parscale.stats import Interval

#: What an interval end that is not a number (one round: infinite) prints as.
UNKNOWN = "?"


def ratio(value: float) -> str:
    """Speedups keep two decimals, or three significant figures below 0.1."""
    if not math.isfinite(value):
        return UNKNOWN
    return f"{value:.3g}" if abs(value) < 0.1 else f"{value:.2f}"


def speedup(value: float) -> str:
    """A speedup with its unit: ``1.62x``, ``0.0473x``."""
    return f"{ratio(value)}x"


def fraction(value: float) -> str:
    """A share as a fraction with two decimals: ``0.64`` (``?`` where unbounded)."""
    return f"{value:.2f}" if math.isfinite(value) else UNKNOWN


def seconds(value: float) -> str:
    """Human duration with three significant figures."""
    if not math.isfinite(value):
        return UNKNOWN
    if value < 1e-3:
        return f"{value * 1e6:.3g}us"
    if value < 1:
        return f"{value * 1e3:.3g}ms"
    return f"{value:.3g}s" if value < 1000 else f"{value:.0f}s"  # 1351s, not 1.35e+03s


def percent(value: float) -> str:
    """A fraction as a whole percentage: ``0.64`` -> ``64%``."""
    return f"{value:.0%}" if math.isfinite(value) else UNKNOWN


def speedup_interval(interval: Interval) -> str:
    """``1.62x [1.50, 1.75]``; an end a single round cannot bound prints as ``?``."""
    return f"{speedup(interval.estimate)} [{ratio(interval.low)}, {ratio(interval.high)}]"


def interval_of(estimate: float, low: float | None, high: float | None) -> str:
    """A speedup with its ends when both are known: ``1.62x [1.50, 1.75]`` or ``1.62x``."""
    text = speedup(estimate)
    if low is not None and high is not None:
        text += f" [{ratio(low)}, {ratio(high)}]"
    return text


def percent_interval(interval: Interval) -> str:
    """``64% [9%, 92%]`` for a share or any other fraction."""
    return f"{percent(interval.estimate)} [{percent(interval.low)}, {percent(interval.high)}]"


def clipped_percent(interval: Interval, low: float = 0.0, high: float = 1.0) -> str:
    """A fraction clipped to where it means something, with the raw interval if it strays.

    A transport share or an efficiency above 100% (or below 0) is noise of the ratio,
    not a measurement; the clipped figures come first and the raw interval after them,
    so nothing is hidden: ``64% [9%, 100%] (raw 64% [9%, 242%])`` (docs/scaling.md).
    A raw figure that prints the same (100.4% is ``100%``) is not repeated.
    """
    ends = (interval.estimate, interval.low, interval.high)
    if all(math.isfinite(end) and low <= end <= high for end in ends):
        return percent_interval(interval)
    clipped = [min(max(end, low), high) if not math.isnan(end) else math.nan for end in ends]
    shown = f"{percent(clipped[0])} [{percent(clipped[1])}, {percent(clipped[2])}]"
    raw = percent_interval(interval)
    return shown if raw == shown else f"{shown} (raw {raw})"


def clipped_fraction(value: float, low: float = 0.0, high: float = 1.0) -> str:
    """A single fraction clipped to [low, high], with the raw value when it strays."""
    clipped = min(max(value, low), high) if math.isfinite(value) else math.nan
    shown, raw = percent(clipped), percent(value)
    return shown if raw == shown else f"{shown} (raw {raw})"


def signed_interval(change: float, low: float, high: float, unit: str) -> str:
    """A relative change with its interval, in percent or points: ``-32% [-36%, -28%]``."""

    def one(value: float) -> str:
        return f"{value * 100:+.0f}{unit}" if math.isfinite(value) else UNKNOWN

    return f"{one(change)} [{one(low)}, {one(high)}]"


def capacity(measured: Capacity | None) -> str:
    """The cores a measurement had, for a table cell: ``1.9/2``, or ``-`` if not measured."""
    if measured is None:
        return "-"
    return f"{measured.cores:.1f}/{measured.usable}"


def capacity_words(measured: Capacity) -> str:
    """The same in a sentence: ``1.4 of 2``."""
    return f"{measured.cores:.1f} of {measured.usable}"


def short_id(nodeid: str) -> str:
    """The test id without its file: ``test_a[pool-2]`` for ``tests/t.py::test_a[pool-2]``."""
    return nodeid.split("::", 1)[-1]


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


#: What a table cell with nothing to show (no item size, no transport samples) prints as.
NONE = "-"


def workers(used: int, asked: int, oversubscribed: bool) -> str:
    """Workers used of those asked for: ``2/2``; ``2/4`` capped at the usable cores;
    ``8/8!`` when more workers ran than there are usable cores (oversubscribed)."""
    return f"{used}/{asked}" + ("!" if oversubscribed else "")


def cpus(value: float) -> str:
    """A CPU count that may be fractional (a cgroup quota): ``1.5 CPUs``, ``2 CPUs``."""
    return f"{value:g} CPU" if value == 1 else f"{value:g} CPUs"


def load_average(values: Sequence[float]) -> str:
    """``1.83, 1.29 and 0.69`` for the 1, 5 and 15 minute load averages."""
    shown = [f"{value:.2f}" for value in values]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
