"""User engines (issue 22): examples/celery_project's tasks on its own worker.

Run by ``./scripts/run-benchmarks.sh --only engines`` (benchmarks/engines.py), once per
variant, chosen by environment variables so one file serves them all:

- ``BENCH_POOL``: the worker pool, ``prefork`` or ``threads`` (concurrency 2);
- ``BENCH_SERIALIZER``: the app's task and result serializer, ``json`` or ``pickle``;
- ``BENCH_POLL``: the broker poll in seconds, or ``default`` (kombu's 1 s); with the
  default only ``test_dispatch_cost`` runs, as pytest-parscale refuses the others;
- ``BENCH_SIDE_FILE``: where ``test_dispatch_cost`` appends its timings (JSON lines).

celery.contrib.pytest is loaded with ``-p celery.contrib.pytest``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "celery_project"))

import celery.contrib.testing.tasks  # noqa: F401  the ping task the worker checks
from celery import group
from proj.celery import app
from proj.tasks import orders, portfolios, risk_score, total

POOL = os.environ.get("BENCH_POOL", "prefork")
SERIALIZER = os.environ.get("BENCH_SERIALIZER", "json")
POLL = os.environ.get("BENCH_POLL", "0.01")


@pytest.fixture(scope="session")
def celery_config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    config: dict[str, Any] = {
        "broker_url": "memory://",
        "result_backend": f"file://{tmp_path_factory.mktemp('results')}",
        "task_serializer": SERIALIZER,
        "result_serializer": SERIALIZER,
        "accept_content": sorted({SERIALIZER, "json"}),
        "result_accept_content": sorted({SERIALIZER, "json"}),
    }
    if POLL != "default":
        config["broker_transport_options"] = {"polling_interval": float(POLL)}
    return config


@pytest.fixture(scope="session")
def celery_session_app(celery_config: dict[str, Any]) -> Any:
    app.conf.update(celery_config)
    return app


@pytest.fixture(scope="session")
def celery_worker_pool() -> str:
    return POOL


@pytest.fixture(scope="session")
def celery_worker_parameters() -> dict[str, Any]:
    return {"concurrency": 2}


@pytest.mark.overhead(max=0.99)  # asks for the transport-only run; the share is the figure
def test_risk(parscale: Any, celery_session_worker: Any) -> None:
    parscale.map(risk_score, portfolios(16))


@pytest.mark.overhead(max=0.99)
def test_orders(parscale: Any, celery_session_worker: Any) -> None:
    parscale.map(total, orders(32))


def test_dispatch_cost(celery_session_worker: Any) -> None:
    """Best of 5 groups of 16 no-op tasks (celery.ping), gathered with a 5 ms poll."""
    ping = app.tasks["celery.ping"]
    count = 16
    group(ping.s() for _ in range(count)).apply_async().get(timeout=60, interval=0.005)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        group(ping.s() for _ in range(count)).apply_async().get(timeout=60, interval=0.005)
        best = min(best, time.perf_counter() - started)
    with open(os.environ["BENCH_SIDE_FILE"], "a") as side:
        side.write(json.dumps({"poll": POLL, "per_task": best / count}) + "\n")
