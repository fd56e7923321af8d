"""The session loop: base and head alternately, each a fresh pytest, until decided.

The sessions, not the rounds, carry the noise between runs, so a paired run buys
sessions within its budget (docs/paired.md, "Rounds per session").
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from pytest_parscale.errors import BaselineError
from pytest_parscale.family import DEFAULT_RULE, Family, apply_family
from pytest_parscale.paired.pairwise import look_confidence
from pytest_parscale.paired.pooling import (
    Pooled,
    compare_paired,
    pool,
    test_pairs,
    uncertain_tests,
)
from pytest_parscale.paired.spread import project
from pytest_parscale.paired.worktrees import Checkouts, PairedError, session_env
from pytest_parscale.regression import Note, Status, TestChange
from pytest_parscale.storage import Results, load
from pytest_parscale.thresholds import FailOn

MIN_SESSIONS = 3


MAX_SESSIONS = 10


# timed rounds per session after the warm-up: the sessions, not the rounds, carry the
# noise between runs, so a paired run buys sessions; 2 keeps a session's median from
# resting on one round (docs/paired.md, "Rounds per session")
SESSION_ROUNDS = 2


SIDES = ("base", "head")


STOP_GRACE = 10.0  # seconds a session gets to clean up after Ctrl-C before it is killed


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a CI job cancelled) unwinds like Ctrl-C, so the worktrees go too."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_session(
    tree: Path,
    relative: Path,
    pytest_args: Sequence[str],
    output: Path,
    log: Path,
    where: str,
    *,
    rounds: int = SESSION_ROUNDS,
    installed: Path | None = None,
) -> Results:
    """One fresh pytest process on one tree; its results file, or PairedError.

    ``rounds`` is the session's --parscale-min-rounds; PYTEST_ARGS come after it,
    so a user's own setting wins. Exit 0 and 1 (a test failed its own marker) both
    leave a results file; any other exit is a broken session. On Ctrl-C the
    session gets STOP_GRACE seconds to stop its engines before it is killed.
    """
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        f"--parscale-json={output}",
        f"--parscale-min-rounds={rounds}",
        *pytest_args,
    ]
    if not (tree / relative).is_dir():
        raise PairedError(f"{where}: {relative} does not exist in this revision")
    with log.open("w", encoding="utf-8") as stream:
        process = subprocess.Popen(
            command,
            cwd=tree / relative,
            env=session_env(tree, os.environ, installed),
            stdout=stream,
            stderr=subprocess.STDOUT,
            # its own session: a terminal's Ctrl-C reaches only us, and we pass on one
            # SIGINT, so pytest-parscale's engine teardown is not interrupted twice
            start_new_session=True,
        )
        code = _wait(process)
    if code not in (0, 1) or not output.exists():
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-15:]
        raise PairedError(
            f"{where}: pytest exited with {code} and "
            + ("wrote results" if output.exists() else "wrote no results")
            + f"; `{shlex.join(command)}` in {tree / relative} said:\n"
            + "\n".join(tail)
        )
    try:
        return load(output)
    except BaselineError as error:
        raise PairedError(f"{where}: {error}") from None


def _wait(process: subprocess.Popen[bytes]) -> int:
    """The session's exit code; interrupted, it gets STOP_GRACE seconds, then is killed."""
    try:
        return process.wait()
    except BaseException:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):  # its workers go with it
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        raise


@dataclass
class PairedResult:
    """What the paired sessions measured: both pooled sides and the judged changes."""

    base: Pooled
    head: Pooled
    changes: list[TestChange]
    sessions: int
    seconds: float
    uncertain: list[str]  # tests still uncertain when the sessions stopped
    budget_spent: bool
    family: Family | None = None


def order(pair: int) -> tuple[str, ...]:
    """The sides of pair ``pair`` (0, 1, ...) in the order they run: ABBA.

    Base first in even pairs, head first in odd ones, so whatever the first session
    of a pair meets (a cold cache, a neighbour's start) lands on both sides alike.
    """
    return SIDES if pair % 2 == 0 else SIDES[::-1]


def _session(
    made: Checkouts,
    side: str,
    relative: Path,
    pytest_args: Sequence[str],
    output: Path,
    where: str,
    rounds: int,
) -> Results:
    """One session of one side: results in ``output``.json, its log in ``output``.log."""
    return run_session(
        made.trees[side],
        relative,
        pytest_args,
        output.with_suffix(".json"),
        output.with_suffix(".log"),
        where,
        rounds=rounds,
        installed=made.installed.get(side),
    )


def measure(
    made: Checkouts,
    relative: Path,
    pytest_args: Sequence[str],
    fail_on: FailOn,
    labels: Mapping[str, str],
    *,
    confidence: float,
    budget: float,
    min_sessions: int = MIN_SESSIONS,
    max_sessions: int = MAX_SESSIONS,
    rounds: int = SESSION_ROUNDS,
    family: str = DEFAULT_RULE,
    progress: Callable[[str], None] = lambda line: None,
) -> PairedResult:
    """Run pairs of sessions (ABBA) until every change is decided or time runs out.

    At least ``min_sessions`` pairs, whatever the budget: fewer give the per-pair
    differences too few degrees of freedom. After that a further pair runs only
    while a test is uncertain and the mean pair time still fits in ``budget``. Each
    look (the minimum pairs, then each extra pair) is judged at its share of the
    error (pairwise.look_confidence) over the run's family of tests; the look the
    budget or ``max_sessions`` ends spends the rest.
    """
    runs: dict[str, list[Results]] = {side: [] for side in SIDES}
    start = time.monotonic()
    while True:
        pair = len(runs["head"])
        for side in order(pair):
            where = f"{side} session {pair + 1} ({labels[side]})"
            began = time.monotonic()
            output = made.temporary / f"{side}-{pair + 1}"
            runs[side].append(_session(made, side, relative, pytest_args, output, where, rounds))
            progress(f"{where}: {time.monotonic() - began:.1f} s")
        pairs = pair + 1
        if pairs < min_sessions:
            continue
        elapsed = time.monotonic() - start
        over = elapsed + elapsed / pairs > budget
        final = over or pairs >= max_sessions  # decided by the clock and the count alone
        look = look_confidence(pairs - min_sessions + 1, confidence, final=final)
        base, head = pool(runs["base"], labels["base"]), pool(runs["head"], labels["head"])
        compared = compare_paired(
            runs["base"], runs["head"], (base, head), fail_on, confidence=look
        )
        changes, judged = apply_family(compared, family, look)
        open_tests = uncertain_tests(changes)
        if not open_tests or final:
            spent = bool(open_tests) and over
            changes = projected(changes, runs, judged, confidence, min_sessions, elapsed / pairs)
            return PairedResult(base, head, changes, pairs, elapsed, open_tests, spent, judged)
        progress(f"still uncertain after {pairs} pairs: {', '.join(open_tests)}")


def projected(
    changes: Sequence[TestChange],
    runs: Mapping[str, Sequence[Results]],
    family: Family,
    confidence: float,
    min_sessions: int,
    pair_seconds: float,
) -> list[TestChange]:
    """The changes, each test whose speedup is still uncertain noted with what deciding
    it would take (spread.project): its spread, the rounds' share, the pairs needed."""
    found = list(changes)
    for index, test in enumerate(found):
        speedup = next((c for c in test.changes if c.metric == "speedup"), None)
        if speedup is None or speedup.status is not Status.UNCERTAIN:
            continue
        if test.base is None or test.head is None:  # not compared: nothing to project
            continue
        pairs = test_pairs(
            runs["base"], runs["head"], test.nodeid, (test.base.workers, test.head.workers)
        )
        projection = project(
            pairs,
            speedup.threshold,
            (1 - confidence) / 2,
            min_pairs=min_sessions,
            members=family.members,
            rule=family.rule,
        )
        if projection is not None:
            facts = (*dataclasses.astuple(projection), pair_seconds)
            note = Note("projection", facts)
            found[index] = dataclasses.replace(test, notes=(*test.notes, note))
    return found
