"""The words of a comparison's notes: every renderer (terminal, Markdown, JSON, the
pytest failure) says a ``regression.Note`` through ``note_text``.

The judging modules (regression, excuse, history, family, paired) give a reason
code and its facts; the sentences live here, so rewording a note touches one file
and no verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from pytest_parscale import fmt

if TYPE_CHECKING:
    from pytest_parscale.changepoint import ScalingChange
    from pytest_parscale.changes import Note
    from pytest_parscale.results import Capacity, Record


def note_text(note: Note) -> str:
    """The note in words."""
    return _WORDS[note.reason](*note.facts)


def note_texts(notes: Iterable[Note]) -> tuple[str, ...]:
    return tuple(note_text(note) for note in notes)


def change_point_text(step: ScalingChange) -> str:
    """``scaling changed at 1a2b3c4: 1.8x -> 1.2x``: a change point (changepoint.py)."""
    from pytest_parscale.changepoint import short_commit

    where = f"at {short_commit(step.commit)}" if step.commit else f"at run {step.run + 1}"
    return f"scaling changed {where}: {fmt.speedup(step.before)} -> {fmt.speedup(step.after)}"


# -- a pair of runs not compared -------------------------------------------------


def _engine_words(record: Record) -> str:
    from pytest_parscale.regression import engine_of

    engine = engine_of(record)
    where = record.executor.get("where")
    if where:
        return f"{where} ({record.workers} workers)"
    if engine == "embedded":
        return f"an embedded {record.backend} engine ({record.workers} workers)"
    return f"the {record.backend} cluster at {engine} ({record.workers} workers)"


def _engine(base: Record, head: Record) -> str:
    return (
        f"not compared: the baseline ran on {_engine_words(base)} and this run on "
        f"{_engine_words(head)}; save a baseline on the same kind of engine"
    )


def _config(backend: str, changed: tuple[tuple[str, Any, Any], ...]) -> str:
    said = ", ".join(f"{key} {before} -> {after}" for key, before, after in changed)
    return (
        f"not compared: the {backend} engine's configuration differs from the "
        f"baseline's ({said}); save a baseline with the same configuration"
    )


def _error(side: str, text: str) -> str:
    return f"error on {side}: {text}"


# -- how a pair was compared ------------------------------------------------------


def _workers_differ(before: int, after: int, where: str) -> str:
    return f"workers differ ({before} in {where}, {after} now): speedups compared per worker"


def _few_rounds(minimum: int) -> str:
    return f"fewer than {minimum} rounds on one side: no change is significant"


def _pairs(count: int) -> str:
    return (
        f"judged on {count} pairs of sessions: the mean difference within a pair, "
        f"t on {count - 1} degrees of freedom"
    )


# how the two notes of a paired test left uncertain begin: the Action quotes them
# from the JSON report (action/confirm.py)
UNCERTAIN_AFTER, STOPPED_AFTER = "uncertain after ", "stopped after "


def _projection(
    pairs: int, spread: float, within: float | None, needed: int | None, pair_seconds: float
) -> str:
    """What an uncertain paired test would take to decide (paired/spread.py)."""
    said = f"{UNCERTAIN_AFTER}{pairs} pairs: the pairs scatter by about {spread:.0%} "
    said += "(sd of the log differences)"
    if within is not None:
        said += (
            f"; {within:.0%} of that is each session's own round-to-round scatter, "
            "which more rounds (--rounds) or more work per round shrinks"
        )
    if needed is None:
        return said + "; at this spread no affordable number of pairs decides it"
    minutes = needed * pair_seconds / 60
    return (
        said + f"; at this spread about {needed} pairs would decide it "
        f"(--max-sessions {needed}, about {minutes:.0f} min at {pair_seconds:.0f} s a pair)"
    )


def _out_of_reach(pairs: int, cap: int) -> str:
    """Why a paired test got no more sessions (paired/schedule.py)."""
    return (
        f"{STOPPED_AFTER}{pairs} pairs: even at the far end of its interval the change "
        f"would not be called a regression within {cap} pairs, so no more were run"
    )


RULE_WORDS = {
    "holm": "Holm (family-wise)",
    "bh": "Benjamini-Hochberg (false-discovery rate)",
    "none": "no adjustment",
}


def _withdrawn(
    metric: str,
    status: str,
    scope: tuple[str, str, int],
    p: float,
    adjusted: float,
    alpha: float,
) -> str:
    """A call the family rule withdrew; ``scope`` is (rule, run or first-step, members)."""
    rule, step, members = scope
    if step == "run":
        words = f"{RULE_WORDS[rule]} over the run's {members} comparisons"
    else:
        words = f"{RULE_WORDS[rule]}, first step over the session's {members} comparisons"
    said = f"p {p:.2g}, adjusted {adjusted:.2g} > {alpha:g}"
    return f"{metric}: {status} withdrawn by {words} ({said})"


# -- machine capacity (excuse.py) ---------------------------------------------------


def _unmeasured_in_baseline(head: Capacity) -> str:
    return (
        f"capacity not measured in the baseline (this run had {fmt.capacity_words(head)}): "
        "a busier machine cannot be told from a regression"
    )


def _unmeasured_in_run(base: Capacity) -> str:
    return (
        f"capacity not measured in this run (the baseline had {fmt.capacity_words(base)}): "
        "a busier machine cannot be told from a regression"
    )


def _capacity_headline(base: Capacity, head: Capacity, busier: bool) -> str:
    word = "busier" if busier else "quieter"
    return (
        f"machine {word}: capacity {fmt.capacity_words(head)} now vs "
        f"{fmt.capacity_words(base)} in the baseline"
    )


def _capacity_differs(
    base: Capacity, head: Capacity, busier: bool, workers: int, kept: float | None, tolerance: float
) -> str:
    could = fmt.percent(kept) if kept is not None else "more"
    return (
        f"{_capacity_headline(base, head, busier)}; the {workers} workers could use {could} of "
        f"what they had then, a change beyond the {fmt.percent(tolerance)} a comparison "
        "tolerates: not judged (rerun on a quiet machine, or measure both with parscale paired)"
    )


def _capacity_judged(base: Capacity, head: Capacity, refused: Note) -> str:
    return f"{_capacity_headline(base, head, True)}; but {note_text(refused)}: judged"


def _capacity_busier_stands(base: Capacity, head: Capacity) -> str:
    headline = _capacity_headline(base, head, True)
    return f"{headline}; the verdict stands: less capacity cannot hide a loss"


def _capacity_quieter_stands(base: Capacity, head: Capacity) -> str:
    return (
        f"{_capacity_headline(base, head, False)}; the verdict stands, but the extra capacity "
        "may hide a loss or explain a gain of about that size"
    )


def _own_unmeasured() -> str:
    return (
        "this tree's own CPU was not measured on both sides, so the loss cannot be "
        "shown to be external"
    )


def _own_fell(before: float, after: float) -> str:
    return (
        f"this tree itself used {after:.2f} cores against {before:.2f}: the code "
        "may have left the cores idle that others then took"
    )


def _beyond_capacity(explained: float) -> str:
    return (
        f"the speedup may have fallen by more than that could explain "
        f"(at most {fmt.percent(-explained)})"
    )


# -- a history baseline (history.py) ------------------------------------------------


def _against_single(path: str) -> str:
    return f"the single run {path}"


def _against_history(
    path: str, runs: int, window: int, minimum: int, pooled: int | None, crowded: Note | None
) -> str:
    """What a history baseline is: the line a report's "judged against" says."""
    text = (
        f"the history {path} ({runs} runs): each test against the spread between its last "
        f"{window} runs at most (fitted on capacity where theirs varies), the single-run "
        f"rule below {minimum}"
    )
    if pooled is not None:
        text += f"; spreads pooled across its {pooled} tests (empirical Bayes)"
    return text if crowded is None else f"{text}; warning: {note_text(crowded)}"


def _crowded_window(count: int, minutes: float, hours: float) -> str:
    return (
        f"its last {count} runs were saved within {minutes:.0f} min of each other (less "
        f"than {hours:g} h): their spread has seen few machine states and may understate a "
        "later run's; save runs hours or days apart, or judge with parscale paired"
    )


def _against_pairs(pairs: int) -> str:
    return (
        f"paired sessions on this machine: {pairs} pairs in ABBA order, each test judged on "
        "its per-pair differences, the error spent over the looks"
    )


def _history_single(count: int, minimum: int) -> str:
    return (
        f"history has {count} comparable run(s) of this test, fewer than "
        f"{minimum}: judged against the latest run alone (single-run rule)"
    )


def _history_spread(count: int) -> str:
    return f"judged against the spread between the last {count} runs of the history"


def _history_pooled(tests: int, variance: float, freedom: float) -> str:
    degrees = "inf" if math.isinf(freedom) else f"{freedom:.1f}"
    return (
        f"spread pooled with the history's {tests} tests (empirical Bayes: prior sd "
        f"{math.sqrt(variance):.3f} of log speedup on {degrees} degrees of freedom)"
    )


def _history_fit(
    count: int,
    slope: float,
    expected: float,
    head: Capacity,
    outside: tuple[float, float, float] | None,
) -> str:
    """The fitted line's verdict; ``outside`` (lowest, highest, now) when extrapolated."""
    text = (
        f"judged against the last {count} runs of the history, speedup fitted on "
        f"capacity (slope {slope:.2f}): expected {fmt.speedup(expected)} at "
        f"{fmt.capacity(head)} cores"
    )
    if outside is None:
        return text
    low, high, now = outside
    return text + (
        f", outside the {fmt.percent(low)}..{fmt.percent(high)} of its "
        f"workers the runs' machines could feed ({fmt.percent(now)} now): "
        "extrapolated, and weighed against the run of nearest capacity"
    )


def _history_unmeasured_in_run() -> str:
    return "capacity not measured in this run: a busier machine cannot be told from a regression"


def _history_unmeasured_in_runs(unknown: int, count: int) -> str:
    return (
        f"capacity not measured in {unknown} of the {count} runs judged against "
        "(schema v1): a busier machine cannot be told from a regression there"
    )


_WORDS: dict[str, Callable[..., str]] = {
    "engine": _engine,
    "config": _config,
    "error": _error,
    "workers-differ": _workers_differ,
    "few-rounds": _few_rounds,
    "pairs": _pairs,
    "against-single": _against_single,
    "against-history": _against_history,
    "against-pairs": _against_pairs,
    "crowded-window": _crowded_window,
    "projection": _projection,
    "out-of-reach": _out_of_reach,
    "withdrawn": _withdrawn,
    "capacity-unmeasured-in-baseline": _unmeasured_in_baseline,
    "capacity-unmeasured-in-run": _unmeasured_in_run,
    "capacity-differs": _capacity_differs,
    "capacity-judged": _capacity_judged,
    "capacity-busier-stands": _capacity_busier_stands,
    "capacity-quieter-stands": _capacity_quieter_stands,
    "own-unmeasured": _own_unmeasured,
    "own-fell": _own_fell,
    "beyond-capacity": _beyond_capacity,
    "history-single": _history_single,
    "history-spread": _history_spread,
    "history-pooled": _history_pooled,
    "history-fit": _history_fit,
    "history-unmeasured-in-run": _history_unmeasured_in_run,
    "history-unmeasured-in-runs": _history_unmeasured_in_runs,
}
