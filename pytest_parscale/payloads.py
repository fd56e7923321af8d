"""Deterministic items for ``parscale.payloads``: the same data on every run."""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable
from typing import Any


def payload_block(size: int, index: int) -> bytes:
    """Deterministic item ``index`` of ``size`` bytes (a rotating 0..255 pattern)."""
    return _pattern(size + 256)[index % 256 : index % 256 + size]


@functools.lru_cache(maxsize=8)
def _pattern(length: int) -> bytes:
    return (bytes(range(256)) * (length // 256 + 1))[:length]


KINDS = ("bytes", "ndarray", "dataframe")


def payload(kind: str, size: int, index: int) -> Any:
    """Deterministic item ``index`` of ``kind`` whose pickled size is about ``size``.

    bytes: ``size`` bytes (they pickle to ``size`` plus a few bytes of header).
    ndarray: a float64 vector; dataframe: an int64 ``key`` column of 10 groups and a
    float64 ``value`` column. Both are cut to the longest length whose pickle fits
    ``size``, so the transport model sees the size it was asked for. numpy and pandas
    are imported here only, when such a payload is asked for.
    """
    if kind == "bytes":
        return payload_block(size, index)
    if kind == "ndarray":
        return _sized(lambda length: _vector(length, index), size)
    if kind == "dataframe":
        return _sized(lambda length: _frame(length, index), size)
    raise ValueError(f"unknown payload kind {kind!r}: use one of {', '.join(KINDS)}")


def _vector(length: int, index: int) -> Any:
    import numpy

    return numpy.arange(length, dtype=numpy.float64) * 0.5 + index


def _frame(length: int, index: int) -> Any:
    import numpy
    import pandas

    rows = numpy.arange(length, dtype=numpy.int64)
    return pandas.DataFrame({"key": (rows * 7 + index) % 10, "value": rows * 0.25 + index})


def _sized(build: Callable[[int], Any], size: int) -> Any:
    """The largest ``build(length)`` whose pickle is at most ``size`` (pickle size is
    linear in the length: two probes find the slope, one step corrects rounding)."""
    empty = len(pickle.dumps(build(0), protocol=pickle.HIGHEST_PROTOCOL))
    per_item = len(pickle.dumps(build(64), protocol=pickle.HIGHEST_PROTOCOL)) - empty
    length = max(0, (size - empty) * 64 // max(per_item, 1))
    value = build(length)
    while length > 0 and len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)) > size:
        length -= 1
        value = build(length)
    return value
