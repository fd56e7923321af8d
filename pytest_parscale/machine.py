"""Facts about where a run happens: usable cores, the machine fingerprint, the git
checkout and the pytest-xdist role. Read once per session; no pytest import."""

from __future__ import annotations

import math
import os
import platform
import subprocess
import sys
from collections.abc import Mapping, Sequence
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
    """min(os.cpu_count(), affinity, cgroup quota), as docs/architecture.md defines it."""
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
    """What every result carries about the machine (docs/results-format.md)."""
    import multiprocessing  # here, not at pytest start-up (docs/architecture.md)

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


def run_git(
    arguments: Sequence[str], cwd: Path, *, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """``git ARGUMENTS`` in ``cwd``, output captured as text; the one place the plugin
    runs git (git state, paired worktrees, the Action's confirmation). A failing git
    is the caller's to judge from the return code."""
    return subprocess.run(
        ["git", *arguments], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def git_state(root: Path) -> dict[str, Any] | None:
    """Commit, branch and dirty flag of the checkout at ``root``; None outside git."""

    def git(*args: str) -> str | None:
        try:
            done = run_git(args, root, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    return {
        "commit": commit,
        "dirty": bool(status) if status is not None else True,
        "branch": None if branch in (None, "HEAD") else branch,
    }


def xdist_role(workerinput: object | None, environ: Mapping[str, str], option: object) -> str:
    """``"worker"``, ``"controller"`` or ``"none"``: who writes results under pytest-xdist.

    Works without xdist installed: workers carry ``config.workerinput`` or the
    ``PYTEST_XDIST_WORKER`` variable; a controller has ``-n``/``--dist`` options set.
    """
    if workerinput is not None or environ.get("PYTEST_XDIST_WORKER"):
        return "worker"
    dist = getattr(option, "dist", "no")
    if getattr(option, "numprocesses", None) or dist not in (None, "no"):
        return "controller"
    return "none"
