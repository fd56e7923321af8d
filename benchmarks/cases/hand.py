"""Hand-written references: the raw executor call a user would write, timed by hand.

Each raw map is the backend's own API on the engine object the plugin exposes
(``parscale.executor``), so the reference runs on the same warm executor with the
same default chunking, but none of the plugin's code sits between the clock and
the call.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_parscale.stats import median

Run = Callable[[], Any]


def _nothing() -> None:
    return None


def raw_map(
    backend: str, engine: Any, fn: Callable[[Any], Any], items: list[Any]
) -> tuple[Run, Run]:
    """(the backend's plain map of fn over items, an untimed clean-up after each call)."""
    if backend == "pool":
        return (lambda: engine.map(fn, items)), _nothing
    if backend in ("process", "thread"):
        return (lambda: list(engine.map(fn, items))), _nothing
    if backend == "ray":
        remote = engine.remote(max_retries=0)(fn)
        return (lambda: engine.get([remote.remote(item) for item in items])), _nothing
    if backend == "dask":
        return (lambda: engine.gather(engine.map(fn, items, pure=False))), _nothing
    if backend == "celery":
        return _celery_map(engine, fn, items)
    raise ValueError(f"no hand reference for backend {backend!r}")


def map_against_bare(
    parscale: Any, fn: Callable[[Any], Any], items: list[Any]
) -> tuple[float, float]:
    """(wall seconds of ``parscale.map`` with its warm-up, rounds and verdict, the bare
    work it stands for: one serial and one raw parallel pass on the same warm executor,
    timed right after)."""
    start = time.perf_counter()
    parscale.map(fn, items)
    wall = time.perf_counter() - start
    parallel, cleanup = raw_map(parscale.backend, parscale.executor, fn, items)
    start = time.perf_counter()
    [fn(item) for item in items]
    serial_seconds = time.perf_counter() - start
    start = time.perf_counter()
    parallel()
    parallel_seconds = time.perf_counter() - start
    cleanup()
    return wall, serial_seconds + parallel_seconds


def _celery_map(app: Any, fn: Callable[[Any], Any], items: list[Any]) -> tuple[Run, Run]:
    """A Celery group of the generic task the embedded worker's children know.

    The clean-up forgets the results (deletes their files) outside the timed call:
    a user's ``group(...).get()`` does not delete them.
    """
    from celery import group

    from pytest_parscale.backends.celery import CALL_TASK

    task = app.tasks[CALL_TASK]
    done: list[Any] = []

    def run() -> list[Any]:
        pending = group(task.s(fn, item) for item in items).apply_async()
        results: list[Any] = pending.get(interval=0.005)
        done.append(pending)
        return results

    def forget() -> None:
        while done:
            done.pop().forget()

    return run, forget


def interleaved(
    serial: Run, parallel: Run, rounds: int, cleanup: Run = _nothing
) -> tuple[list[float], list[float]]:
    """Warm once, then ``rounds`` of serial and parallel, alternating which goes first."""
    serial()
    parallel()
    cleanup()
    serial_times: list[float] = []
    parallel_times: list[float] = []
    for index in range(rounds):
        order = [(serial, serial_times), (parallel, parallel_times)]
        for run, times in order if index % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
            cleanup()
    return serial_times, parallel_times


def speedup(serial_times: list[float], parallel_times: list[float]) -> float:
    return median(serial_times) / median(parallel_times)


def write_side(entry: dict[str, Any]) -> None:
    """Append one hand measurement to the JSON-lines file the harness reads."""
    path = Path(os.environ["BENCH_SIDE_FILE"])
    with path.open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(entry) + "\n")
