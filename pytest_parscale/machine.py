"""What this machine can honestly run in parallel, and its fingerprint for records."""

from __future__ import annotations

import math
import multiprocessing
import os
import platform
import sys
from pathlib import Path
from typing import Any


def parse_cpu_max(text: str) -> float | None:
    """CPU limit from cgroup v2 ``cpu.max`` (``"200000 100000"`` -> 2.0; ``max`` -> None)."""
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    quota, period = float(parts[0]), float(parts[1])
    return quota / period if quota > 0 and period > 0 else None


def parse_cfs(quota_text: str, period_text: str) -> float | None:
    """CPU limit from cgroup v1 ``cpu.cfs_quota_us`` and ``cpu.cfs_period_us`` (-1: none)."""
    quota, period = float(quota_text.strip()), float(period_text.strip())
    return quota / period if quota > 0 and period > 0 else None


def cgroup_cpu_limit(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The cgroup CPU quota in CPUs, or None when there is none or it cannot be read."""
    try:
        return parse_cpu_max((root / "cpu.max").read_text())
    except (OSError, ValueError):
        pass
    for folder in (root / "cpu", root / "cpu,cpuacct", root):
        try:
            return parse_cfs(
                (folder / "cpu.cfs_quota_us").read_text(),
                (folder / "cpu.cfs_period_us").read_text(),
            )
        except (OSError, ValueError):
            continue
    return None


def affinity_count() -> int | None:
    """How many CPUs this process may be scheduled on, where the OS says."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def combine_core_counts(cpu_count: int | None, affinity: int | None, quota: float | None) -> int:
    """Usable cores: the least of the three, a fractional quota rounded down, at least 1.

    Rounded down because a quota of 1.5 CPUs cannot deliver a 2x speedup.
    """
    candidates = [count for count in (cpu_count, affinity) if count]
    if quota is not None:
        candidates.append(max(1, math.floor(quota)))
    return max(1, min(candidates)) if candidates else 1


def usable_cores() -> int:
    """min(os.cpu_count(), affinity, cgroup quota), as DESIGN.md defines it."""
    return combine_core_counts(os.cpu_count(), affinity_count(), cgroup_cpu_limit())


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fingerprint() -> dict[str, Any]:
    """Everything DESIGN.md asks every result to carry about the machine."""
    try:
        load = list(os.getloadavg())
    except OSError:
        load = []
    return {
        "usable_cores": usable_cores(),
        "cpu_count": os.cpu_count(),
        "affinity": affinity_count(),
        "cgroup_cpu_quota": cgroup_cpu_limit(),
        "load_average": load,
        "cpu_model": cpu_model(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "start_method": multiprocessing.get_start_method(allow_none=True)
        or multiprocessing.get_context().get_start_method(),
        "hostname": platform.node(),
    }
