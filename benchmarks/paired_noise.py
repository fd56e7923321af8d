"""Where a paired run's spread comes from, and what deciding a drop takes (issue 21).

benchmarks/suite_scale.py found ``parscale paired`` catching a real -25% drop in
a 50-case suite only some of the time. This says why, live: it runs the same suite
(benchmarks/suite_scale.py's BASE and HEAD) as ``parscale paired`` would, pairs of
sessions in ABBA order through pytest_parscale.paired.sessions.run_session, at
two or more amounts of work per item, with a neighbour taking a share of a core
throughout, and reports for each amount:

- the per-pair spread of the unchanged cases (sd of the log speedup differences);
- the share of it the sessions' own rounds explain (paired/spread.py): what more
  rounds or more work per round would shrink, against what only more pairs average;
- the pairs a paired run would need to call a -25% drop under Holm over the run's
  comparisons (spread.pairs_needed), for the drop case as measured and for a
  typical case's spread, and the minutes that takes at the measured pair time.

Run it alone on a quiet machine: it is a timing benchmark.

    ./scripts/run-benchmarks.sh paired-noise [--pairs 5] [--scales 1,4] [--load 0.4]

It writes benchmarks/PAIRED_NOISE.md.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "PAIRED_NOISE.md"
DROP = 0.25  # the drop suite_scale's HEAD gives its test_drop case
THRESHOLD = 0.10  # the default --fail-on for speedup
ALPHA = 0.025  # per side, at the default --confidence 0.95


@dataclass
class Scale:
    """What one amount of work per item measured."""

    scale: int
    pairs: int
    pair_seconds: float
    serial_ms: float  # median over the cases of a round's serial time
    spread: float  # median per-pair sd over the unchanged cases
    within: float  # median share of it in the sessions' own rounds
    members: int  # the run's compared metrics: Holm's family
    drop_spread: float
    drop_change: float  # the drop case's mean change, relative
    drop_needed: int | None  # pairs to call the drop case at its own spread
    typical_needed: int | None  # pairs to call a -25% drop at the median spread


def measure(scale: int, pairs: int, load: float, root: Path) -> Scale:
    """``pairs`` ABBA pairs of sessions of the suite at ``scale`` times the work."""
    from suite_scale import _changed, _git, _is, make_repo, neighbour, pytest_args

    from pytest_parscale.family import apply_family
    from pytest_parscale.paired.pooling import compare_paired, pool, test_pairs
    from pytest_parscale.paired.sessions import MIN_SESSIONS, SESSION_ROUNDS, order, run_session
    from pytest_parscale.paired.spread import log_differences, pairs_needed, project
    from pytest_parscale.storage import Results
    from pytest_parscale.thresholds import DEFAULT_FAIL_ON

    folder = root / f"x{scale}"
    folder.mkdir()
    repo, base, head = make_repo(folder, scale=scale)
    sha = {"base": base, "head": head}
    runs: dict[str, list[Results]] = {"base": [], "head": []}
    started = time.perf_counter()
    with neighbour(load):
        for pair in range(pairs):
            for side in order(pair):
                _git(repo, "checkout", "-q", sha[side])
                where = f"x{scale} {side} session {pair + 1}"
                output = root / f"x{scale}-{side}-{pair}"
                runs[side].append(
                    run_session(
                        repo,
                        Path("."),
                        pytest_args(False)[2:],
                        output.with_suffix(".json"),
                        output.with_suffix(".log"),
                        where,
                        rounds=SESSION_ROUNDS,
                    )
                )
                print(f"{where}: {time.perf_counter() - started:.0f} s so far", flush=True)
    seconds = (time.perf_counter() - started) / pairs
    pooled = (pool(runs["base"], "base"), pool(runs["head"], "head"))
    compared = compare_paired(runs["base"], runs["head"], pooled, DEFAULT_FAIL_ON)
    _, family = apply_family(compared, "holm", 1 - 2 * ALPHA)
    spreads, shares, serial = [], [], []
    drop = None
    for nodeid in sorted(runs["base"][0].records):
        workers = runs["base"][0].records[nodeid].workers
        kept = test_pairs(runs["base"], runs["head"], nodeid, (workers, workers))
        found = project(
            kept, THRESHOLD, ALPHA, min_pairs=MIN_SESSIONS, members=family.members, rule="holm"
        )
        if found is None:
            continue
        serial.append(statistics.median(statistics.median(b.serial) for b, _ in kept) * 1000)
        if _is(nodeid, "test_drop"):
            drop = (found, math.expm1(statistics.fmean(log_differences(kept))))
        elif not _changed(nodeid):
            spreads.append(found.spread)
            if found.within is not None:
                shares.append(found.within)
    if drop is None:
        raise RuntimeError("the drop case was not measured on 2 workers in every pair")
    spread = statistics.median(spreads)

    def needed(mean: float, sd: float) -> int | None:
        return pairs_needed(
            mean,
            sd,
            math.log1p(-THRESHOLD),
            ALPHA,
            min_pairs=MIN_SESSIONS,
            members=family.members,
        )

    return Scale(
        scale,
        pairs,
        seconds,
        statistics.median(serial),
        spread,
        statistics.median(shares) if shares else math.nan,
        family.members,
        drop[0].spread,
        drop[1],
        needed(math.log1p(drop[1]), drop[0].spread),
        needed(math.log1p(-DROP), spread),
    )


def _pairs(count: int | None, seconds: float) -> str:
    if count is None:
        return "over 200"
    return f"{count} ({count * seconds / 60:.0f} min)"


def markdown(found: Sequence[Scale], header: Sequence[str]) -> str:
    """The report: one row per amount of work, and the information per second."""
    lines = [
        "# Where a paired run's spread comes from (issue 21)",
        "",
        *header,
        "",
        "The 50-case suite of benchmarks/suite_scale.py (48 unchanged cases, a -25% drop, a",
        "-5% drift) run as `parscale paired` runs it: ABBA pairs of fresh sessions, 2 timed",
        "rounds after a warm-up each, with the neighbour on throughout. 'Pairs to call' is",
        "the fewest pairs a run capped there needs to call a -25% drop under Holm over the",
        "run's comparisons (pytest_parscale/paired/spread.py), if the mean and spread stay",
        "as measured.",
        "",
        "| work per item | pairs | s per pair | serial round | per-pair sd, median case | "
        "share in rounds | drop case measured | pairs to call it | pairs to call -25% at the "
        "median sd |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in found:
        lines.append(
            f"| x{row.scale} | {row.pairs} | {row.pair_seconds:.0f} | {row.serial_ms:.0f} ms | "
            f"{row.spread:.3f} | {row.within:.0%} | {row.drop_change:+.0%}, sd "
            f"{row.drop_spread:.3f} | {_pairs(row.drop_needed, row.pair_seconds)} | "
            f"{_pairs(row.typical_needed, row.pair_seconds)} |"
        )
    if len(found) > 1:
        first, last = found[0], found[-1]
        gain = (first.spread**2 * first.pair_seconds) / (last.spread**2 * last.pair_seconds)
        lines += [
            "",
            f"Information per second (1 / (variance x seconds per pair)) at x{last.scale} is "
            f"{gain:.1f} times that at x{first.scale}: more work per round shrinks the spread "
            "faster than it adds time.",
        ]
    lines += [
        "",
        f"Family: Holm over {found[0].members} compared metrics (speedup and transport "
        "share of every case).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="ABBA pairs at each amount of work")
    parser.add_argument(
        "--scales",
        default="1,4",
        help="work per item, as multiples of suite_scale's (~4 ms an item), comma-separated",
    )
    parser.add_argument(
        "--load", type=float, default=0.4, help="share of one core the neighbour takes"
    )
    parser.add_argument("--output", type=Path, default=OUTPUT)
    options = parser.parse_args(argv)
    if options.pairs < 2:
        parser.error(f"--pairs {options.pairs}: at least 2 pairs give a spread")
    try:
        scales = [int(value) for value in options.scales.split(",")]
    except ValueError:
        parser.error(f"--scales {options.scales!r}: whole numbers, comma-separated")
    if not scales or min(scales) < 1:
        parser.error(f"--scales {options.scales!r}: each at least 1")
    sys.path.insert(0, str(HERE))
    from run import busy_others, load_line, machine_lines

    started = time.perf_counter()
    header = [*machine_lines(), "- " + load_line("At start")]
    busy = busy_others()
    header.append("- Other busy processes at start: " + ("; ".join(busy) if busy else "none"))
    with tempfile.TemporaryDirectory() as root:
        found = [measure(scale, options.pairs, options.load, Path(root)) for scale in scales]
    command = "./scripts/run-benchmarks.sh paired-noise " + " ".join(argv or sys.argv[1:])
    minutes = (time.perf_counter() - started) / 60
    header += [
        "- " + load_line("At end"),
        f"- neighbour: {options.load:.0%} of a core throughout",
        f"- this call, `{command.strip()}`, took {minutes:.0f} min",
    ]
    text = markdown(found, header)
    options.output.write_text(text)
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
