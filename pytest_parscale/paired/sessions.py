"""The session loop: base and head alternately, each a fresh pytest, until settled.

The sessions, not the rounds, carry the noise between runs, so a paired run buys
sessions within its budget (docs/paired.md, "Rounds per session"); after each look
only the tests still open run (docs/paired.md, "Looks and stops").
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
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from pytest_parscale.errors import BaselineError
from pytest_parscale.family import DEFAULT_RULE, Family
from pytest_parscale.paired.look import Look, judge_look
from pytest_parscale.paired.pooling import Pooled, judged_pairs
from pytest_parscale.paired.schedule import looks
from pytest_parscale.paired.spread import project
from pytest_parscale.paired.worktrees import Checkouts, PairedError, session_env
from pytest_parscale.regression import Note, Status, TestChange
from pytest_parscale.storage import Results, load
from pytest_parscale.thresholds import FailOn

MIN_SESSIONS = 3


# a 25% drop at a per-pair spread of 0.18 needs 25-40 pairs under a 50-test family;
# on a busy machine (a neighbour taking 40% of a core) the same drop measured -20% at
# 0.22 and needed 60-95: a cap of 60 caught 44% of those in simulation, 120 caught 88%
# (benchmarks/CALIBRATION.md). Later sessions run only the open tests, so these pairs
# are cheap, and the looks up to 41 pairs do not depend on the cap (schedule.py).
MAX_SESSIONS = 120


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


# one session of one side: (checkouts, side, folder, pytest args, output, where, rounds)
SessionRunner = Callable[[Checkouts, str, Path, Sequence[str], Path, str, int], Results]


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
    session: SessionRunner = _session,
    clock: Callable[[], float] = time.monotonic,
) -> PairedResult:
    """Run pairs of sessions (ABBA) until every test is settled, the cap or the budget.

    The run looks at the pair counts of schedule.looks (``min_sessions`` whatever the
    budget, then about 1.5 times more each look, up to ``max_sessions``), each look at
    its share of the error over the run's family (look.judge_look). Sessions after a
    look run only the tests it left open. Before going on to the next look the run
    checks that the pairs to it fit in what is left of ``budget``, at the last pair's
    time; if not, it stops with the verdicts of the look it has. ``session`` and
    ``clock`` are pytest and the wall clock; a simulation passes its own
    (benchmarks/calibration_cross.py).
    """
    runs: dict[str, list[Results]] = {side: [] for side in SIDES}
    start = clock()
    schedule = looks(min_sessions, max_sessions)
    closed: dict[str, TestChange] = {}
    chosen: list[str] | None = None  # None: the user's selection, every test
    seen: Look | None = None

    def run_pair() -> float:
        """One pair, in the ABBA order of its place in the run; its seconds."""
        pair = len(runs["head"])
        arguments = _selected(made.temporary / f"open-{pair + 1}.txt", pytest_args, chosen)
        began = clock()
        for side in order(pair):
            where = f"{side} session {pair + 1} ({labels[side]})"
            output = made.temporary / f"{side}-{pair + 1}"
            alone = clock()
            runs[side].append(session(made, side, relative, arguments, output, where, rounds))
            progress(f"{where}: {clock() - alone:.1f} s")
        return clock() - began

    pair_seconds = 0.0
    for index, target in enumerate(schedule, 1):
        elapsed = clock() - start
        if seen is not None and elapsed + (target - len(runs["head"])) * pair_seconds > budget:
            return _result(runs, seen, elapsed, True, confidence, min_sessions)
        while len(runs["head"]) < target:
            pair_seconds = run_pair()
        seen = judge_look(
            runs,
            labels,
            fail_on,
            closed,
            index=index,
            schedule=schedule,
            confidence=confidence,
            family=family,
            earlier=seen.family if seen is not None else None,
        )
        closed, chosen = seen.closed, seen.open
        if not chosen:
            break
        progress(f"look at {target} pairs: {len(chosen)} test(s) still open: {', '.join(chosen)}")
    if seen is None:
        raise ValueError("a paired run looks at least once")
    return _result(runs, seen, clock() - start, False, confidence, min_sessions)


def _selected(listed: Path, pytest_args: Sequence[str], chosen: list[str] | None) -> list[str]:
    """The pytest arguments of the next sessions: the user's, and then (after a look)
    ``--parscale-only`` with the open tests, written to ``listed``; it comes last, so
    it wins over one of the user's (the Action's suspects, of which these are some)."""
    if chosen is None:
        return list(pytest_args)
    listed.write_text("".join(f"{nodeid}\n" for nodeid in chosen), encoding="utf-8")
    return [*pytest_args, f"--parscale-only={listed}"]


def _result(
    runs: Mapping[str, Sequence[Results]],
    seen: Look,
    elapsed: float,
    over: bool,
    confidence: float,
    min_sessions: int,
) -> PairedResult:
    """The run's result from its last look; the tests it left open get a projection."""
    pairs = len(runs["head"])
    still = seen.open
    changes = projected(
        seen.changes, runs, seen.family, confidence, min_sessions, elapsed / pairs, still=still
    )
    return PairedResult(
        seen.base, seen.head, changes, pairs, elapsed, still, over and bool(still), seen.family
    )


def projected(
    changes: Sequence[TestChange],
    runs: Mapping[str, Sequence[Results]],
    family: Family,
    confidence: float,
    min_sessions: int,
    pair_seconds: float,
    *,
    still: Collection[str] | None = None,
) -> list[TestChange]:
    """The changes, each test whose speedup is still uncertain noted with what deciding
    it would take (spread.project): its spread, the rounds' share, the pairs needed.

    ``still``: only these tests (the ones the run left open); a test closed because
    no regression was within reach needs no more pairs to settle the gate.
    """
    found = list(changes)
    for index, test in enumerate(found):
        if still is not None and test.nodeid not in still:
            continue
        speedup = next((c for c in test.changes if c.metric == "speedup"), None)
        if speedup is None or speedup.status is not Status.UNCERTAIN:
            continue
        pairs = judged_pairs(runs, test)  # none for a test not compared: nothing to project
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
