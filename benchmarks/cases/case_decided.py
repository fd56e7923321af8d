"""Decided rate (issue 15): clear cases on every backend, engines one after another.

Two modes, chosen by the harness through the environment:

- calibration (``BENCH_DECIDED_CALIBRATE=1``): the hand-timed speedup of the CPU
  workload per backend (interleaved serial and raw parallel rounds on the plugin's
  own warm executor), the "true" speedup the bars are computed from;
- judging: per backend a test whose bar is well under the true speedup (a clear
  pass) and one whose bar is well over it (a clear fail), from ``BENCH_DECIDED_BARS``.

Each judging test records the plugin's verdict (its JSON results), the wall time of
``parscale.map`` against the bare work (one serial and one parallel pass timed by
hand right after), and, as a second arm on the same executor, the verdict of the
engine with the capacity hooks of capacity.py (quiet wait, probe, disturbed-round
rejection), which the fixture does not pass yet.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
from hand import interleaved, map_against_bare, raw_map, speedup, write_side
from workloads import workload

from pytest_parscale import capacity, measure
from pytest_parscale.machine import usable_cores
from pytest_parscale.stats import ratio_of_medians_ci
from pytest_parscale.verdicts import Requirement

BACKENDS = os.environ.get("BENCH_DECIDED_BACKENDS", "pool,process,thread,ray,dask,celery")
CALIBRATE = os.environ.get("BENCH_DECIDED_CALIBRATE") == "1"
BARS: dict[str, dict[str, float]] = json.loads(os.environ.get("BENCH_DECIDED_BARS", "{}"))
HAND_ROUNDS = int(os.environ.get("BENCH_DECIDED_HAND_ROUNDS", "15"))
HOOKS = os.environ.get("BENCH_DECIDED_HOOKS", "1") == "1"


def _calibrate(parscale: Any) -> None:
    fn, items = workload("cpu")
    parallel, cleanup = raw_map(parscale.backend, parscale.executor, fn, items)
    serial_times, parallel_times = interleaved(
        lambda: [fn(item) for item in items], parallel, HAND_ROUNDS, cleanup
    )
    write_side(
        {
            "kind": "calibration",
            "backend": parscale.backend,
            "speedup": speedup(serial_times, parallel_times),
        }
    )


def _hooked_verdict(parscale: Any, bar: float) -> dict[str, Any]:
    """The engine with capacity hooks on the same executor, judged by the same rule."""
    fn, items = workload("cpu")
    parallel, cleanup = raw_map(parscale.backend, parscale.executor, fn, items)

    def parallel_run() -> Any:
        result = parallel()
        cleanup()
        return result

    cores = usable_cores()
    requirement = Requirement("speedup", bar, bar, True)

    def decided(samples: measure.Samples) -> bool:
        interval = ratio_of_medians_ci(samples.serial, samples.parallel)
        return requirement.judge(interval).value != "undecided"

    start = time.perf_counter()
    outcome = measure.run(
        lambda: [fn(item) for item in items],
        parallel_run,
        limits=measure.Limits(5, 100, 10.0),
        check=lambda reference, result: None,
        decided=decided,
        quiet=lambda: capacity.quiet_wait(5.0, cores=cores),
        probe=capacity.Probe(cores),
        reject=capacity.disturbed,
    )
    wall = time.perf_counter() - start
    interval = ratio_of_medians_ci(outcome.samples.serial, outcome.samples.parallel)
    known = [value for value in outcome.samples.capacity if value is not None]
    return {
        "hooked_verdict": requirement.judge(interval).value,
        "hooked_interval": [interval.estimate, interval.low, interval.high],
        "hooked_rounds": outcome.samples.rounds,
        "hooked_rejected": len(outcome.samples.rejected),
        "hooked_quiet_wait": outcome.quiet_wait_seconds,
        "hooked_wall": wall,
        "hooked_capacity_min": min(known) if known else None,
        "hooked_capacity_median": sorted(known)[len(known) // 2] if known else None,
    }


def _judge(parscale: Any, case: str, bar: float) -> None:
    wall, bare = map_against_bare(parscale, *workload("cpu"))
    entry = {
        "kind": "judged",
        "nodeid": parscale.nodeid,
        "backend": parscale.backend,
        "case": case,
        "bar": bar,
        "wall": wall,
        "bare": bare,
    }
    if HOOKS:
        entry.update(_hooked_verdict(parscale, bar))
    write_side(entry)


def _make(backend: str, case: str | None) -> Any:
    if case is None:

        @pytest.mark.parscale(backends=[backend], workers=2)
        def test(parscale: Any) -> None:
            _calibrate(parscale)

        return test
    bar = BARS[backend][case]

    @pytest.mark.speedup(min=bar, workers=2)
    @pytest.mark.parscale(backends=[backend])
    def test(parscale: Any) -> None:
        _judge(parscale, case, bar)

    return test


# Engines one after another in one session: every backend's tests, in this order.
for _backend in BACKENDS.split(","):
    if CALIBRATE:
        globals()[f"test_calibrate_{_backend}"] = _make(_backend, None)
    elif _backend in BARS:
        for _case in ("clear_pass", "clear_fail"):
            globals()[f"test_{_case}_{_backend}"] = _make(_backend, _case)
