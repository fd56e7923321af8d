"""Verdicts: a measured interval against a threshold.

Three states, as DESIGN.md asks: pass when the whole interval clears the threshold,
fail when the whole interval misses it, undecided otherwise (more rounds may help).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from pytest_parscale.stats import Interval


class Verdict(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    UNDECIDED = "undecided"


@dataclass(frozen=True)
class Requirement:
    """One threshold on one measured ratio.

    ``metric`` is ``"speedup"`` (at least) or ``"overhead"`` (at most); ``threshold``
    is the value the test must meet after any undersized-machine scaling, and
    ``declared`` what the marker said.
    """

    metric: str
    threshold: float
    declared: float
    at_least: bool

    def judge(self, interval: Interval) -> Verdict:
        if self.at_least:
            if interval.low >= self.threshold:
                return Verdict.PASS
            if interval.high < self.threshold:
                return Verdict.FAIL
        else:
            if interval.high <= self.threshold:
                return Verdict.PASS
            if interval.low > self.threshold:
                return Verdict.FAIL
        return Verdict.UNDECIDED


def combine(verdicts: Iterable[Verdict]) -> Verdict:
    """Fail beats undecided beats pass; no requirement at all is a pass."""
    collected = set(verdicts)
    if Verdict.FAIL in collected:
        return Verdict.FAIL
    if Verdict.UNDECIDED in collected:
        return Verdict.UNDECIDED
    return Verdict.PASS


@dataclass(frozen=True)
class WorkerPlan:
    """How many workers a test runs with, and how its speedup bar moves with that."""

    requested: int
    workers: int
    scale: float
    skip_reason: str | None = None
    oversubscribed: bool = False


def plan_workers(requested: int, usable: int, policy: str) -> WorkerPlan:
    """Apply the undersized-machine policy of DESIGN.md.

    ``scale`` runs at the usable cores and keeps the efficiency asked for (the bar
    becomes ``min * W / requested``); ``skip`` skips; ``strict`` runs the requested
    count on fewer cores (oversubscribed) and keeps the full bar.
    """
    if requested <= usable:
        return WorkerPlan(requested, requested, 1.0)
    shortfall = f"{requested} workers asked, {usable} usable cores"
    if policy == "skip":
        return WorkerPlan(requested, usable, 1.0, f"undersized machine: {shortfall}")
    if policy == "strict":
        return WorkerPlan(requested, requested, 1.0, oversubscribed=True)
    if usable < 2:
        return WorkerPlan(
            requested, usable, 1.0, f"undersized machine: {shortfall}; cannot scale below 2"
        )
    return WorkerPlan(requested, usable, usable / requested)


def plan_cluster(requested: int, cluster: int, policy: str, where: str) -> WorkerPlan:
    """The same policy for a cluster the user started: it runs with every worker it has.

    Fewer workers than asked is an undersized machine (``scale`` lowers the bar to
    the same efficiency, ``skip`` skips); ``strict`` cannot add workers to a cluster,
    so it keeps the full bar. More workers than asked keeps the bar: the speedup
    and efficiency are reported at the cluster's size. ``where`` names the cluster.
    """
    if requested <= cluster:
        return WorkerPlan(requested, cluster, 1.0)
    shortfall = f"{requested} workers asked, {where} has {cluster}"
    if policy == "skip":
        return WorkerPlan(requested, cluster, 1.0, f"undersized cluster: {shortfall}")
    if policy == "strict":
        return WorkerPlan(requested, cluster, 1.0)
    if cluster < 2:
        return WorkerPlan(
            requested, cluster, 1.0, f"undersized cluster: {shortfall}; cannot scale below 2"
        )
    return WorkerPlan(requested, cluster, cluster / requested)
