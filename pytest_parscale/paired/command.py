"""``parscale paired BASE [HEAD]``: its arguments, and main, which prints the report.

Exit 0: no regression, 1: a regression or a test that failed on one side, 2: bad
usage, revision or session, 130: interrupted (the worktrees are removed either way).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pytest_parscale import argtypes
from pytest_parscale.exitcodes import ExitCode
from pytest_parscale.family import DEFAULT_RULE, RULES
from pytest_parscale.notewords import note_text
from pytest_parscale.paired.sessions import (
    MAX_SESSIONS,
    MIN_SESSIONS,
    SESSION_ROUNDS,
    SIDES,
    PairedResult,
    measure,
    terminate_as_interrupt,
)
from pytest_parscale.paired.spread import MOST_PAIRS, Projection
from pytest_parscale.paired.worktrees import (
    Checkouts,
    PairedError,
    checkouts,
    git,
    install,
    resolve,
    setup,
    snapshot,
)
from pytest_parscale.regression import Note, Status, TestChange
from pytest_parscale.thresholds import NOT_SAID, FailOn, effective_fail_on


def add_parser(commands: Any, formats: Sequence[str]) -> None:
    """Register ``paired`` on the ``parscale`` command (cli.py)."""
    paired = commands.add_parser(
        "paired",
        help="measure BASE and HEAD alternately on this machine; exit 1 on a regression",
        description="Check out BASE and HEAD (default: the working tree) into temporary git "
        "worktrees and run the marked tests alternately, each session a fresh pytest with "
        "the side's tree first on sys.path, pairs of sessions in ABBA order, each test judged "
        "on its per-pair differences against the threshold. Arguments after -- go to "
        "pytest. Exit 0: no regression, 1: a regression or a test that failed on one side, "
        "2: bad usage, revision or session.",
    )
    paired.add_argument("base", metavar="BASE", help="revision of the baseline")
    paired.add_argument(
        "head", metavar="HEAD", nargs="?", default=None, help="revision (default: working tree)"
    )
    paired.add_argument("--format", choices=formats, default="table")
    paired.add_argument("--fail-on", type=argtypes.fail_on, default=NOT_SAID, metavar="SPEC")
    paired.add_argument("--confidence", type=argtypes.fraction, default=0.95)
    paired.add_argument(
        "--family",
        choices=RULES,
        default=DEFAULT_RULE,
        help="error control over the compared tests: holm (any false alarm in the run, "
        "default), bh (false-discovery rate), none (each test alone)",
    )
    _add_session_options(paired)


def _add_session_options(paired: Any) -> None:
    """How many sessions run, of how many rounds, and how each tree is prepared."""
    paired.add_argument(
        "--budget",
        type=argtypes.seconds(),
        default=600.0,
        metavar="SECONDS",
        help="stop adding sessions past this (default 600; the minimum sessions always run)",
    )
    paired.add_argument(
        "--min-sessions",
        type=argtypes.whole_number(MIN_SESSIONS),
        default=MIN_SESSIONS,
        metavar="N",
        help=f"sessions per side at least (default {MIN_SESSIONS})",
    )
    paired.add_argument(
        "--max-sessions",
        type=argtypes.whole_number(MIN_SESSIONS),
        default=MAX_SESSIONS,
        metavar="N",
        help=f"sessions per side at most (default {MAX_SESSIONS})",
    )
    paired.add_argument(
        "--rounds",
        type=argtypes.whole_number(1),
        default=SESSION_ROUNDS,
        metavar="N",
        help=f"timed rounds per session after its warm-up (default {SESSION_ROUNDS}; "
        "--parscale-min-rounds after -- overrides it)",
    )
    paired.add_argument(
        "--install",
        action="store_true",
        help="build and install each tree (pip, no deps, no build isolation) into a "
        "temporary folder first on sys.path, instead of importing its sources",
    )
    paired.add_argument(
        "--setup",
        metavar="COMMAND",
        default=None,
        help="shell command run once in each checkout before measuring "
        "(e.g. build compiled extensions in place)",
    )


def main(
    arguments: argparse.Namespace,
    pytest_args: Sequence[str],
    render: Callable[..., str],
) -> int:
    """Run the paired measurement; ``render`` prints the report as `parscale compare` would.

    ``render`` takes the changes, both pooled sides, the thresholds, the mode
    (``paired``), what the verdict was judged against, the family and the confidence.
    """
    if arguments.max_sessions < arguments.min_sessions:
        print("parscale: error: --max-sessions is below --min-sessions", file=sys.stderr)
        return ExitCode.USAGE
    fail_on = effective_fail_on(None, arguments.fail_on)
    try:
        result = _measure(arguments, pytest_args, fail_on)
    except KeyboardInterrupt:
        print("parscale paired: interrupted; worktrees removed", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except PairedError as error:
        print(f"parscale: error: {error}", file=sys.stderr)
        return ExitCode.USAGE
    _progress(
        f"{result.sessions} sessions per side in {result.seconds:.0f} s"
        + (
            f"; budget spent with {len(result.uncertain)} test(s) still uncertain"
            if result.budget_spent
            else ""
        )
    )
    projected = projection_summary(result.changes)
    if projected:
        _progress(projected)
    judged = note_text(Note("against-pairs", (result.sessions,)))
    report = render(
        result.changes,
        result.base.results,
        result.head.results,
        fail_on,
        "paired",
        judged,
        result.family,
        arguments.confidence,
        paired={"pairs": result.sessions, "seconds": round(result.seconds, 1)},
    )
    print(report)
    failed = any(test.status in (Status.REGRESSION, Status.ERROR) for test in result.changes)
    return ExitCode.REGRESSION if failed else ExitCode.OK


def _progress(line: str) -> None:
    print(f"parscale paired: {line}", file=sys.stderr, flush=True)


def _measure(
    arguments: argparse.Namespace, pytest_args: Sequence[str], fail_on: FailOn
) -> PairedResult:
    """Check both sides out, prepare them, run the sessions; the worktrees go either way."""
    here = Path.cwd()
    repository = Path(git(["rev-parse", "--show-toplevel"], here))
    relative = here.resolve().relative_to(repository.resolve())
    with (
        terminate_as_interrupt(),
        checkouts(arguments.base, arguments.head, repository) as made,
    ):
        labels = {
            "base": f"{arguments.base} ({resolve(arguments.base, repository)[:12]})",
            "head": "working tree"
            if arguments.head is None
            else f"{arguments.head} ({resolve(arguments.head, repository)[:12]})",
        }
        for side in SIDES:
            _prepare(arguments, made, side, labels[side], repository)
        return measure(
            made,
            relative,
            pytest_args,
            fail_on,
            labels,
            confidence=arguments.confidence,
            budget=arguments.budget,
            min_sessions=arguments.min_sessions,
            max_sessions=arguments.max_sessions,
            rounds=arguments.rounds,
            family=arguments.family,
            progress=_progress,
        )


def _prepare(
    arguments: argparse.Namespace, made: Checkouts, side: str, label: str, repository: Path
) -> None:
    """``--install`` the side's tree (a copy of the working tree), then run ``--setup``."""
    if arguments.install:
        _progress(f"installing the {side} tree ({label})")
        tree = made.trees[side]
        if tree == repository:  # the working tree: build a copy of it
            tree = snapshot(tree, made.temporary / f"{side}-source")
        target = made.temporary / f"{side}-installed"
        made.installed[side] = install(tree, target, side)
    if arguments.setup:
        setup(arguments.setup, made.trees[side], side, made.installed.get(side))


def projection_summary(changes: Sequence[TestChange]) -> str:
    """One line over the tests left uncertain: how many pairs the median one needs and
    how much of the spread the rounds hold (each test's own note says it in full)."""
    found = [
        Projection(*note.facts[:4])  # the note's facts: the projection, then the pair time
        for test in changes
        for note in test.notes
        if note.reason == "projection"
    ]
    if not found:
        return ""
    needed = sorted(MOST_PAIRS + 1 if p.needed is None else p.needed for p in found)
    middle = needed[len(needed) // 2]
    shares = sorted(p.within for p in found if p.within is not None)
    said = f"{len(found)} test(s) still uncertain: the median one needs " + (
        f"about {middle} pairs" if middle <= MOST_PAIRS else f"over {MOST_PAIRS} pairs"
    )
    if shares:
        said += (
            f"; in the median test {shares[len(shares) // 2]:.0%} of the spread is the "
            "sessions' own round-to-round scatter (near 100%: heavier rounds pay more than "
            "more pairs)"
        )
    return said + " (docs/paired.md, 'When a test stays uncertain')"
