"""One measured test as a record, and the results document that holds them all."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_parscale.stats import Interval, median
from pytest_parscale.transport import SerialisationCost

SCHEMA_VERSION = 2


@dataclass(frozen=True)
class RequirementResult:
    """A bar's verdict and the interval that decided it.

    ``low``/``high`` bound the per-round ratios over every look of the engine
    (sequential.py); None where unbounded, or in files older than the rule.
    """

    metric: str
    threshold: float
    declared: float
    verdict: str
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Projection:
    """Amdahl projection to the asked worker count; always labelled as a projection."""

    workers: int
    speedup: float
    serial_fraction: float
    measured_workers: int


@dataclass(frozen=True)
class ChunkAdvice:
    """The ``len(items) // (4 * workers)`` chunksize rule timed against the one the test used."""

    chunksize: int | None
    suggested: int
    speedup: float
    speedup_suggested: float
    helps: bool


@dataclass(frozen=True)
class Capacity:
    """How much of the machine the measurement actually had, in cores.

    Saved so a run on a busier (or quieter) machine is reported as incomparable
    rather than judged as a regression (docs/results-format.md, "Machine capacity").
    """

    cores: float  # median cores the measurement had over its rounds, 0..usable
    low: float  # the lowest round
    usable: int
    rounds_rejected: int = 0  # rounds measured on a disturbed machine and left out
    quiet_wait_seconds: float = 0.0  # waited for the machine to be quiet before the test
    per_round: tuple[float, ...] = ()  # per kept round, in the order of the samples
    # median cores this process tree itself used over the kept rounds; None: not
    # measured (files before issue 21). A capacity loss excuses a regression only
    # when this did not fall (regression.excuse_by_capacity)
    own: float | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Capacity:
        values = {key: data[key] for key in _CAPACITY_FIELDS if key in data}
        values["per_round"] = tuple(data.get("per_round", ()))
        return cls(**values)


_CAPACITY_FIELDS = tuple(item.name for item in dataclasses.fields(Capacity))


@dataclass(frozen=True)
class Record:
    """One measured run, complete when built (record.build_record): never changed after.

    ``serialisation`` is typed here but lives under ``executor.serialisation`` in the
    results file (schema v1, docs/results-format.md); to_dict/from_dict move it.
    """

    nodeid: str
    backend: str
    kind: str
    workers_requested: int
    workers: int
    oversubscribed: bool
    item_size: int | None
    item_count: int | None
    chunksize: int | None
    serial: list[float]
    parallel: list[float]
    transport: list[float]
    speedup: Interval
    transport_share: Interval | None
    efficiency: float
    karp_flatt: float | None
    projection: Projection | None
    requirements: list[RequirementResult]
    verdict: str
    rounds: int
    elapsed: float
    warmup_seconds: float
    stop_reason: str
    executor: dict[str, Any]
    chunk_advice: ChunkAdvice | None = None
    warnings: list[str] = field(default_factory=list)
    fail_on: str | None = None  # the test's own baseline thresholds (parscale marker)
    serialisation: SerialisationCost | None = None
    capacity: Capacity | None = None  # None: not measured (schema v1, or no probe here)

    @property
    def sample_speedup(self) -> float:
        """median(serial) / median(parallel): the point value the comparisons judge."""
        return median(self.serial) / median(self.parallel)

    @property
    def speedup_per_worker(self) -> float:
        """The samples' speedup per worker used: runs on different worker counts compare
        on it (regression, history, paired)."""
        return self.sample_speedup / self.workers

    @property
    def sample_transport_share(self) -> float | None:
        """median(transport) / median(parallel), None where transport was not measured."""
        if not self.transport:
            return None
        return median(self.transport) / median(self.parallel)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = _finite(dataclasses.asdict(self))
        cost = data.pop("serialisation")
        if cost is not None:
            data["executor"] = {**data["executor"], "serialisation": cost}
        if data["capacity"] is not None and data["capacity"]["own"] is None:
            del data["capacity"]["own"]  # not measured: left out, as in older files
        # a verdict's bounds are left out where unbounded (and in files older than them)
        data["requirements"] = [
            {key: value for key, value in item.items() if value is not None}
            for item in data["requirements"]
        ]
        data["samples"] = {
            "serial": data.pop("serial"),
            "parallel": data.pop("parallel"),
            "transport": data.pop("transport"),
        }
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        """Inverse of ``to_dict`` for a record already checked against the schema."""
        values = {key: data[key] for key in _FIELDS if key in data}
        executor = dict(data["executor"])
        cost = executor.get("serialisation")
        if isinstance(cost, dict) and set(cost) == _COST_FIELDS:
            del executor["serialisation"]
            values["serialisation"] = SerialisationCost(**cost)
        values["executor"] = executor
        values.update(data["samples"])
        values["speedup"] = _interval(data["speedup"])
        if data.get("transport_share") is not None:
            values["transport_share"] = _interval(data["transport_share"])
        if data.get("projection") is not None:
            values["projection"] = Projection(**data["projection"])
        values["requirements"] = [RequirementResult(**item) for item in data["requirements"]]
        if data.get("chunk_advice") is not None:
            values["chunk_advice"] = ChunkAdvice(**data["chunk_advice"])
        if data.get("capacity") is not None:
            values["capacity"] = Capacity.from_dict(data["capacity"])
        return cls(**values)


_FIELDS = tuple(item.name for item in dataclasses.fields(Record))
_COST_FIELDS = {item.name for item in dataclasses.fields(SerialisationCost)}


def _interval(data: dict[str, Any]) -> Interval:
    """JSON null interval ends (one round) are infinite again."""
    low, high = data["low"], data["high"]
    return Interval(
        data["estimate"],
        -math.inf if low is None else low,
        math.inf if high is None else high,
        data["confidence"],
    )


def _finite(value: Any) -> Any:
    """Infinite interval ends (one round) become None: JSON has no infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def document(
    records: list[Record],
    machine: dict[str, Any],
    engines: list[dict[str, Any]],
    git: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The versioned results document (schema/results-v2.json, docs/results-format.md).

    ``errors``: measured tests that failed without a record (a result mismatch, a
    crash, a timeout), by test id, so a comparison can say "error on head" rather
    than "missing"; left out when there are none.
    """
    data = {
        "schema_version": SCHEMA_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git": git,
        "machine": machine,
        "engines": engines,
        "results": [record.to_dict() for record in records],
    }
    if errors:
        data["errors"] = [{"nodeid": nodeid, "message": text} for nodeid, text in errors.items()]
    return data


def write_atomic(path: Path, data: dict[str, Any], *, overwrite: bool = True) -> None:
    """Write JSON beside ``path`` then rename over it: readers never see half a file.

    With ``overwrite=False`` the temporary file is hard-linked into place instead,
    which fails with FileExistsError if ``path`` appeared meanwhile: no clobbering.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2, allow_nan=False)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        if overwrite:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    if not overwrite:
        Path(temporary).unlink(missing_ok=True)
