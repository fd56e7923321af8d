"""Calibration of the verdict rules by simulation (issue 21): no timing, any time.

Synthetic rounds drawn like the ones measured here (log-normal rounds with a sd of
log time of 0.05-0.10, a slow drift both runs of a round share, and occasional slow
outliers, 1.3-3x, on either run) go through the product's own rules: the in-run
engine's looks (measure._should_check) judged by record.verdict_intervals. The true
speedup is the ratio of the two runs' medians, set at the bar, 1.05x and 1.2x the
bar. A wrong verdict at the bar is either call (each side's rate must stay <= the
nominal 2.5%); above it, FAIL is wrong. Seeded: the table is a function of the code.

    python benchmarks/calibration.py            # writes benchmarks/CALIBRATION.md
    python benchmarks/calibration.py --quick    # fewer trials, to try it
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_parscale.measure import Samples, _should_check
from pytest_parscale.record import verdict_intervals
from pytest_parscale.stats import Interval, ratio_of_medians_ci
from pytest_parscale.verdicts import Requirement, Verdict

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "CALIBRATION.md"
NOMINAL = 0.025  # a side, at the default confidence 0.95
RATIOS = (1.0, 1.05, 1.2)  # true speedup over the bar
SIGMAS = (0.05, 0.10)  # sd of log time of one run


def looks(min_rounds: int, max_rounds: int) -> list[int]:
    """The round counts at which the engine judges (measure.run's schedule)."""
    found, checked = [], 0
    for rounds in range(1, max_rounds + 1):
        if _should_check(rounds, checked, min_rounds):
            found.append(rounds)
            checked = rounds
    return found


def synthetic_rounds(
    rng: Any, count: int, true: float, sigma: float, outliers: float = 0.05
) -> tuple[list[float], list[float]]:
    """``count`` (serial, parallel) rounds whose true ratio of medians is ``true``.

    Both runs get the same outlier rate and noise, so each run's median moves alike
    and their ratio stays ``true``; the drift is shared by both runs of a round.
    """
    import numpy as np

    drift = np.exp(np.cumsum(rng.normal(0, 0.02, count)))

    def run() -> Any:
        slow = np.where(rng.random(count) < outliers, rng.uniform(1.3, 3, count), 1.0)
        return drift * np.exp(rng.normal(0, sigma, count)) * slow

    serial = run() * true
    return [float(v) for v in serial], [float(v) for v in run()]


Judge = Callable[[Sequence[float], Sequence[float], list[int], bool], Interval]


def sequential_judge(
    serial: Sequence[float], parallel: Sequence[float], seen: list[int], final: bool
) -> Interval:
    """The shipped rule: per-round votes, error spent over the looks (sequential.py)."""
    samples = Samples(list(serial), list(parallel), looks=list(seen))
    return verdict_intervals(samples, 0.95, final=final)["speedup"]


def bootstrap_judge(
    serial: Sequence[float], parallel: Sequence[float], seen: list[int], final: bool
) -> Interval:
    """The rule before issue 21: a 95% bootstrap interval at every look, uncorrected."""
    return ratio_of_medians_ci(serial, parallel, confidence=0.95, resamples=1000)


def engine(
    serial: Sequence[float], parallel: Sequence[float], schedule: list[int], judge: Judge
) -> tuple[Verdict, int]:
    """The verdict the engine reaches with these rounds, and the rounds it took.

    It judges at each look and stops at the first decisive one; the last look is
    the one the budget ends (max_rounds), which spends the error left.
    """
    bar = Requirement("speedup", 1.0, 1.0, True)
    verdict = Verdict.UNDECIDED
    for index, rounds in enumerate(schedule):
        final = index == len(schedule) - 1
        verdict = bar.judge(judge(serial[:rounds], parallel[:rounds], schedule[: index + 1], final))
        if verdict is not Verdict.UNDECIDED:
            return verdict, rounds
    return verdict, schedule[-1]


@dataclass(frozen=True)
class Row:
    rule: str
    ratio: float
    sigma: float
    max_rounds: int
    trials: int
    failed: float
    passed: float
    rounds: float  # median rounds to a verdict, decided trials only

    @property
    def decided(self) -> float:
        return self.failed + self.passed

    @property
    def wrong(self) -> float:
        """The wrong calls: either side at the bar, FAIL above it."""
        return self.failed if self.ratio > 1 else max(self.failed, self.passed)

    @property
    def slack(self) -> float:
        """Two standard errors of a rate at the nominal one over these trials."""
        return 2 * math.sqrt(NOMINAL * (1 - NOMINAL) / self.trials)

    @property
    def met(self) -> bool:
        """Each side within the nominal rate, up to the simulation's own noise."""
        limit = NOMINAL + self.slack
        return self.failed <= limit and (self.ratio > 1 or self.passed <= limit)


def in_run_row(
    ratio: float,
    sigma: float,
    *,
    trials: int,
    seed: int = 21,
    max_rounds: int = 40,
    judge: Judge = sequential_judge,
    rule: str = "sequential",
) -> Row:
    """One row of the table: ``trials`` simulated tests at true speedup ``ratio`` x bar."""
    import numpy as np

    rng = np.random.default_rng(seed)
    schedule = looks(5, max_rounds)
    failed = passed = 0
    taken = []
    for _ in range(trials):
        serial, parallel = synthetic_rounds(rng, schedule[-1], ratio, sigma)
        verdict, rounds = engine(serial, parallel, schedule, judge)
        failed += verdict is Verdict.FAIL
        passed += verdict is Verdict.PASS
        if verdict is not Verdict.UNDECIDED:
            taken.append(rounds)
    median = statistics.median(taken) if taken else float("nan")
    return Row(rule, ratio, sigma, max_rounds, trials, failed / trials, passed / trials, median)


def in_run_table(trials: int, old_trials: int) -> list[Row]:
    rows = [
        in_run_row(ratio, sigma, trials=trials, max_rounds=rounds)
        for rounds in (20, 40, 100)
        for sigma in SIGMAS
        for ratio in RATIOS
    ]
    rows += [
        in_run_row(ratio, 0.10, trials=old_trials, judge=bootstrap_judge, rule="old: 95% per look")
        for ratio in RATIOS
    ]
    return rows


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


def markdown(
    rows: Sequence[Row],
    histories: Sequence[HistoryRow],
    pooled: Sequence[HistoryRow],
    minutes: float,
    command: str,
) -> str:
    lines = [
        "# Calibration of the verdict rules (simulated, issue 21)",
        "",
        f"Written by `{command}` in {minutes:.1f} min; seeded, no timing. A wrong call "
        f"must stay <= {NOMINAL:.1%} a side, up to two standard errors of the simulation.",
        "",
        "## In-run verdicts (`min=` bar) under the engine's adaptive looks",
        "",
        "Rounds: log-normal with the sd of log time shown, a drift both runs of a round "
        "share, 5% slow outliers (1.3-3x) on each run. Wrong: either call at the bar, FAIL "
        "above it. At the bar the per-round votes are fair coins whatever the sd, so the "
        "rows at the bar agree across sds.",
        "",
        "| rule | true / bar | sd | max rounds | trials | FAIL | PASS | decided | "
        "median rounds | level kept |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.rule} | {row.ratio:.2f} | {row.sigma:.2f} | {row.max_rounds} | "
            f"{row.trials} | {row.failed:.1%} | {row.passed:.1%} | {row.decided:.1%} | "
            f"{row.rounds:g} | {'yes' if row.met else '**no**'} |"
        )
    lines += [
        "",
        "## History baselines: one run against the spread of the last 10",
        "",
        "Log speedup per worker of each run normal with the between-run sd shown; the head "
        f"one more run at the true change. Called: a regression beyond the {THRESHOLD:.0%} "
        "threshold (exact t prediction band). At -10% (the threshold) a call is wrong; at "
        "0 (unchanged code) too; at -25% it is a detection. Suites: 48 cases whose sds "
        "spread over 0.03-0.12, each judged alone, then over the run's family.",
        "",
        *_history_lines(histories),
        "",
        "## Pooling the between-run spread across a run's tests (not shipped)",
        "",
        "12 tests, 10 runs each, every head at the threshold (-10%): the share of runs in "
        "which a test is called, on average over the tests and for the noisiest. Pooled: "
        "an empirical-Bayes moderated spread (limma's), its prior's degrees of freedom "
        "capped by the tests' correlation. It narrows the band by ~9% when the spreads are "
        "equal, but shrinks the noisiest test's spread towards the others': its wrong "
        "calls exceed the level, so each test keeps its own spread.",
        "",
        *_history_lines(pooled),
    ]
    return "\n".join(lines) + "\n"


def _history_lines(rows: Sequence[HistoryRow]) -> list[str]:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    options = parser.parse_args(argv)
    started = time.perf_counter()
    trials, old = (400, 100) if options.quick else (4000, 400)
    rows = in_run_table(trials, old)
    histories = history_table(trials)
    pooled = pooled_table(trials // 2)
    command = "python benchmarks/calibration.py" + (" --quick" if options.quick else "")
    text = markdown(rows, histories, pooled, (time.perf_counter() - started) / 60, command)
    options.output.write_text(text)
    print(text)
    print(f"written: {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
