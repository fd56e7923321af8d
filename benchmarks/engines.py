"""The user-engines phase (issue 22): examples/celery_project's tasks on their own worker.

Each variant is a pytest session of benchmarks/cases/case_engines.py, repeated (3 in
the full mode) on a shared machine, each figure given as its median and range:

- speedup of the example's CPU-bound JSON task with a prefork and a threads pool;
- the transport share and the serialisation cost per item of the same items with
  the app's serializer set to JSON and to pickle (prefork);
- the dispatch cost per no-op task with kombu's default 1 s broker poll and a 10 ms one.

The harness (run.py) hands its helpers in, so this module imports nothing of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

CASE = "case_engines.py"
VARIANTS = (("prefork", "json"), ("threads", "json"), ("prefork", "pickle"))


def spread(values: list[float], unit: str = "", scale: float = 1.0) -> str:
    """``1.79 (1.70-1.83)``: the median of the repeats and their range."""
    ordered = sorted(value * scale for value in values)
    middle = ordered[len(ordered) // 2]
    return f"{middle:.3g}{unit} ({ordered[0]:.3g}-{ordered[-1]:.3g}{unit}, n={len(ordered)})"


def user_engines(
    repeats: int,
    report: Any,
    scratch: Path,
    run: Callable[..., Any],
    case_args: Callable[..., list[str]],
) -> None:
    """Add the phase's rows to ``report`` (section ``9 engines``, no targets)."""
    figures = _measure(repeats, run, case_args)
    _report(figures, report)
    _dispatch(repeats, report, scratch, run, case_args)


def _measure(
    repeats: int, run: Callable[..., Any], case_args: Callable[..., list[str]]
) -> dict[str, list[float]]:
    """Each variant's sessions: speedup, cores, transport share, serialisation cost."""
    figures: dict[str, list[float]] = {}
    for pool, serializer in VARIANTS:
        env = {"BENCH_POOL": pool, "BENCH_SERIALIZER": serializer, "BENCH_POLL": "0.01"}
        for _ in range(repeats):
            done = run(
                case_args(CASE, "-p", "celery.contrib.pytest", "-k", "not dispatch"), env=env
            )
            assert done.results is not None, done.output
            for record in done.results["results"]:
                name = record["nodeid"].split("::")[-1].split("[")[0]
                key = f"{name} {pool} {serializer}"
                figures.setdefault(f"speedup {key}", []).append(record["speedup"]["estimate"])
                if record.get("capacity"):  # the cores the measurement had (shared machine)
                    figures.setdefault(f"cores {key}", []).append(record["capacity"]["cores"])
                share = record["transport_share"]
                if share is not None:
                    figures.setdefault(f"transport {key}", []).append(share["estimate"])
                cost = record["executor"].get("serialisation") or {}
                if cost:
                    figures.setdefault(f"bytes {key}", []).append(cost["item_bytes"])
                    figures.setdefault(f"seconds {key}", []).append(cost["seconds_per_item"])
    return figures


def _report(figures: dict[str, list[float]], report: Any) -> None:
    for pool, serializer in VARIANTS:
        key = f"test_risk {pool} {serializer}"
        cores = figures.get(f"cores {key}")
        report.add(
            "9 engines",
            f"risk_score speedup ({pool}, {serializer})",
            spread(figures[f"speedup {key}"], "x") + (f", cores {spread(cores)}" if cores else ""),
            "",
            None,
        )
    for serializer in ("json", "pickle"):
        for name in ("test_risk", "test_orders"):
            key = f"{name} prefork {serializer}"
            report.add(
                "9 engines",
                f"{name[5:]} transport share ({serializer})",
                spread(figures[f"transport {key}"]),
                "",
                None,
            )
            report.add(
                "9 engines",
                f"{name[5:]} serialisation per item ({serializer})",
                spread(figures[f"seconds {key}"], " us", 1e6)
                + f", {spread(figures[f'bytes {key}'], ' B')}",
                "",
                None,
            )


def _dispatch(
    repeats: int,
    report: Any,
    scratch: Path,
    run: Callable[..., Any],
    case_args: Callable[..., list[str]],
) -> None:
    """The dispatch cost per no-op task with kombu's default poll and a 10 ms one."""
    side = scratch / "dispatch.jsonl"
    for poll in ("default", "0.01"):
        env = {"BENCH_POOL": "prefork", "BENCH_POLL": poll, "BENCH_SIDE_FILE": str(side)}
        for _ in range(repeats):
            run(
                case_args(CASE, "-p", "celery.contrib.pytest", "-k", "dispatch"),
                env=env,
                parscale=False,
            )
    entries = [json.loads(line) for line in side.read_text().splitlines() if line.strip()]
    for poll in ("default", "0.01"):
        per_task = [entry["per_task"] for entry in entries if entry["poll"] == poll]
        label = "kombu default 1 s" if poll == "default" else "10 ms"
        report.add(
            "9 engines",
            f"dispatch per no-op task (poll {label})",
            spread(per_task, " ms", 1e3),
            "",
            None,
        )
