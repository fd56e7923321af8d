"""Calibration across runs by simulation (issue 21): histories, family rules, pooling,
paired runs. Part of benchmarks/calibration.py, which writes the table; no timing."""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pytest_parscale.results import Record
from pytest_parscale.stats import Interval

NOMINAL = 0.025  # a side, at the default confidence 0.95


# -- histories: one run against the spread of the last K -------------------------------

THRESHOLD = 0.10  # the default speedup threshold


def history_p_values(rng: Any, cases: int, runs: int, sigma: Any, true: float) -> list[float]:
    """Each case's p-value of a regression beyond the threshold (history.Band: exact t)."""
    from pytest_parscale.history import _band

    found = []
    for case in range(cases):
        spread = float(sigma[case]) if hasattr(sigma, "__len__") else float(sigma)
        logs = [float(v) for v in rng.normal(0, spread, runs)]
        shift = float(rng.normal(math.log1p(true), spread))
        band = _band(logs)
        beyond = math.log1p(-THRESHOLD) - (shift - band.centre)
        found.append(band.p_values(beyond, -math.inf)[0])
    return found


@dataclass(frozen=True)
class HistoryRow:
    what: str
    true: float
    sigma: str
    trials: int
    called: float  # share of trials (cases, or runs for a family) called a regression

    @property
    def met(self) -> bool | None:
        if self.true < -THRESHOLD:
            return None  # a detection rate: no level to keep
        slack = 2 * math.sqrt(NOMINAL * (1 - NOMINAL) / self.trials)
        return self.called <= NOMINAL + slack


def history_table(trials: int) -> list[HistoryRow]:
    """One case against 10 runs (the shipped rule), and suites of 48 cases per family rule."""
    import numpy as np

    from pytest_parscale.family import adjust

    rows = []
    for sigma in (0.05, 0.10):
        for true in (0.0, -THRESHOLD, -0.25):
            rng = np.random.default_rng(21)
            called = sum(
                history_p_values(rng, 1, 10, sigma, true)[0] <= NOMINAL for _ in range(trials)
            )
            rows.append(
                HistoryRow("one case, 10 runs", true, f"{sigma:.2f}", trials, called / trials)
            )
    suites = max(50, trials // 20)
    for rule in ("none", "bh", "holm"):
        for true in (0.0, -THRESHOLD):
            rng = np.random.default_rng(22)
            alarms = 0
            for _ in range(suites):
                p_values = history_p_values(rng, 48, 10, rng.uniform(0.03, 0.12, 48), true)
                alarms += min(adjust(p_values, rule)) <= NOMINAL
            what = f"48-case suite, family {rule}: runs with any call"
            rows.append(HistoryRow(what, true, "0.03-0.12", suites, alarms / suites))
    return rows


def pooled_table(trials: int) -> list[HistoryRow]:
    """Why the between-run spread is not pooled across a run's tests: an empirical-Bayes
    (limma-style) moderated spread, its prior's degrees of freedom capped by the tests'
    correlation, judged at the threshold: on average, and for the noisiest test (the
    last: spreads rise with the index)."""
    import numpy as np

    rows = []
    for label, spreads, shared in (
        ("equal spreads, independent", np.full(12, 0.07), 0.0),
        ("spreads 0.03-0.12, independent", np.linspace(0.03, 0.12, 12), 0.0),
        ("spreads 0.02-0.10 + a shared shock 0.05", np.linspace(0.02, 0.10, 12), 0.05),
    ):
        for method in ("own spread (shipped)", "pooled across tests"):
            rng = np.random.default_rng(23)
            calls = np.zeros(12)
            for _ in range(trials):
                shock = rng.normal(0, shared, 11) if shared else np.zeros(11)
                values = rng.normal(0, 1, (12, 11)) * spreads[:, None] + shock[None, :]
                calls += _pooled_calls(values, method != "own spread (shipped)")
            for which, share in (("mean over tests", calls.mean()), ("noisiest test", calls[-1])):
                what = f"{label}: {method}, {which}"
                rows.append(HistoryRow(what, -THRESHOLD, "", trials, float(share / trials)))
    return rows


def _pooled_calls(values: Any, pooled: bool) -> Any:
    """Which of the tests (rows: 10 runs then the head, shifted to the threshold) call."""
    import numpy as np
    from scipy import special, stats

    history, head = values[:, :10], values[:, 10] + math.log1p(-THRESHOLD)
    variance, freedom = history.var(1, ddof=1), np.full(len(values), 9.0)
    if pooled:
        scores = np.log(variance) - special.digamma(4.5) + math.log(4.5)
        excess = np.var(scores, ddof=1) - special.polygamma(1, 4.5)
        prior = 1e6 if excess <= 0 else 2 * _trigamma_inverse(excess)
        centre = math.exp(scores.mean() + special.digamma(prior / 2) - math.log(prior / 2))
        residuals = history - history.mean(1, keepdims=True)
        squared = np.corrcoef(residuals)[~np.eye(len(values), dtype=bool)] ** 2
        shared = max(0.0, (squared.mean() - 1 / 9) / (1 - 1 / 9))
        prior = min(prior, 9 * max(0.0, len(values) / (1 + (len(values) - 1) * shared) - 1))
        variance = (prior * centre + 9 * variance) / (prior + 9)
        freedom = freedom + prior
    scale = np.sqrt(variance * (1 + 1 / 10))
    statistic = (math.log1p(-THRESHOLD) - (head - history.mean(1))) / scale
    return stats.t.sf(statistic, freedom) <= NOMINAL


def _trigamma_inverse(value: float) -> float:
    from scipy import special

    guess = 0.5 + 1 / value
    for _ in range(50):
        step = special.polygamma(1, guess) * (1 - special.polygamma(1, guess) / value)
        step /= special.polygamma(2, guess)
        guess += step
        if -step / guess < 1e-8:
            break
    return float(guess)


# -- paired runs: sessions of both sides alternating on one machine -----------------

PAIR_ROUNDS = 2  # rounds a session measures (paired.SESSION_ROUNDS)
MIN_PAIRS, MAX_PAIRS = 3, 10  # paired.MIN_SESSIONS, paired.MAX_SESSIONS
TEMPLATE = Record(
    nodeid="t.py::test_paired[pool]",
    backend="pool",
    kind="map",
    workers_requested=2,
    workers=2,
    oversubscribed=False,
    item_size=None,
    item_count=None,
    chunksize=None,
    serial=[],
    parallel=[],
    transport=[],
    speedup=Interval(2.0, 2.0, 2.0, 0.95),
    transport_share=None,
    efficiency=1.0,
    karp_flatt=None,
    projection=None,
    requirements=[],
    verdict="pass",
    rounds=0,
    elapsed=0.0,
    warmup_seconds=0.0,
    stop_reason="decided",
    executor={},
)


@dataclass(frozen=True)
class PairedRule:
    """How a paired run orders its sessions (each judged pair by pair, looks spent)."""

    name: str
    abba: bool  # the order of the sides alternates pair by pair (else base first)


PAIRED_RULES = (
    PairedRule("base first in every pair", False),
    PairedRule("shipped: ABBA", True),
)


def paired_sessions(
    rng: Any, pairs: int, change: float, abba: bool, disturbed: float = 0.0
) -> tuple[list[tuple[list[float], list[float]]], list[tuple[list[float], list[float]]]]:
    """Each side's sessions, ``(serial, parallel)`` rounds each, as a paired run meets them.

    A pair's two sessions share the machine's state of the moment (sd 0.06 of log
    speedup), each session adds its own (0.03), the first session of a pair runs 3%
    slower (a cold start) and the very first session 5% more; rounds have an sd of log
    time of 0.08; a ``disturbed`` share of sessions, either side, lose 20-50% of their
    speedup to a neighbour's burst. The head's true speedup is the base's times
    ``1 + change``.
    """
    import numpy as np

    sides: dict[str, list[tuple[list[float], list[float]]]] = {"base": [], "head": []}
    for pair in range(pairs):
        state = rng.normal(0, 0.06)
        order = ("head", "base") if abba and pair % 2 else ("base", "head")
        for position, side in enumerate(order):
            level = math.log(2.0) + state + rng.normal(0, 0.03)
            level += math.log1p(change) if side == "head" else 0.0
            level -= 0.03 if position == 0 else 0.0
            level -= 0.05 if pair == 0 and position == 0 else 0.0
            if rng.random() < disturbed:
                level += math.log(rng.uniform(0.5, 0.8))
            parallel = [float(v) for v in np.exp(rng.normal(0, 0.08, PAIR_ROUNDS))]
            serial = [p * math.exp(level + rng.normal(0, 0.08)) for p in parallel]
            sides[side].append((serial, parallel))
    return sides["base"], sides["head"]


def paired_verdict(
    base: Sequence[tuple[list[float], list[float]]],
    head: Sequence[tuple[list[float], list[float]]],
    look: int,
    final: bool,
) -> str:
    """The status of the one test after these pairs of sessions, at this look's level
    (paired.pairwise, as parscale paired judges it)."""
    from pytest_parscale.paired.pairwise import compare_pairs, look_confidence
    from pytest_parscale.thresholds import DEFAULT_FAIL_ON

    def record(sessions: Sequence[tuple[list[float], list[float]]]) -> Record:
        serial = [v for s, _ in sessions for v in s]
        parallel = [v for _, p in sessions for v in p]
        return dataclasses.replace(TEMPLATE, serial=serial, parallel=parallel)

    pairs = [(record([b]), record([h])) for b, h in zip(base, head, strict=True)]
    confidence = look_confidence(look, 1 - 2 * NOMINAL, final=final)
    return compare_pairs(pairs, DEFAULT_FAIL_ON, confidence=confidence).status.value


def paired_run(
    rng: Any, change: float, rule: PairedRule, disturbed: float = 0.0
) -> tuple[str, int]:
    """The verdict a paired run reaches, and the pairs it took: at least MIN_PAIRS, then
    one more pair while the test is uncertain, MAX_PAIRS at most (the last look final)."""
    base, head = paired_sessions(rng, MAX_PAIRS, change, rule.abba, disturbed)
    status = "uncertain"
    for pairs in range(MIN_PAIRS, MAX_PAIRS + 1):
        final = pairs == MAX_PAIRS
        look = pairs - MIN_PAIRS + 1
        status = paired_verdict(base[:pairs], head[:pairs], look, final)
        if status != "uncertain":
            return status, pairs
    return status, MAX_PAIRS


@dataclass(frozen=True)
class PairedRow:
    rule: str
    change: float
    trials: int
    called: float  # a regression
    decided: float  # a regression or a change ruled out (unchanged, improvement)
    pairs: float  # mean pairs run

    @property
    def met(self) -> bool | None:
        if self.change < -THRESHOLD - 1e-9:
            return None  # beyond the threshold: a detection rate
        slack = 2 * math.sqrt(NOMINAL * (1 - NOMINAL) / self.trials)
        return self.called <= NOMINAL + slack


def paired_table(trials: int) -> list[PairedRow]:
    """Each rule at -5% (inside the threshold), -10% (at it), -15% and -25%."""
    import numpy as np

    rows = []
    cases = [(rule, 0.0) for rule in PAIRED_RULES] + [(PAIRED_RULES[-1], 0.1)]
    for rule, disturbed in cases:
        count = trials
        name = rule.name + (f"; {disturbed:.0%} of sessions disturbed" if disturbed else "")
        for change in (-0.05, -THRESHOLD, -0.15, -0.25):
            rng = np.random.default_rng(24)
            runs = [paired_run(rng, change, rule, disturbed) for _ in range(count)]
            called = sum(status == "regression" for status, _ in runs) / count
            decided = sum(status != "uncertain" for status, _ in runs) / count
            pairs = statistics.fmean(taken for _, taken in runs)
            rows.append(PairedRow(name, change, count, called, decided, pairs))
    return rows


def history_lines(rows: Sequence[HistoryRow]) -> list[str]:
    lines = [
        "| case | true change | sd | trials | called | level kept |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        kept = "-" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(
            f"| {row.what} | {row.true:+.0%} | {row.sigma or '-'} | {row.trials} | "
            f"{row.called:.1%} | {kept} |"
        )
    return lines
