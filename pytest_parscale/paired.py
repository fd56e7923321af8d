"""``parscale paired BASE [HEAD]``: measure both revisions in one job, alternately.

A saved baseline was measured on another runner, or beside another neighbour; the
noise between those runs raised the false alarms of issue 14. Here both sides run
on this machine now, in alternating sessions (base, head, base, head ...), so a
slow patch of the machine hits both. Each side's sessions are pooled and the change
is judged by the one rule of regression.py, with a cluster bootstrap (sessions,
then rounds) so noise between sessions counts. docs/paired.md has the details.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from pytest_parscale.errors import BaselineError, ParscaleError
from pytest_parscale.regression import (
    Sessions,
    Status,
    TestChange,
    compare_records,
    compare_results,
)
from pytest_parscale.results import Capacity, Record
from pytest_parscale.stats import median, ratio_of_medians_ci
from pytest_parscale.storage import Results, load
from pytest_parscale.thresholds import NOT_SAID, FailOn, effective_fail_on

OK, REGRESSION, USAGE, INTERRUPTED = 0, 1, 2, 130
MIN_SESSIONS = 3
MAX_SESSIONS = 10
# timed rounds per session after the warm-up: the sessions, not the rounds, carry the
# noise between runs, so a paired run buys sessions; 2 keeps a session's median from
# resting on one round (docs/paired.md, "Rounds per session")
SESSION_ROUNDS = 2
SIDES = ("base", "head")
STOP_GRACE = 10.0  # seconds a session gets to clean up after Ctrl-C before it is killed


class PairedError(ParscaleError):
    """A revision, a checkout or a session went wrong; exit 2 with this message."""


# -- pooling: pure, tested on synthetic results documents ---------------------


def pool_records(records: Sequence[Record]) -> Record:
    """One record holding every round of one test over a side's sessions, in order.

    Transport rounds are kept only when every session measured them, so the
    samples still pair up round by round with the parallel ones.
    """
    if not records:
        raise ValueError("no sessions to pool")
    first = records[0]
    serial = [value for record in records for value in record.serial]
    parallel = [value for record in records for value in record.parallel]
    every = all(record.transport for record in records)
    transport = [value for record in records for value in record.transport] if every else []
    speedup = ratio_of_medians_ci(serial, parallel)
    return dataclasses.replace(
        first,
        serial=serial,
        parallel=parallel,
        transport=transport,
        speedup=speedup,
        transport_share=ratio_of_medians_ci(transport, parallel) if transport else None,
        efficiency=speedup.estimate / first.workers,
        rounds=len(parallel),
        elapsed=sum(record.elapsed for record in records),
        warnings=sorted({warning for record in records for warning in record.warnings}),
        capacity=pool_capacity([record.capacity for record in records]),
    )


def pool_capacity(capacities: Sequence[Capacity | None]) -> Capacity | None:
    """The capacity of pooled sessions: the median over every round where each is known.

    One session without a capacity makes the pool's unknown: a figure from the
    other sessions would claim more than was measured (docs/results-format.md).
    """
    known = [capacity for capacity in capacities if capacity is not None]
    if not known or len(known) < len(capacities):
        return None
    rounds = [value for capacity in known for value in capacity.per_round]
    every = all(capacity.per_round for capacity in known)
    return Capacity(
        cores=median(rounds) if every else median([capacity.cores for capacity in known]),
        low=min(capacity.low for capacity in known),
        usable=known[0].usable,
        rounds_rejected=sum(capacity.rounds_rejected for capacity in known),
        quiet_wait_seconds=sum(capacity.quiet_wait_seconds for capacity in known),
        per_round=tuple(rounds) if every else (),
    )


@dataclass(frozen=True)
class Pooled:
    """A side's sessions pooled: the records, and each test's rounds per session."""

    results: Results
    sessions: dict[str, tuple[int, ...]]


def pool(runs: Sequence[Results], label: str) -> Pooled:
    """Pool one side's session results; a test's sessions of other worker counts are dropped.

    Worker counts must agree to pool rounds (the speedup of 2 and 4 workers are
    different quantities); the count of the first session wins.
    """
    if not runs:
        raise ValueError("no sessions to pool")
    by_test: dict[str, list[Record]] = {}
    for run in runs:
        for nodeid, record in run.records.items():
            by_test.setdefault(nodeid, []).append(record)
    records: dict[str, Record] = {}
    sessions: dict[str, tuple[int, ...]] = {}
    for nodeid, found in by_test.items():
        same = [record for record in found if record.workers == found[0].workers]
        records[nodeid] = pool_records(same)
        sessions[nodeid] = tuple(len(record.parallel) for record in same)
    # the first session's run metadata; runs=() as the pool is one run, not a history
    results = dataclasses.replace(runs[0], path=label, records=records, runs=())
    return Pooled(results, sessions)


def compare_pooled(
    base: Pooled, head: Pooled, fail_on: FailOn, *, confidence: float = 0.95
) -> list[TestChange]:
    """Every test's change, its interval from a session-level (cluster) bootstrap."""

    def judge(before: Record | None, after: Record | None, thresholds: FailOn) -> TestChange:
        either = after if after is not None else before
        nodeid = either.nodeid if either is not None else ""
        split: tuple[Sessions | None, Sessions | None] = (
            base.sessions.get(nodeid),
            head.sessions.get(nodeid),
        )
        # both sides shared the machine, alternating: a capacity gap is the code's own
        return compare_records(
            before,
            after,
            thresholds,
            confidence=confidence,
            sessions=split,
            excuse_capacity=False,
        )

    return compare_results(
        base.results.records, head.results.records, fail_on, confidence=confidence, judge=judge
    )


def undecided(changes: Sequence[TestChange]) -> list[str]:
    """Tests whose change is beyond the threshold but not yet significant."""
    return [test.nodeid for test in changes if test.status is Status.UNCERTAIN]


# -- checkouts and sessions ---------------------------------------------------


def _git(arguments: Sequence[str], cwd: Path) -> str:
    done = subprocess.run(["git", *arguments], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise PairedError(f"git {' '.join(arguments)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def resolve(revision: str, repository: Path) -> str:
    """The commit a revision names, or PairedError naming the revision."""
    done = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
        cwd=repository,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode or not done.stdout.strip():
        raise PairedError(f"{revision!r} is not a commit in {repository}")
    return done.stdout.strip()


@dataclass
class Checkouts:
    """The two trees under test and what to remove afterwards."""

    repository: Path
    temporary: Path
    trees: dict[str, Path]
    added: list[Path]
    # --install: the folder each side's tree was installed into
    installed: dict[str, Path] = dataclasses.field(default_factory=dict)

    def remove(self) -> None:
        """Remove every worktree we added and the temporary folder; never raises."""
        for tree in self.added:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(tree)],
                cwd=self.repository,
                capture_output=True,
                check=False,
            )
        shutil.rmtree(self.temporary, ignore_errors=True)
        subprocess.run(
            ["git", "worktree", "prune"], cwd=self.repository, capture_output=True, check=False
        )


@contextmanager
def checkouts(base: str, head: str | None, repository: Path) -> Iterator[Checkouts]:
    """BASE (and HEAD, a revision) in temporary detached worktrees, removed on exit.

    Without HEAD the working tree itself is the head side, uncommitted edits included.
    """
    commits = {"base": resolve(base, repository)}
    if head is not None:
        commits["head"] = resolve(head, repository)
    temporary = Path(tempfile.mkdtemp(prefix="parscale-paired-"))
    made = Checkouts(repository, temporary, {"head": repository}, [])
    try:
        for side, commit in commits.items():
            tree = temporary / side
            made.added.append(tree)
            _git(["worktree", "add", "--detach", str(tree), commit], repository)
            made.trees[side] = tree
        yield made
    finally:
        made.remove()


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
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


def import_path(tree: Path, installed: Path | None = None) -> list[str]:
    """What goes first on sys.path for a side: its ``src/`` (src layout) and its root.

    With ``installed`` (--install: the tree built and installed into that folder)
    the folder replaces ``src/``, so the built copy, extensions included, is found
    before the tree's sources; the root stays for test helpers imported from it.
    """
    first = installed if installed is not None else tree / "src"
    return [str(path) for path in (first, tree) if path.is_dir()]


def session_env(
    tree: Path, environ: Mapping[str, str], installed: Path | None = None
) -> dict[str, str]:
    env = dict(environ)
    paths = import_path(tree, installed) + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def install(tree: Path, target: Path, side: str) -> Path:
    """Build and install one side's tree into ``target`` with pip; PairedError if it fails.

    ``--no-deps``: dependencies come from this environment, for both sides alike.
    ``--no-build-isolation``: the build uses this environment's build tools, so no
    download is needed and both sides build with the same ones.
    """
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--disable-pip-version-check",
        "--target",
        str(target),
        str(tree),
    ]
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True, check=False)
    if done.returncode:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise PairedError(f"--install: `{shlex.join(command)}` failed for the {side} tree:\n{tail}")
    return target


def snapshot(tree: Path, target: Path) -> Path:
    """Copy a working tree's files (tracked and untracked, not ignored) to ``target``.

    pip builds a local folder in place, leaving ``build/`` and ``*.egg-info``
    behind: a worktree goes anyway, but the user's working tree must stay as it was.
    """
    listed = _git(["ls-files", "--cached", "--others", "--exclude-standard", "-z"], tree)
    for name in filter(None, listed.split("\0")):
        source = tree / name
        if source.is_file():  # a deleted, still tracked file is listed too
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


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
        try:
            code = process.wait()
        except BaseException:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):  # its workers go with it
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            raise
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


@dataclass
class Outcome:
    base: Pooled
    head: Pooled
    changes: list[TestChange]
    sessions: int
    seconds: float
    undecided: list[str]
    budget_spent: bool


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
    progress: Callable[[str], None] = lambda line: None,
) -> Outcome:
    """Alternate base and head sessions until every change is decided or time runs out.

    At least ``min_sessions`` each, whatever the budget: fewer give the cluster
    bootstrap too few sessions to resample. After that a further pair runs only
    while a test is uncertain and the mean pair time still fits in ``budget``.
    """
    runs: dict[str, list[Results]] = {side: [] for side in SIDES}
    start = time.monotonic()
    while True:
        for side in SIDES:
            index = len(runs[side]) + 1
            began = time.monotonic()
            where = f"{side} session {index} ({labels[side]})"
            runs[side].append(
                run_session(
                    made.trees[side],
                    relative,
                    pytest_args,
                    made.temporary / f"{side}-{index}.json",
                    made.temporary / f"{side}-{index}.log",
                    where,
                    rounds=rounds,
                    installed=made.installed.get(side),
                )
            )
            progress(f"{where}: {time.monotonic() - began:.1f} s")
        pairs = len(runs["head"])
        base, head = pool(runs["base"], labels["base"]), pool(runs["head"], labels["head"])
        if pairs < min_sessions:
            continue
        changes = compare_pooled(base, head, fail_on, confidence=confidence)
        open_tests = undecided(changes)
        elapsed = time.monotonic() - start
        over = elapsed + elapsed / pairs > budget
        if not open_tests or over or pairs >= max_sessions:
            return Outcome(
                base, head, changes, pairs, elapsed, open_tests, bool(open_tests) and over
            )
        progress(f"still uncertain after {pairs} pairs: {', '.join(open_tests)}")


# -- the subcommand -------------------------------------------------------------


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds > 0")
    return value


def _at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``, else a message naming it."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= {minimum}")
        return value

    return parse


_sessions, _rounds = _at_least(MIN_SESSIONS), _at_least(1)


def add_parser(
    commands: Any,
    fail_on: Callable[[str], FailOn],
    confidence: Callable[[str], float],
    formats: Sequence[str],
) -> None:
    """Register ``paired`` on the ``parscale`` command (cli.py)."""
    paired = commands.add_parser(
        "paired",
        help="measure BASE and HEAD alternately on this machine; exit 1 on a regression",
        description="Check out BASE and HEAD (default: the working tree) into temporary git "
        "worktrees and run the marked tests alternately, each session a fresh pytest with "
        "the side's tree first on sys.path. Arguments after -- go to pytest. Exit 0: no "
        "regression, 1: a regression, 2: bad usage, revision or session.",
    )
    paired.add_argument("base", metavar="BASE", help="revision of the baseline")
    paired.add_argument(
        "head", metavar="HEAD", nargs="?", default=None, help="revision (default: working tree)"
    )
    paired.add_argument("--format", choices=formats, default="table")
    paired.add_argument("--fail-on", type=fail_on, default=NOT_SAID, metavar="SPEC")
    paired.add_argument("--confidence", type=confidence, default=0.95)
    paired.add_argument(
        "--budget",
        type=_seconds,
        default=600.0,
        metavar="SECONDS",
        help="stop adding sessions past this (default 600; the minimum sessions always run)",
    )
    paired.add_argument(
        "--min-sessions",
        type=_sessions,
        default=MIN_SESSIONS,
        metavar="N",
        help=f"sessions per side at least (default {MIN_SESSIONS})",
    )
    paired.add_argument(
        "--max-sessions",
        type=_sessions,
        default=MAX_SESSIONS,
        metavar="N",
        help=f"sessions per side at most (default {MAX_SESSIONS})",
    )
    paired.add_argument(
        "--rounds",
        type=_rounds,
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
    render: Callable[[list[TestChange], Results, Results, FailOn, str, str], str],
) -> int:
    """Run the paired measurement; ``render`` prints the report as `parscale compare` would.

    ``render`` takes the changes, both pooled sides, the thresholds, the mode
    (``paired``) and what the verdict was judged against.
    """
    if arguments.max_sessions < arguments.min_sessions:
        print("parscale: error: --max-sessions is below --min-sessions", file=sys.stderr)
        return USAGE
    fail_on = effective_fail_on(None, arguments.fail_on)

    def progress(line: str) -> None:
        print(f"parscale paired: {line}", file=sys.stderr, flush=True)

    try:
        here = Path.cwd()
        repository = Path(_git(["rev-parse", "--show-toplevel"], here))
        relative = here.resolve().relative_to(repository.resolve())
        with (
            _terminate_as_interrupt(),
            checkouts(arguments.base, arguments.head, repository) as made,
        ):
            labels = {
                "base": f"{arguments.base} ({resolve(arguments.base, repository)[:12]})",
                "head": "working tree"
                if arguments.head is None
                else f"{arguments.head} ({resolve(arguments.head, repository)[:12]})",
            }
            for side in SIDES:
                if arguments.install:
                    progress(f"installing the {side} tree ({labels[side]})")
                    tree = made.trees[side]
                    if tree == repository:  # the working tree: build a copy of it
                        tree = snapshot(tree, made.temporary / f"{side}-source")
                    target = made.temporary / f"{side}-installed"
                    made.installed[side] = install(tree, target, side)
                if arguments.setup:
                    _setup(arguments.setup, made.trees[side], side, made.installed.get(side))
            outcome = measure(
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
                progress=progress,
            )
    except KeyboardInterrupt:
        print("parscale paired: interrupted; worktrees removed", file=sys.stderr)
        return INTERRUPTED
    except PairedError as error:
        print(f"parscale: error: {error}", file=sys.stderr)
        return USAGE
    progress(
        f"{outcome.sessions} sessions per side in {outcome.seconds:.0f} s"
        + (
            f"; budget spent with {len(outcome.undecided)} test(s) still uncertain"
            if outcome.budget_spent
            else ""
        )
    )
    judged = (
        f"paired sessions on this machine: {outcome.sessions} of each side, alternating, "
        "pooled with a session-level bootstrap"
    )
    print(
        render(
            outcome.changes, outcome.base.results, outcome.head.results, fail_on, "paired", judged
        )
    )
    regressed = any(test.status is Status.REGRESSION for test in outcome.changes)
    return REGRESSION if regressed else OK


def _setup(command: str, tree: Path, side: str, installed: Path | None) -> None:
    done = subprocess.run(
        command,
        shell=True,
        cwd=tree,
        env=session_env(tree, os.environ, installed),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise PairedError(f"--setup {command!r} failed in the {side} tree ({tree}):\n{tail}")
