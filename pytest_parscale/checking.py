"""Whether the parallel run returned what the serial reference did.

Used by ``parscale.map`` (item by item) and ``parscale.measure`` (whole results).
Results of the data types people parallelise compare with their libraries' own
rules: pandas frames, series and indexes with ``pandas.testing``, numpy arrays with
``numpy.array_equal(equal_nan=True)`` plus dtype and shape. Floats compare exactly
unless a tolerance is given; NaN equals NaN (both runs computed the same NaN).
pandas and numpy are imported only when such a value appears.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_parscale.errors import ConfigError, ResultMismatch


@dataclass(frozen=True)
class Tolerance:
    """How far a parallel float may be from the serial one: ``|a - b| <= abs + rel * |b|``."""

    rel: float = 0.0
    abs: float = 0.0


# What ``check=`` accepts on ``map`` and ``measure``: True (exact), False (none), a
# predicate ``(serial, parallel) -> bool``, or a tolerance ``{"rel": .., "abs": ..}``.
Check = bool | Callable[[Any, Any], bool] | Mapping[str, float]


def tolerance_of(check: Mapping[str, float], where: str) -> Tolerance:
    """The Tolerance a ``check={"rel": .., "abs": ..}`` asks for; ConfigError otherwise."""
    unknown = sorted(set(check) - {"rel", "abs"})
    if unknown:
        raise ConfigError(where, dict(check), f"has unknown keys {unknown}: use rel= and abs=")
    values: dict[str, float] = {}
    for key in ("rel", "abs"):
        value = check.get(key, 0.0)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise ConfigError(f"{where} {key}", value, "is not a finite number >= 0")
        values[key] = float(value)
    return Tolerance(**values)


def _module(value: Any) -> str:
    return type(value).__module__.split(".", 1)[0]


def difference(expected: Any, got: Any, tolerance: Tolerance | None = None) -> str | None:
    """Where ``got`` differs from ``expected``, in words; None when they agree.

    Plain values (and containers whose differing leaf is plain) read as
    ``serial X != parallel Y``; a differing frame or array inside a container is
    named by its path and its first differing position.
    """
    found = _locate(expected, got, tolerance)
    if found is None:
        return None
    message, detailed = found
    return message if detailed else f"serial {short(expected)} != parallel {short(got)}"


def _locate(expected: Any, got: Any, tolerance: Tolerance | None) -> tuple[str, bool] | None:
    """(what differs, whether it is a frame/array detail) or None when equal."""
    if _module(expected) == "pandas" or _module(got) == "pandas":
        return _detail(_pandas_difference(expected, got, tolerance))
    if _module(expected) == "numpy" or _module(got) == "numpy":
        detailed = isinstance(expected, _ndarray_type()) or isinstance(got, _ndarray_type())
        message = _numpy_difference(expected, got, tolerance)
        return None if message is None else (message, detailed)
    if isinstance(expected, float) or isinstance(got, float):
        message = _float_difference(expected, got, tolerance)
        return None if message is None else (message, False)
    if isinstance(expected, Mapping) and isinstance(got, Mapping):
        if set(expected) != set(got):
            return f"keys {sorted(map(repr, expected))} != {sorted(map(repr, got))}", False
        return _first_inner(((key, expected[key], got[key]) for key in expected), tolerance)
    if isinstance(expected, list | tuple) and isinstance(got, list | tuple):
        if type(expected) is not type(got) or len(expected) != len(got):
            return f"{short(expected)} != {short(got)}", False
        return _first_inner(
            (
                (index, left, right)
                for index, (left, right) in enumerate(zip(expected, got, strict=True))
            ),
            tolerance,
        )
    try:
        same = bool(expected == got)
    except (ValueError, TypeError):  # another array-like: compare element-wise
        same = bool((expected == got).all())
    return None if same else (f"{short(expected)} != {short(got)}", False)


def _first_inner(
    pairs: Iterable[tuple[Any, Any, Any]], tolerance: Tolerance | None
) -> tuple[str, bool] | None:
    for key, left, right in pairs:
        found = _locate(left, right, tolerance)
        if found is not None:
            message, detailed = found
            return f"[{key!r}]: {message}", detailed
    return None


def _detail(message: str | None) -> tuple[str, bool] | None:
    return None if message is None else (message, True)


def _ndarray_type() -> type:
    import numpy

    return numpy.ndarray


def _float_difference(expected: Any, got: Any, tolerance: Tolerance | None) -> str | None:
    if not isinstance(expected, int | float) or not isinstance(got, int | float):
        return f"{short(expected)} != {short(got)}"
    if math.isnan(expected) and math.isnan(got):
        return None
    if tolerance is None:
        same = expected == got
    else:
        same = abs(expected - got) <= tolerance.abs + tolerance.rel * abs(expected)
    return None if same else f"{expected!r} != {got!r}"


def _numpy_difference(expected: Any, got: Any, tolerance: Tolerance | None) -> str | None:
    import numpy

    if isinstance(expected, numpy.generic) and isinstance(got, numpy.generic | int | float):
        return _float_difference(expected.item(), got, tolerance)
    if not isinstance(expected, numpy.ndarray) or not isinstance(got, numpy.ndarray):
        return f"{type(expected).__name__} != {type(got).__name__}: {short(got)}"
    if expected.shape != got.shape:
        return f"shape {expected.shape} != {got.shape}"
    if expected.dtype != got.dtype:
        return f"dtype {expected.dtype} != {got.dtype}"
    numeric = expected.dtype.kind in "fc"
    if tolerance is None or not numeric:
        if numpy.array_equal(expected, got, equal_nan=numeric):
            return None
        close = expected == got
        if numeric:
            close |= numpy.isnan(expected) & numpy.isnan(got)
    else:
        close = numpy.isclose(got, expected, rtol=tolerance.rel, atol=tolerance.abs, equal_nan=True)
        if close.all():
            return None
    position = tuple(int(i) for i in numpy.argwhere(~numpy.asarray(close))[0])
    return f"ndarray at {list(position)}: {expected[position].item()!r} != {got[position].item()!r}"


def _pandas_difference(expected: Any, got: Any, tolerance: Tolerance | None) -> str | None:
    import pandas
    import pandas.testing

    assertions: list[tuple[type, Callable[..., None]]] = [
        (pandas.DataFrame, pandas.testing.assert_frame_equal),
        (pandas.Series, pandas.testing.assert_series_equal),
        (pandas.Index, pandas.testing.assert_index_equal),
    ]
    matching = [pair for pair in assertions if isinstance(expected, pair[0])]
    if not matching or not isinstance(got, matching[0][0]):
        return f"{type(expected).__name__} != {type(got).__name__}: {short(got)}"
    assert_equal = matching[0][1]
    options: dict[str, Any] = {"check_exact": tolerance is None}
    if tolerance is not None:
        options.update(rtol=tolerance.rel, atol=tolerance.abs)
    try:
        assert_equal(expected, got, **options)
    except AssertionError as error:
        summary = " ".join(str(error).split())
        same_shape = getattr(expected, "shape", None) == getattr(got, "shape", None)
        where = _first_cell(expected, got) if same_shape else None
        name = type(expected).__name__
        return f"{name}{' ' + where if where else ''}: {summary[:160]}"
    return None


def _first_cell(expected: Any, got: Any) -> str | None:
    """``iloc[row, column]`` of the first differing cell (NaN equals NaN), if any."""
    import numpy
    import pandas

    left, right = numpy.asarray(expected, dtype=object), numpy.asarray(got, dtype=object)
    try:  # vectorised first: a frame of a million cells
        differ = numpy.asarray(left != right, dtype=bool) & ~(
            pandas.isna(left) & pandas.isna(right)
        )
        candidates = [tuple(int(i) for i in found) for found in numpy.argwhere(differ)[:1]]
    except (TypeError, ValueError):  # pandas.NA has no truth value: cell by cell
        candidates = list(numpy.ndindex(left.shape))
    for position in candidates:
        a, b = left[position], right[position]
        if not _same_cell(a, b):
            return f"at iloc{list(position)}: {a!r} != {b!r}"
    return None


def _same_cell(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return _float_difference(a, b, None) is None
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # pandas.NA and other values without a truth
        return a is b


def equal(left: Any, right: Any) -> bool:
    """``left`` and ``right`` agree by the rules above, exactly."""
    return difference(left, right) is None


def comparer(check: Check, where: str) -> Callable[[Any, Any], str | None]:
    """What ``check=`` asks for, as ``(serial, parallel) -> difference or None``.

    A bad ``check`` fails here, before anything runs, naming ``where`` it was given.
    """
    if check is True:
        return difference
    if check is False:
        return lambda expected, got: None
    if isinstance(check, Mapping):
        tolerance = tolerance_of(check, where)
        return lambda expected, got: difference(expected, got, tolerance)
    if callable(check):
        predicate = check

        def by_predicate(expected: Any, got: Any) -> str | None:
            if predicate(expected, got):
                return None
            return f"serial {short(expected)} != parallel {short(got)}"

        return by_predicate
    raise ConfigError(where, check, "is not True, False, a predicate or {'rel': .., 'abs': ..}")


def check_lists(
    reference: Sequence[Any],
    result: Sequence[Any],
    compare: Callable[[Any, Any], str | None] = difference,
) -> None:
    """Raise ResultMismatch naming the first item whose parallel result differs."""
    if len(reference) != len(result):
        raise ResultMismatch(
            f"the parallel run returned {len(result)} results for {len(reference)} items"
        )
    for index, (expected, got) in enumerate(zip(reference, result, strict=False)):
        found = compare(expected, got)
        if found is not None:
            raise ResultMismatch(f"result {index} differs: {found}")


def check_whole(
    reference: Any, result: Any, compare: Callable[[Any, Any], str | None] = difference
) -> None:
    """Raise ResultMismatch when ``measure``'s serial and parallel results differ."""
    found = compare(reference, result)
    if found is not None:
        raise ResultMismatch(f"serial and parallel results differ: {found}")


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
