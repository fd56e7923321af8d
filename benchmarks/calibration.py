"""Calibration of the verdict rules by simulation (issue 21): no timing, any time.

Synthetic rounds drawn like the ones measured here (log-normal rounds with a sd of
log time of 0.05-0.10, a slow drift both runs of a round share, and occasional slow
outliers, 1.3-3x, on either run) go through the product's own rules: the in-run
engine's looks (measure.schedule) judged by record.verdict_intervals. The true
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

from calibration_cross import (
    HARD_DROP,
    MAX_PAIRS,
    MIN_PAIRS,
    PAIR_ROUNDS,
    THRESHOLD,
    HistoryRow,
    PairedRow,
    SuiteRow,
    history_lines,
    history_table,
    moderated_table,
    paired_table,
    suite_lines,
    suite_table,
)

from pytest_parscale.measure import Samples, schedule
from pytest_parscale.paired.schedule import looks
from pytest_parscale.record import verdict_intervals
from pytest_parscale.stats import Interval, ratio_of_medians_ci
from pytest_parscale.verdicts import Requirement, Verdict

HERE = Path(__file__).resolve().parent
HARD_CAPS = (60, 90, 120)  # caps tried for the drop case in the live benchmark's hardest state
OUTPUT = HERE / "CALIBRATION.md"
NOMINAL = 0.025  # a side, at the default confidence 0.95
RATIOS = (1.0, 1.05, 1.2)  # true speedup over the bar
SIGMAS = (0.05, 0.10)  # sd of log time of one run


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
    serial: Sequence[float], parallel: Sequence[float], looks: list[int], judge: Judge
) -> tuple[Verdict, int]:
    """The verdict the engine reaches with these rounds, and the rounds it took.

    It judges at each look and stops at the first decisive one; the last look is
    the one the budget ends (max_rounds), which spends the error left.
    """
    bar = Requirement("speedup", 1.0, 1.0, True)
    verdict = Verdict.UNDECIDED
    for index, rounds in enumerate(looks):
        final = index == len(looks) - 1
        verdict = bar.judge(judge(serial[:rounds], parallel[:rounds], looks[: index + 1], final))
        if verdict is not Verdict.UNDECIDED:
            return verdict, rounds
    return verdict, looks[-1]


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
    looks = schedule(5, max_rounds)
    failed = passed = 0
    taken = []
    for _ in range(trials):
        serial, parallel = synthetic_rounds(rng, looks[-1], ratio, sigma)
        verdict, rounds = engine(serial, parallel, looks, judge)
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


def markdown(
    rows: Sequence[Row],
    histories: Sequence[HistoryRow],
    pooled: Sequence[HistoryRow],
    paired: Sequence[PairedRow],
    suite: Sequence[SuiteRow],
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
        *history_lines(histories),
        "",
        "## Pooling the between-run spread across a suite's tests (moderation.py)",
        "",
        "48 tests whose between-run sds of log speedup are drawn log-uniformly over the "
        "range shown, afresh each run; each judged against K saved runs, every head at the "
        "threshold (-10%: any call is wrong), unchanged (0), or all unchanged but one random "
        "test dropped 25% (its detection). Holm over the 48. Own spread: each test's band on "
        "its K - 1 degrees of freedom; pooled: its variance moderated with the suite's "
        "prior (empirical Bayes, method of moments on the log variances). The noisiest "
        "test's row is its own call rate at the threshold before Holm: pooling pulls its "
        "spread towards the others', so it exceeds the per-test level.",
        "",
        *history_lines(pooled),
        "",
        "## Paired runs: sessions of both sides alternating",
        "",
        f"{PAIR_ROUNDS} rounds a session; looks at "
        f"{', '.join(map(str, looks(MIN_PAIRS, MAX_PAIRS)))} "
        "pairs while the test is open (parscale paired's own session loop, "
        "paired.sessions.measure, fed made-up sessions). A pair's sessions share the machine's "
        "state (sd 0.06 of log speedup), each adds its own (0.03), the first of a pair runs "
        "3% slower and the very first 5% more. Called: a regression; at -5% (inside the "
        "threshold) and -10% (at it) a call is wrong; decided: called or ruled out. Each "
        "test is judged on its per-pair differences (paired.pairwise), the looks spent. The "
        "rule before issue 21 (each side's sessions pooled, a cluster bootstrap, base first, "
        "95% at every look) caught 86.5% of -25% drops and ruled out 41.5% of -5% drifts "
        "only thanks to the first-of-a-pair bias, in the same simulation (200 runs).",
        "",
        "| rule | true change | trials | called | decided | mean pairs | level kept |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {row.rule} | {row.change:+.0%} | {row.trials} | {row.called:.1%} | "
            f"{row.decided:.1%} | {row.pairs:.1f} | "
            f"{'-' if row.met is None else ('yes' if row.met else '**no**')} |"
            for row in paired
        ),
        "",
        "## A paired run of a whole suite",
        "",
        "50 cases: 48 unchanged, whose per-pair sds of log speedup are the ones measured "
        "in 10 ABBA pairs of benchmarks/suite_scale.py's suite (4 ms items, a neighbour "
        "taking 40% of a core; 0.08-0.50, median 0.18), one dropped 25% (sd 0.17) and one "
        "drifted 5% (sd 0.2); each pair shares the machine's state (sd 0.03), and every "
        "case measures a transport share, so the family is 100 comparisons under Holm. "
        "parscale paired's own loop: looks on the schedule, tests closed when decided or "
        "out of reach, later sessions of the open tests only. Work counts the tests the "
        "sessions ran, in whole-suite sessions (a plain run of the suite is 1). The last "
        "rows put the drop case where the live benchmark's hardest state put it (a "
        "neighbour taking 40% of a core: -20% at a per-pair sd of 0.22, measured by the "
        "Action's confirmation over 60 pairs), at larger caps (`--max-sessions`).",
        "",
        *suite_lines(suite),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    options = parser.parse_args(argv)
    started = time.perf_counter()
    trials, old = (400, 100) if options.quick else (4000, 400)
    rows = in_run_table(trials, old)
    histories = history_table(trials)
    pooled = moderated_table(trials // 2)
    paired = paired_table(trials // 2)
    runs = 20 if options.quick else 100
    suite = [*suite_table(runs, (10, 60, MAX_PAIRS)), *suite_table(runs, HARD_CAPS, HARD_DROP)]
    command = "python benchmarks/calibration.py" + (" --quick" if options.quick else "")
    minutes = (time.perf_counter() - started) / 60
    text = markdown(rows, histories, pooled, paired, suite, minutes, command)
    options.output.write_text(text)
    print(text)
    print(f"written: {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
