"""Where and when a run happened, in words a reviewer reads without the format's docs.

The results document keeps raw fields (docs/results-format.md: ``load_average``,
``cgroup_cpu_quota`` ...); here each becomes a labelled phrase with its unit. A fact
the run could not read is left out; a limit that does not exist is said plainly
("no cgroup CPU quota"). Words only: the HTML report escapes and lays them out.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from pytest_parscale import fmt

Fact = tuple[str, str]

# Fields read into the phrases below; any other field is shown under its own name.
_KNOWN = {
    "usable_cores",
    "cpu_count",
    "affinity",
    "cgroup_cpu_quota",
    "load_average",
    "cpu_model",
    "platform",
    "python",
    "python_implementation",
    "start_method",
    "hostname",
}


def created(text: str) -> str:
    """``2026-12-05 14:23 UTC`` from the document's ISO time; the text itself if odd."""
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        return text
    if when.utcoffset() == datetime.timedelta(0):
        return when.strftime("%Y-%m-%d %H:%M UTC")
    return when.strftime("%Y-%m-%d %H:%M %z").rstrip()


def checkout(git: Mapping[str, Any] | None) -> str | None:
    """``a6a35cd on branch html, with uncommitted changes``; None outside git."""
    if not git or not git.get("commit"):
        return None
    said = str(git["commit"])[:7]
    if git.get("branch"):
        said += f" on branch {git['branch']}"
    if git.get("dirty"):
        said += ", with uncommitted changes"
    return said


def cores(machine: Mapping[str, Any]) -> str | None:
    """``2 usable (2 logical CPUs, no cgroup CPU quota)``: the usable count and its limits."""
    usable = machine.get("usable_cores")
    if usable is None:
        return None
    limits = []
    count = machine.get("cpu_count")
    if count is not None:
        limits.append(fmt.plural(count, "logical CPU"))
    affinity = machine.get("affinity")
    if affinity is not None and affinity != count:
        limits.append(f"the affinity mask allows {affinity}")
    if "cgroup_cpu_quota" in machine:
        quota = machine["cgroup_cpu_quota"]
        limits.append("no cgroup CPU quota" if quota is None else f"cgroup quota {fmt.cpus(quota)}")
    return f"{usable} usable" + (f" ({', '.join(limits)})" if limits else "")


def python(machine: Mapping[str, Any]) -> str | None:
    """``CPython 3.11.7, fork start method``."""
    words = " ".join(
        str(machine[key]) for key in ("python_implementation", "python") if machine.get(key)
    )
    method = machine.get("start_method")
    if method:
        words += f", {method} start method" if words else f"{method} start method"
    return words or None


def machine_facts(machine: Mapping[str, Any]) -> list[Fact]:
    """The machine's fields as (label, phrase) pairs, in the order a reviewer asks."""
    load = machine.get("load_average")
    found: list[tuple[str, str | None]] = [
        ("processor", machine.get("cpu_model")),
        ("cores", cores(machine)),
        (
            "load average",
            f"{fmt.load_average(load)} over the last 1, 5 and 15 minutes" if load else None,
        ),
        ("Python", python(machine)),
        ("platform", machine.get("platform")),
        ("host", machine.get("hostname")),
    ]
    found += [
        (key.replace("_", " "), _plain(value))
        for key, value in machine.items()
        if key not in _KNOWN
    ]
    return [(label, str(value)) for label, value in found if value not in (None, "")]


def _plain(value: Any) -> str | None:
    """A field this module does not know, as words: lists joined, yes/no, null left out."""
    if value is None or value == [] or value == {}:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key.replace('_', ' ')} {item}" for key, item in value.items())
    return str(value)
