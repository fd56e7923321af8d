"""Synthetic records for the baseline tests: samples chosen by hand, no clock."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pytest_parscale.results import Record, RequirementResult
from pytest_parscale.stats import Interval, ratio_of_medians_ci


def record(
    nodeid: str = "test_x.py::test_scales[pool]",
    *,
    serial: Sequence[float] = (2.0, 2.02, 1.98, 2.01, 1.99, 2.0),
    parallel: Sequence[float] = (1.0, 1.01, 0.99, 1.0, 1.02, 0.98),
    transport: Sequence[float] = (),
    workers: int = 2,
    fail_on: str | None = None,
) -> Record:
    """A record whose speedup and transport share intervals agree with its samples."""
    speedup = ratio_of_medians_ci(serial, parallel)
    share = ratio_of_medians_ci(transport, parallel) if transport else None
    return Record(
        nodeid=nodeid,
        backend="pool",
        kind="map",
        workers_requested=workers,
        workers=workers,
        oversubscribed=False,
        item_size=1000,
        item_count=64,
        chunksize=8,
        serial=list(serial),
        parallel=list(parallel),
        transport=list(transport),
        speedup=speedup,
        transport_share=share,
        efficiency=speedup.estimate / workers,
        karp_flatt=None,
        projection=None,
        requirements=[RequirementResult("speedup", 1.5, 1.5, "pass")],
        verdict="pass",
        rounds=len(parallel),
        elapsed=sum(serial) + sum(parallel) + sum(transport),
        warmup_seconds=0.5,
        stop_reason="decided",
        executor={"backend": "pool", "start_method": "fork"},
        fail_on=fail_on,
    )


def at_speedup(
    nodeid: str,
    speedup: float,
    parallel: Sequence[float],
    *,
    transport: float | None = None,
    workers: int = 2,
) -> Record:
    """A record whose every round has the same ``speedup`` (serial = parallel * speedup),
    and the same transport share when given: as tight as the ``parallel`` rounds."""
    return record(
        nodeid,
        serial=[value * speedup for value in parallel],
        parallel=parallel,
        transport=[value * transport for value in parallel] if transport is not None else (),
        workers=workers,
    )


def measured(
    nodeid: str,
    backend: str,
    workers: int,
    speedup: float,
    *,
    item_size: int | None = None,
    low: float | None = None,
    high: float | None = None,
    oversubscribed: bool = False,
    workers_requested: int | None = None,
    transport_share: Interval | None = None,
) -> Record:
    """A record with a chosen speedup and interval (default +-5%), samples to match."""
    serial = [0.2] * 5
    parallel = [0.2 / speedup] * 5
    interval = Interval(
        speedup,
        speedup * 0.95 if low is None else low,
        speedup * 1.05 if high is None else high,
        0.95,
    )
    return Record(
        nodeid=nodeid,
        backend=backend,
        kind="map",
        workers_requested=workers if workers_requested is None else workers_requested,
        workers=workers,
        oversubscribed=oversubscribed,
        item_size=item_size,
        item_count=64,
        chunksize=None,
        serial=serial,
        parallel=parallel,
        transport=[],
        speedup=interval,
        transport_share=transport_share,
        efficiency=speedup / workers,
        karp_flatt=None,
        projection=None,
        requirements=[],
        verdict="pass",
        rounds=len(parallel),
        elapsed=sum(serial) + sum(parallel),
        warmup_seconds=0.1,
        stop_reason="decided",
        executor={"backend": backend},
    )


def scaled(base: Record, factor: float, nodeid: str | None = None) -> Record:
    """``base`` with its serial samples multiplied: the speedup grows by ``factor``."""
    return record(
        nodeid or base.nodeid,
        serial=[value * factor for value in base.serial],
        parallel=base.parallel,
        transport=base.transport,
        workers=base.workers,
    )


MACHINE: dict[str, Any] = {
    "usable_cores": 2,
    "cpu_count": 2,
    "affinity": 2,
    "cgroup_cpu_quota": None,
    "load_average": [0.5, 0.4, 0.3],
    "cpu_model": "Synthetic CPU",
    "platform": "Linux-6.1-x86_64",
    "python": "3.11.7",
    "python_implementation": "CPython",
    "start_method": "fork",
    "hostname": "ci",
}
