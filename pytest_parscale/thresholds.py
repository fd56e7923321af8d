"""Regression thresholds (``--parscale-fail-on``): parsing and the one precedence rule.

Pure: the plugin, ``parscale compare`` and ``parscale ci`` all read thresholds here,
so a test's marker, the command line and the default layer the same way everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class FailOn:
    """Regression thresholds. ``None`` means "not said here" (inherit); ``inf`` is off.

    ``speedup`` is the relative drop of speedup per worker (0.10 = 10% lower);
    ``overhead`` the absolute rise of the transport share (0.05 = 5 percentage points).
    """

    speedup: float | None = None
    overhead: float | None = None

    # The one unit rule: speedup changes are relative (%), the transport share's
    # absolute, in percentage points (pp); every threshold and change is written so.
    UNITS: ClassVar[dict[str, str]] = {"speedup": "%", "overhead": "pp"}

    @staticmethod
    def unit(metric: str) -> str:
        """``%`` for speedup, ``pp`` for overhead (the transport share)."""
        return FailOn.UNITS[metric]

    @staticmethod
    def threshold_text(metric: str, value: float) -> str:
        """``10%``, ``5pp`` or ``off``: one threshold as --parscale-fail-on reads it."""
        return "off" if math.isinf(value) else f"{value * 100:.4g}{FailOn.unit(metric)}"

    def over(self, base: FailOn) -> FailOn:
        """These thresholds where said, ``base`` elsewhere (marker over CLI over default)."""
        return FailOn(
            self.speedup if self.speedup is not None else base.speedup,
            self.overhead if self.overhead is not None else base.overhead,
        )

    def __str__(self) -> str:
        """The canonical ``speedup:10%,overhead:5pp`` text, as parse_fail_on reads it."""
        return ",".join(
            f"{metric}:{self.threshold_text(metric, value)}"
            for metric, value in (("speedup", self.speedup), ("overhead", self.overhead))
            if value is not None
        )


DEFAULT_FAIL_ON = FailOn(speedup=0.10, overhead=0.05)
NOT_SAID = FailOn()


def parse_fail_on(text: str) -> FailOn:
    """Parse ``speedup:10%,overhead:5pp`` (either part optional, ``off`` disables).

    Raises ValueError with a phrase that reads after the value in an error message.
    """
    found: dict[str, float] = {}
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise ValueError("names no threshold (expected e.g. speedup:10%,overhead:5pp)")
    for part in parts:
        metric, sep, amount = (piece.strip().lower() for piece in part.partition(":"))
        if not sep or metric not in ("speedup", "overhead"):
            raise ValueError(
                f"has {part!r}; expected speedup:N% and/or overhead:Npp, e.g. speedup:10%"
            )
        if metric in found:
            raise ValueError(f"names {metric} twice")
        found[metric] = _amount(metric, amount)
    return FailOn(found.get("speedup"), found.get("overhead"))


def _amount(metric: str, amount: str) -> float:
    if amount in ("off", "none"):
        return math.inf
    unit = FailOn.unit(metric)
    if not amount.endswith(unit):
        raise ValueError(f"gives {metric} {amount!r}; write it as N{unit} (or off)")
    try:
        value = float(amount[: -len(unit)])
    except ValueError:
        raise ValueError(f"gives {metric} {amount!r}, which is not a number") from None
    if not 0 <= value < 100:
        raise ValueError(f"gives {metric} {amount!r}; it must be between 0{unit} and 100{unit}")
    return value / 100


def effective_fail_on(own: FailOn | str | None, session: FailOn = NOT_SAID) -> FailOn:
    """The complete thresholds for one test: its own (marker) > session (CLI/env/ini) > default.

    ``own`` may be the canonical text a results record keeps; every field of the
    result is set.
    """
    if isinstance(own, str):
        own = parse_fail_on(own) if own else None
    return (own or NOT_SAID).over(session).over(DEFAULT_FAIL_ON)
