"""The machine and the run in words: units said, limits that do not exist said plainly,
facts that were not read left out (facts.py)."""

from __future__ import annotations

from pytest_parscale.facts import checkout, created, machine_facts
from tests.records import MACHINE


def test_the_usual_machine_reads_as_phrases() -> None:
    said = dict(machine_facts({**MACHINE, "load_average": [1.8310546875, 1.29, 0.69]}))
    assert said == {
        "processor": "Synthetic CPU",
        "cores": "2 usable (2 logical CPUs, no cgroup CPU quota)",
        "load average": "1.83, 1.29 and 0.69 over the last 1, 5 and 15 minutes",
        "Python": "CPython 3.11.7, fork start method",
        "platform": "Linux-6.1-x86_64",
        "host": "ci",
    }


def test_limits_are_named_and_unread_facts_left_out() -> None:
    machine = {
        "usable_cores": 1,
        "cpu_count": 8,
        "affinity": 4,
        "cgroup_cpu_quota": 1.5,
        "load_average": [],  # getloadavg failed
        "cpu_model": "",
        "gpus": ["a100", "a100"],  # a field a newer version may add
        "numa": None,
    }
    said = dict(machine_facts(machine))
    assert said == {
        "cores": "1 usable (8 logical CPUs, the affinity mask allows 4, cgroup quota 1.5 CPUs)",
        "gpus": "a100, a100",
    }


def test_when_and_which_checkout() -> None:
    assert created("2026-12-05T14:23:30+00:00") == "2026-12-05 14:23 UTC"
    assert created("2026-12-05T14:23:30+01:00") == "2026-12-05 14:23 +0100"
    assert created("last tuesday") == "last tuesday"
    commit = "a6a35cd7efddc04201523071ca0fef1d583569a6"
    assert checkout({"commit": commit, "dirty": True, "branch": "html"}) == (
        "a6a35cd on branch html, with uncommitted changes"
    )
    assert checkout({"commit": commit, "dirty": False, "branch": None}) == "a6a35cd"
    assert checkout(None) is None
