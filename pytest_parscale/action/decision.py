"""The Action's decision about a run, with its reasons as data.

judge.py decides, summary.py words the decision in Markdown: nothing here is a
sentence, so the wording can change without touching a verdict.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pytest_parscale.regression import Status, TestChange

if TYPE_CHECKING:
    from pytest_parscale.action.baseline import Baseline
    from pytest_parscale.action.confirm import Confirmation
    from pytest_parscale.family import Family
    from pytest_parscale.storage import Results
    from pytest_parscale.thresholds import FailOn

VERDICT_SOURCES = ("single", "history", "paired", "none")


class RunVerdict(str, enum.Enum):
    """The Action's verdict of one run (the ``verdict`` step output)."""

    PASS = "pass"
    REGRESSION = "regression"
    NO_BASELINE = "no-baseline"
    ERROR = "error"  # no results to judge


@dataclass(frozen=True)
class Compared:
    """What the comparison with a baseline found: the data summary.py lays out."""

    changes: list[TestChange]
    base: Results
    head: Results
    baseline: Baseline
    branch: str | None
    fail_on: FailOn
    family: Family
    # unresolved against the baseline, a regression in the paired run: test id -> the
    # status the baseline gave it (uncertain or incomparable)
    promoted: Mapping[str, Status] = field(default_factory=dict)
    label_by: str | None = None  # who accepted every regression with the label
    acked: tuple[tuple[str, str], ...] = ()  # (test id, who acknowledged its regression)
    environment: tuple[str, ...] = ()  # facts of the environment that differ, cores aside


@dataclass(frozen=True)
class NoBaseline:
    """Why nothing was compared: the data of the no-baseline report."""

    head: Results
    branch: str | None
    history: str  # the baseline-history input: first-run, evicted, unknown
    policy: str  # on-missing-baseline: pass, warn, fail
    stores: bool  # this run stores its results as the baseline
    problem: str | None = None  # why a restored baseline was unusable


@dataclass(frozen=True)
class NoResults:
    """Why there were no results to judge."""

    problem: str
    pytest_code: int
    results_file: bool  # the results came from results-file, not from running pytest


@dataclass(frozen=True)
class Judgement:
    """The Action's decision about one run, with its reasons as data (summary.py words it)."""

    verdict: RunVerdict
    regressions: int
    gate: bool  # fails the job
    flagged: list[str]  # test ids judged regressed (before any confirmation)
    source: str = "single"  # what made the verdict: one of VERDICT_SOURCES
    confirmation: Confirmation | None = None
    history_runs: int = 0  # runs of the branch's history judged against (0: a single baseline)
    # test ids the baseline left unresolved (uncertain or incomparable)
    unresolved: tuple[str, ...] = ()
    compared: Compared | None = None  # set when a baseline was compared
    missing: NoBaseline | None = None  # set when there was no baseline
    no_results: NoResults | None = None  # set when there were no results

    @property
    def accepted(self) -> bool:
        """A regression that does not fail the job: the label, or every one acked."""
        return self.verdict is RunVerdict.REGRESSION and not self.gate
