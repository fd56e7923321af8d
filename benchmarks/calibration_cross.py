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


SPREADS = {  # a suite's between-run sds of log speedup, 48 tests: label -> (low, high)
    "0.03-0.15": (0.03, 0.15),
    "0.05-0.10": (0.05, 0.10),
    "all 0.07": (0.07, 0.07),
}


def moderated_suite(
    rng: Any, spread: tuple[float, float], runs: int, true: float, pooled: bool
) -> tuple[bool, bool, bool]:
    """One run of a 48-test suite against ``runs`` saved runs, judged as history.py
    does (each test's band, pooled with the suite's prior or not, then Holm): (any
    call, the dropped test called, the noisiest test called before Holm). Every test
    sits at ``true``, except at -25%: then one random test drops, the others stay."""
    import numpy as np

    from pytest_parscale.family import adjust
    from pytest_parscale.history import _band
    from pytest_parscale.moderation import estimate_prior

    low, high = spread
    sigma = np.exp(rng.uniform(math.log(low), math.log(high), 48))
    history = rng.normal(0, 1, (48, runs)) * sigma[:, None]
    changes = np.full(48, math.log1p(true if true >= -THRESHOLD else 0.0))
    dropped = int(rng.integers(48))
    changes[dropped] = math.log1p(true)
    heads = rng.normal(0, 1, 48) * sigma + changes
    prior = None
    if pooled:
        prior = estimate_prior(list(history.var(1, ddof=1)), [runs - 1] * 48)
    p_values = []
    for logs, head in zip(history, heads, strict=True):
        band = _band([float(v) for v in logs], prior)
        p_values.append(band.p_values(math.log1p(-THRESHOLD) - (head - band.centre), -math.inf)[0])
    called = [p <= NOMINAL for p in adjust(p_values, "holm")]
    return any(called), called[dropped], p_values[int(np.argmax(sigma))] <= NOMINAL


def moderated_table(suites: int) -> list[HistoryRow]:
    """48-test suites of different noise, K = 5 and 10 runs, each test's own spread
    against the spread pooled over the suite (moderation.py): runs with any call at
    the threshold and unchanged, the noisiest test's own calls at the threshold, and
    the detection of one test's -25% drop."""
    import numpy as np

    rows = []
    for label, spread in SPREADS.items():
        for runs in (5, 10):
            for pooled in (False, True):
                how = f"K={runs}, " + ("pooled (shipped)" if pooled else "own spread")
                for true in (-THRESHOLD, 0.0, -0.25):
                    rng = np.random.default_rng(25)
                    found = [
                        moderated_suite(rng, spread, runs, true, pooled) for _ in range(suites)
                    ]
                    if true < -THRESHOLD:
                        share, what = sum(f[1] for f in found), "the dropped test called"
                    else:
                        share, what = sum(f[0] for f in found), "runs with any call"
                    rows.append(HistoryRow(f"{how}: {what}", true, label, suites, share / suites))
                    if true == -THRESHOLD:
                        noisiest = sum(f[2] for f in found) / suites
                        what = f"{how}: noisiest test, per test (no family)"
                        rows.append(HistoryRow(what, true, label, suites, noisiest))
    return rows


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
