"""The three markers: their signatures, validation and parsed forms.

Validation happens at collection so a typo fails before any executor starts; every
error names the test, the marker, the argument and the value.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_parscale.backends.base import BACKENDS
from pytest_parscale.config import OPTIONS_BY_NAME, PER_TEST_SETTINGS, parse_option
from pytest_parscale.errors import ConfigError
from pytest_parscale.sizes import parse_size

# The parscale marker's arguments: where a test runs, then every per-test setting.
PARSCALE_ARGUMENTS = ("backends", "item_sizes", "workers", *PER_TEST_SETTINGS)

MARKER_HELP = {
    "speedup": "speedup(min, workers=None, *, from_size=None): fail when the measured "
    "speedup is confidently below min",
    "overhead": "overhead(max, workers=None): fail when the transport share of the "
    "parallel time is confidently above max (0 < max < 1)",
    "parscale": "parscale(*, "
    + ", ".join(f"{name}=None" for name in PARSCALE_ARGUMENTS)
    + "): where and how a parscale test is measured (workers: an int, or a list for a sweep)",
}


@dataclass(frozen=True)
class SpeedupSpec:
    min: float
    workers: int | None = None
    from_size: int | None = None


@dataclass(frozen=True)
class OverheadSpec:
    max: float
    workers: int | None = None


@dataclass(frozen=True)
class ParscaleSpec:
    backends: tuple[str, ...] | None = None
    item_sizes: tuple[int, ...] | None = None
    workers: int | None = None
    settings: Mapping[str, Any] | None = None
    # workers=[1, 2, 4]: one run per count (a scaling sweep)
    sweep: tuple[int, ...] | None = None


def _speedup_signature(min: Any, workers: Any = None, *, from_size: Any = None) -> None: ...


def _overhead_signature(max: Any, workers: Any = None) -> None: ...


_PARSCALE_SIGNATURE = inspect.Signature(
    [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None)
        for name in PARSCALE_ARGUMENTS
    ]
)


def _bind(
    signature_of: Any, marker: str, where: str, args: Sequence[Any], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    signature = (
        signature_of
        if isinstance(signature_of, inspect.Signature)
        else inspect.signature(signature_of)
    )
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as error:
        raise ConfigError(
            f"{where}: @pytest.mark.{marker}", _call_text(args, kwargs), str(error)
        ) from None
    bound.apply_defaults()
    return dict(bound.arguments)


def _call_text(args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    parts = [repr(arg) for arg in args] + [f"{key}={value!r}" for key, value in kwargs.items()]
    return "(" + ", ".join(parts) + ")"


def _number(value: Any, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(source, value, "is not a number")
    if not value > 0 or value == float("inf"):
        raise ConfigError(source, value, "must be a finite number > 0")
    return float(value)


def _workers(value: Any, source: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(source, value, "is not a whole number of workers")
    if value < 1:
        raise ConfigError(source, value, "must be at least 1 worker")
    return value


def _size(value: Any, source: str) -> int:
    try:
        return parse_size(value)
    except ValueError as error:
        raise ConfigError(source, value, str(error)) from None


def _sequence(value: Any, source: str) -> Sequence[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        if isinstance(value, str):
            return [value]
        raise ConfigError(source, value, "is not a list")
    if not value:
        raise ConfigError(source, value, "is empty")
    return value


def check_backends(names: Sequence[Any], source: str) -> tuple[str, ...]:
    """Validate backend names against the registry; duplicates are dropped in order."""
    checked: list[str] = []
    for name in names:
        if name not in BACKENDS:
            raise ConfigError(source, name, f"is not a backend (known: {', '.join(BACKENDS)})")
        if name not in checked:
            checked.append(name)
    return tuple(checked)


def parse_speedup(args: Sequence[Any], kwargs: Mapping[str, Any], where: str) -> SpeedupSpec:
    values = _bind(_speedup_signature, "speedup", where, args, kwargs)
    prefix = f"{where}: @pytest.mark.speedup argument"
    minimum = _number(values["min"], f"{prefix} min")
    workers = _workers(values["workers"], f"{prefix} workers")
    from_size = values["from_size"]
    size = None if from_size is None else _size(from_size, f"{prefix} from_size")
    return SpeedupSpec(minimum, workers, size)


def parse_overhead(args: Sequence[Any], kwargs: Mapping[str, Any], where: str) -> OverheadSpec:
    values = _bind(_overhead_signature, "overhead", where, args, kwargs)
    prefix = f"{where}: @pytest.mark.overhead argument"
    maximum = _number(values["max"], f"{prefix} max")
    if maximum >= 1:
        raise ConfigError(f"{prefix} max", values["max"], "must be a fraction between 0 and 1")
    return OverheadSpec(maximum, _workers(values["workers"], f"{prefix} workers"))


def parse_parscale(args: Sequence[Any], kwargs: Mapping[str, Any], where: str) -> ParscaleSpec:
    values = _bind(_PARSCALE_SIGNATURE, "parscale", where, args, kwargs)
    prefix = f"{where}: @pytest.mark.parscale argument"
    backends = None
    if values["backends"] is not None:
        source = f"{prefix} backends"
        backends = check_backends(_sequence(values["backends"], source), source)
    sizes = None
    if values["item_sizes"] is not None:
        source = f"{prefix} item_sizes"
        sizes = tuple(_size(size, source) for size in _sequence(values["item_sizes"], source))
    settings: dict[str, Any] = {}
    for name in PER_TEST_SETTINGS:
        value = values[name]
        if value is None:
            continue
        if isinstance(value, bool) and name != "strict":
            raise ConfigError(f"{prefix} {name}", value, "is not a number")
        if not isinstance(value, (str, int, float)):
            raise ConfigError(f"{prefix} {name}", value, "has the wrong type")
        settings[name] = parse_option(OPTIONS_BY_NAME[name], str(value), f"{prefix} {name}")
    workers, sweep = values["workers"], None
    if isinstance(workers, (list, tuple)):
        source = f"{prefix} workers"
        counts = [_workers(count, source) for count in _sequence(workers, source)]
        sweep = tuple(sorted({count for count in counts if count is not None}))
        workers = None
    else:
        workers = _workers(workers, f"{prefix} workers")
    return ParscaleSpec(backends, sizes, workers, settings, sweep)


@dataclass(frozen=True)
class MarkSpec:
    """Everything the markers of one test say, merged."""

    speedup: SpeedupSpec | None
    overhead: OverheadSpec | None
    parscale: ParscaleSpec

    @property
    def workers(self) -> int | None:
        return next(
            (
                spec.workers
                for spec in (self.speedup, self.overhead, self.parscale)
                if spec is not None and spec.workers is not None
            ),
            None,
        )


def merge(
    speedup: SpeedupSpec | None,
    overhead: OverheadSpec | None,
    parscale: ParscaleSpec | None,
    where: str,
) -> MarkSpec:
    """Combine the markers; they must agree on one worker count."""
    counts = {
        name: spec.workers
        for name, spec in (("speedup", speedup), ("overhead", overhead), ("parscale", parscale))
        if spec is not None and spec.workers is not None
    }
    if len(set(counts.values())) > 1:
        said = ", ".join(f"{name}(workers={count})" for name, count in counts.items())
        raise ConfigError(f"{where}: markers", said, "disagree on the worker count")
    sweep = parscale.sweep if parscale is not None else None
    if sweep is not None and counts and next(iter(counts.values())) not in sweep:
        said = ", ".join(f"{name}(workers={count})" for name, count in counts.items())
        raise ConfigError(f"{where}: markers", said, f"is not in the sweep workers={list(sweep)}")
    return MarkSpec(speedup, overhead, parscale or ParscaleSpec())


NO_MARKS = MarkSpec(None, None, ParscaleSpec())


def spec_of(node: Any, nodeid: str) -> MarkSpec:
    """Parse and merge the markers closest to ``node`` (a pytest item or definition).

    Called once per test, at collection; the result travels on each ParscaleParam.
    ConfigError names the test.
    """
    where = f"test {nodeid}"
    speedup = node.get_closest_marker("speedup")
    overhead = node.get_closest_marker("overhead")
    parscale = node.get_closest_marker("parscale")
    return merge(
        parse_speedup(speedup.args, speedup.kwargs, where) if speedup else None,
        parse_overhead(overhead.args, overhead.kwargs, where) if overhead else None,
        parse_parscale(parscale.args, parscale.kwargs, where) if parscale else None,
        where,
    )
