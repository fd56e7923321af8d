"""Accuracy and transparency: the plugin's map, then a hand-timed map on the same engine.

Each test measures one workload with ``parscale.map`` (the plugin's figures go to
``--parscale-json``), then times a plain serial loop and the backend's raw map on
the same warm executor, interleaved, and appends those figures to a side file.
Repeats alternate plugin and hand measurements through the run.
"""

from __future__ import annotations

import os

import pytest
from hand import interleaved, raw_map, speedup, write_side
from workloads import WORKLOADS, workload

REPEATS = int(os.environ.get("BENCH_REPEATS", "1"))
HAND_ROUNDS = int(os.environ.get("BENCH_HAND_ROUNDS", "5"))


@pytest.mark.parametrize("repeat", range(REPEATS))
@pytest.mark.parametrize("name", WORKLOADS)
def test_accuracy(parscale, name, repeat):
    fn, items = workload(name)
    parscale.map(fn, items)
    parallel, cleanup = raw_map(parscale.backend, parscale.executor, fn, items)
    serial_times, parallel_times = interleaved(
        lambda: [fn(item) for item in items], parallel, HAND_ROUNDS, cleanup
    )
    write_side(
        {
            "nodeid": parscale.nodeid,
            "backend": parscale.backend,
            "workload": name,
            "repeat": repeat,
            "serial": serial_times,
            "parallel": parallel_times,
            "speedup": speedup(serial_times, parallel_times),
        }
    )
