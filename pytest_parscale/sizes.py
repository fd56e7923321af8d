"""Item sizes: parsing and formatting.

Decimal units (``KB`` = 1000 bytes, as in the serialisation-tax table of
docs/architecture.md) and binary units (``KiB`` = 1024 bytes) are both accepted;
formatting prefers the decimal form so ids read ``[pool-100KB]``.
"""

from __future__ import annotations

import re

_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(value: object) -> int:
    """Return the size in bytes of ``value`` (an int or a string such as ``"1KB"``).

    Raises ValueError with a sentence fit to follow the value in an error message.
    """
    if isinstance(value, bool):
        raise ValueError("is not an item size (expected bytes as an int or e.g. '10B', '1KB')")
    if isinstance(value, int):
        if value < 1:
            raise ValueError("is not a positive item size")
        return value
    if not isinstance(value, str):
        raise ValueError("is not an item size (expected bytes as an int or e.g. '10B', '1KB')")
    match = _SIZE_RE.match(value)
    if match is None or match.group(2).lower() not in _UNITS:
        raise ValueError(
            "is not an item size (expected e.g. '10B', '1KB', '100KB', '10MB', '4KiB')"
        )
    number = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if number < 1 or number != int(number):
        raise ValueError("is not a whole, positive number of bytes")
    return int(number)


def format_size(size: int) -> str:
    """Shortest exact decimal or binary label for ``size`` bytes (``1000`` -> ``1KB``)."""
    for unit, factor in (("GB", 1000**3), ("MB", 1000**2), ("KB", 1000)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


def approx_size(size: float) -> str:
    """Three significant figures in decimal units, for interpolated sizes (``~16.2KB``)."""
    for unit, factor in (("GB", 1000**3), ("MB", 1000**2), ("KB", 1000)):
        if size >= factor:
            return f"{size / factor:.3g}{unit}"
    return f"{size:.3g}B"
