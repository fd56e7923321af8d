"""What a run of the Action is told, and where its baseline lives.

RunOptions (the inputs of ``ci run``), the Actions cache keys, and the environment
identity (OS, CPU family, cores, Python) that a speedup depends on besides the code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_parscale.action.event import Event, read_event, work_dir
from pytest_parscale.action.github import Acceptance, artifact_name
from pytest_parscale.family import DEFAULT_RULE
from pytest_parscale.thresholds import DEFAULT_FAIL_ON, FailOn

CACHE_PREFIX = "pytest-parscale-v1"


def key_part(text: str) -> str:
    """Cache keys may not contain commas; keep them readable otherwise."""
    return re.sub(r"[,\s]+", "_", text)


def cache_keys(
    event: Event, baseline_key: str, environ: Mapping[str, str], env_key: str = ""
) -> dict[str, str]:
    """The Actions cache keys of the baseline.

    Caches are immutable, so each refresh saves under a new key ending in the run
    id; restoring by a prefix picks the newest. The environment identity comes
    after the branch, so a restore prefers a baseline of the same environment and
    falls back to the branch's newest of any (then warned about). A pull request
    can read caches of its base branch and of the default branch, never another PR's.
    """
    branch = event.branch or "no-branch"
    prefix = "-".join(
        key_part(part)
        for part in (CACHE_PREFIX, environ.get("RUNNER_OS", "os"), baseline_key, branch)
    )
    run = f"{environ.get('GITHUB_RUN_ID', '0')}-{environ.get('GITHUB_RUN_ATTEMPT', '1')}"
    own = f"{prefix}-{env_key}" if env_key else prefix
    return {
        "restore-prefix": f"{own}-",
        "restore-fallback": f"{prefix}-",
        "save-key": f"{own}-{run}",
    }


def plan(
    baseline_key: str,
    environ: Mapping[str, str],
    machine: Mapping[str, Any] | None = None,
    branch: str = "",
) -> dict[str, str]:
    """Folders and cache keys; ``machine`` is this runner's unless a results file says;
    ``branch`` replaces the event's (the trusted comment job: the PR's base branch)."""
    from pytest_parscale.machine import fingerprint

    event = read_event(environ)
    if branch:
        event = dataclasses.replace(event, branch=branch)
    root = work_dir(environ)
    env = environment(fingerprint() if machine is None else machine)
    return {
        "baseline-dir": str(root / "baseline"),
        "out-dir": str(root / "out"),
        "branch": event.branch or "",
        "environment": environment_key(env),
        "artifact-name": artifact_name(baseline_key),
        **cache_keys(event, baseline_key, environ, environment_key(env)),
    }


# environment identity: what a speedup depends on besides the code
ENVIRONMENT_PARTS = ("os", "cpu", "cores", "python")


def cpu_family(model: str) -> str:
    """The CPU model without its clock and trademark noise: one family, one key."""
    text = re.sub(r"\((?:R|TM|r|tm)\)|\bCPU\b|\bProcessor\b|@.*$", " ", model)
    text = re.sub(r"\b\d+-Core\b", " ", text)
    return " ".join(text.split()) or "unknown"


def environment(machine: Mapping[str, Any]) -> dict[str, str]:
    """The environment a results file was measured in, from its machine fingerprint."""
    python = str(machine.get("python", "?"))
    return {
        "os": str(machine.get("platform", "?")).split("-", 1)[0],
        "cpu": cpu_family(str(machine.get("cpu_model", ""))),
        "cores": str(machine.get("usable_cores", "?")),
        "python": ".".join(python.split(".")[:2]),
    }


def environment_key(env: Mapping[str, str]) -> str:
    """A short cache-key part; the CPU family is hashed (model names are long)."""
    cpu = hashlib.sha256(env["cpu"].encode()).hexdigest()[:8]
    return key_part(f"{env['os']}-py{env['python']}-{env['cores']}c-{cpu}")


def environment_changes(
    base: Mapping[str, Any], head: Mapping[str, Any], skip: Sequence[str] = ()
) -> list[str]:
    """Every part of the environment, and the start method, that differs between runs."""
    before, after = environment(base), environment(head)
    names = {"os": "OS", "cpu": "CPU family", "cores": "usable cores", "python": "Python"}
    changed = [
        f"{names[part]} {before[part]} -> {after[part]}"
        for part in ENVIRONMENT_PARTS
        if before[part] != after[part] and part not in skip
    ]
    start_before, start_after = base.get("start_method"), head.get("start_method")
    if start_before != start_after:
        changed.append(f"start method {start_before} -> {start_after}")
    return changed


MISSING_POLICIES = ("pass", "warn", "fail")


SOURCES = ("cache", "artifact", "history", "none")


@dataclass(frozen=True)
class RunOptions:
    pytest_args: str = ""
    results_file: str | None = None  # take this results file instead of running pytest
    baseline_dir: Path = Path("baseline")
    out_dir: Path = Path("out")
    fail_on: FailOn = DEFAULT_FAIL_ON
    family: str = DEFAULT_RULE  # holm | bh | none: error control over the run's tests
    comment_on_pr: bool = False
    save_baseline: str = "auto"  # auto | true | false
    on_missing_baseline: str = "warn"  # pass | warn | fail
    baseline_source: str = "cache"  # where the baseline folder was filled from, if it was
    baseline_history: str = "unknown"  # first-run | evicted | unknown, when it is missing
    history_size: int = 20  # results of the branch's last runs kept beside the baseline
    confirm: bool = True  # a paired run decides a pull request's flagged and unresolved tests
    confirm_budget: float = 600.0  # seconds a paired confirmation may add sessions for
    acceptance: Acceptance = field(default_factory=lambda: Acceptance())
    python: str = sys.executable
