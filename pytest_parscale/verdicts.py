"""Verdicts: a measured interval against a threshold.

Three states, as docs/architecture.md defines them: pass when the whole interval
clears the threshold, fail when the whole interval misses it, undecided otherwise
(more rounds may help).
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
