"""The argparse types every command shares: one rule per kind of value.

Each refuses a bad value by naming it, and the input it came from when a command
reads named inputs (the Action's ``confirm-budget``); otherwise argparse names the
option. An ``empty`` default stands for an input given as "" (an Action input left
blank).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from pytest_parscale.thresholds import FailOn, parse_fail_on


def _refusal(text: str, what: str, name: str | None) -> argparse.ArgumentTypeError:
    if name is None:
        return argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return argparse.ArgumentTypeError(f"{name} must be {what}, got {text!r}")


def whole_number(minimum: int, name: str | None = None) -> Callable[[str], int]:
    """A whole number of at least ``minimum``."""
    what = f"a whole number >= {minimum}"

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise _refusal(text, what, name) from None
        if value < minimum:
            raise _refusal(text, what, name)
        return value

    return parse


def seconds(name: str | None = None, empty: float | None = None) -> Callable[[str], float]:
    """A number of seconds above 0; ``empty`` for a blank input, when given."""
    what = "a number of seconds > 0"

    def parse(text: str) -> float:
        if not text.strip() and empty is not None:
            return empty
        try:
            value = float(text)
        except ValueError:
            raise _refusal(text, what, name) from None
        if not value > 0:  # also refuses nan
            raise _refusal(text, what, name)
        return value

    return parse


def fraction(text: str) -> float:
    """A confidence: strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise _refusal(text, "a fraction between 0 and 1", None) from None
    if not 0 < value < 1:
        raise _refusal(text, "a fraction between 0 and 1", None)
    return value


def true_false(name: str) -> Callable[[str], bool]:
    """An input that is ``true`` or ``false`` (blank: true)."""

    def parse(text: str) -> bool:
        value = text.strip().lower() or "true"
        if value not in ("true", "false"):
            raise _refusal(text, "true or false", name)
        return value == "true"

    return parse


def fail_on(text: str) -> FailOn:
    """A ``--fail-on`` spec (thresholds.parse_fail_on), its own error beside the value."""
    try:
        return parse_fail_on(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} {error}") from None
