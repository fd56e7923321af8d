"""What a comparison says, as data: the verdict of a test, its metrics and its notes.

Every judging module (regression, excuse, history, family, paired) builds these and
notewords.py words them; they live apart so that the modules judging a change and
the ones excusing it need not import each other. Pure data: no pytest.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from pytest_parscale.results import Record


class Status(str, enum.Enum):
    """What the comparison says of one test, in the order a reviewer wants to read them."""

    REGRESSION = "regression"
    # present on both sides, but it failed without a measurement on one of them
    # (TestChange.notes says which side and why): a gate cannot pass it
    ERROR = "error"
    # not compared: an embedded engine on one side and a cluster on the other, an
    # engine configured differently, or a machine capacity that differs materially
    # (TestChange.reason says which)
    INCOMPARABLE = "incomparable"
    IMPROVEMENT = "improvement"
    NEW = "new"
    MISSING = "missing"
    UNCERTAIN = "uncertain"  # the interval reaches past the threshold, but not wholly
    UNCHANGED = "unchanged"

    @property
    def rank(self) -> int:
        return list(Status).index(self)


@dataclass(frozen=True)
class Change:
    """One metric of one test, baseline against head.

    ``change`` is relative for speedup (``head/base - 1`` of speedup per worker) and
    absolute for the transport share (``head - base``); ``low``/``high`` bound it.
    ``significant``: the interval excludes no change; ``beyond``: it lies wholly beyond
    the threshold on either side. ``p_value`` is the one-sided p-value of "worse by no
    more than the threshold" (small: a regression), ``p_better`` the same towards an
    improvement; ``adjusted`` is ``p_value`` after the run's family rule, and
    ``unadjusted`` the status the rule withdrew (None when it changed nothing).
    """

    metric: str
    base: float
    head: float
    change: float
    low: float
    high: float
    threshold: float
    significant: bool
    beyond: bool
    status: Status
    p_value: float = 1.0
    p_better: float = 1.0
    adjusted: float | None = None
    unadjusted: Status | None = None


@dataclass(frozen=True)
class Note:
    """A reason a comparison gives beside its verdict, as data: ``reason`` names it,
    ``facts`` hold what its words need. notewords.py words it for every renderer."""

    reason: str
    facts: tuple[Any, ...] = ()


@dataclass(frozen=True)
class TestChange:
    """Everything the comparison says about one test id."""

    nodeid: str
    status: Status
    base: Record | None
    head: Record | None
    changes: tuple[Change, ...] = ()
    notes: tuple[Note, ...] = ()
    reason: str = ""  # INCOMPARABLE only: "engine", "config" or "capacity"
