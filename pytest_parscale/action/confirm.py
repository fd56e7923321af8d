"""Deciding the Action's suspect tests by a paired run on this runner.

A baseline cached from another runner, or another day, mixes machine noise into
the verdict. Before a pull request's job fails, the flagged tests are measured
again with ``parscale paired BASE HEAD`` (both commits, alternately, on this
runner, in this job, as asv continuous does); a flag stands only when the paired
run says regression too. The tests the baseline left unresolved (uncertain, or
incomparable for a busier machine) go along: a paired run decides them, so a
real regression hidden in the noise between runs still fails the job.
docs/github-action.md, "Confirmation by a paired run". The decision (``decide``)
is pure; ``paired_runner`` is the real subprocess.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_parscale.exitcodes import ExitCode
from pytest_parscale.family import DEFAULT_RULE
from pytest_parscale.machine import run_git
from pytest_parscale.notewords import STOPPED_AFTER, UNCERTAIN_AFTER
from pytest_parscale.thresholds import FailOn


@dataclass(frozen=True)
class PairedRun:
    """What one ``parscale paired`` run said: its exit code, JSON report and why not."""

    exit_code: int
    report: Mapping[str, Any] | None  # the --format json document; None when it wrote none
    problem: str = ""  # why there is no report (a checkout, a session, a timeout)
    base: str = ""  # the commits compared, for the summary
    head: str = ""


PairedRunner = Callable[[Sequence[str]], PairedRun]


@dataclass(frozen=True)
class Confirmation:
    """Which flagged tests stand after the paired run, and why the others do not."""

    flagged: tuple[str, ...]
    confirmed: tuple[str, ...] = ()  # the paired run says regression (flagged or unresolved)
    not_confirmed: tuple[tuple[str, str], ...] = ()  # (flagged test id, what the paired run said)
    unmeasured: tuple[str, ...] = ()  # the paired run has no result for it: the flag stands
    problem: str | None = None  # the paired run failed: every flag stands, this says why
    base: str = ""
    head: str = ""
    # tests the baseline left unresolved (uncertain, incomparable), measured too; only
    # the ones the paired run calls a regression fail the job
    unresolved: tuple[str, ...] = ()
    settled: tuple[tuple[str, str], ...] = ()  # (unresolved test id, what the paired run said)

    @property
    def standing(self) -> tuple[str, ...]:
        """The test ids that still fail the job."""
        if self.problem is not None:
            return self.flagged
        flags = [nodeid for nodeid in self.flagged if nodeid in (*self.confirmed, *self.unmeasured)]
        return (*flags, *self.promoted)

    @property
    def promoted(self) -> tuple[str, ...]:
        """Unresolved tests the paired run calls a regression: they fail the job too."""
        if self.problem is not None:
            return ()
        return tuple(nodeid for nodeid in self.unresolved if nodeid in self.confirmed)

    @property
    def decided(self) -> bool:
        """True when a paired run measured the flagged tests and so made the verdict."""
        return self.problem is None


CALLS = ("regression", "error")  # what a paired run says of a test that fails the job


def _said(test: Mapping[str, Any]) -> str:
    """A test's status in the paired report; for one left uncertain, with the note that
    says why it stopped or what deciding it would take (the budget to ask for)."""
    status = str(test.get("status"))
    notes = test.get("notes")
    if status != "uncertain" or not isinstance(notes, list):
        return status
    why = [str(note) for note in notes if str(note).startswith((UNCERTAIN_AFTER, STOPPED_AFTER))]
    return f"{status} ({why[-1]})" if why else status


def decide(flagged: Sequence[str], run: PairedRun, unresolved: Sequence[str] = ()) -> Confirmation:
    """Keep a flag only if the paired run also calls the test a regression; fail an
    unresolved test only if the paired run calls it one.

    Exit 0 and 1 carry a report; anything else (2: a checkout or session failed) or a
    missing report leaves every flag standing, with the reason, and every unresolved
    test as the baseline left it. An unresolved test the paired run did not measure
    stays unresolved: only a measurement fails a job.
    """
    ids, open_ids = tuple(flagged), tuple(unresolved)
    base, head = run.base, run.head
    if run.exit_code not in (ExitCode.OK, ExitCode.REGRESSION) or run.report is None:
        why = run.problem or f"parscale paired exited with code {run.exit_code}"
        return Confirmation(ids, problem=why, base=base, head=head, unresolved=open_ids)
    tests = run.report.get("tests")
    statuses = {
        str(test.get("nodeid")): _said(test)
        for test in (tests if isinstance(tests, list) else [])
        if isinstance(test, dict)
    }
    # a test the head failed without a measurement fails the job as a regression does
    confirmed = tuple(nodeid for nodeid in (*ids, *open_ids) if statuses.get(nodeid) in CALLS)
    unmeasured = tuple(nodeid for nodeid in ids if nodeid not in statuses)
    # a flag the run did not measure stands (unmeasured); an unresolved test it did not
    # measure is only reported
    not_confirmed = tuple(
        (nodeid, statuses[nodeid])
        for nodeid in ids
        if statuses.get(nodeid, "regression") not in CALLS
    )
    settled = tuple(
        (nodeid, statuses.get(nodeid, "not measured"))
        for nodeid in open_ids
        if statuses.get(nodeid) not in CALLS
    )
    return Confirmation(
        ids, confirmed, not_confirmed, unmeasured, None, base, head, open_ids, settled
    )


def skipped(flagged: Sequence[str], why: str, unresolved: Sequence[str] = ()) -> Confirmation:
    """No paired run was possible (no base commit, results from a file): flags stand,
    and the unresolved tests stay unresolved."""
    return Confirmation(tuple(flagged), problem=why, unresolved=tuple(unresolved))


def ensure_commit(sha: str, cwd: Path) -> str | None:
    """Fetch ``sha`` when a shallow checkout lacks it; None, or why it cannot be had."""
    if run_git(["cat-file", "-e", f"{sha}^{{commit}}"], cwd).returncode == 0:
        return None
    print(f"+ git fetch --no-tags --depth=1 origin {sha}", flush=True)
    fetched = run_git(["fetch", "--no-tags", "--depth=1", "origin", sha], cwd)
    if fetched.returncode:
        said = fetched.stderr.strip().splitlines()[-1:] or ["no message"]
        return (
            f"the base commit {sha[:12]} is not in the checkout and could not be fetched "
            f"({said[0]})"
        )
    return None


def paired_runner(
    base_sha: str,
    cwd: Path,
    pytest_args: str,
    fail_on: FailOn,
    budget: float,
    scratch: Path,
    python: str = sys.executable,
    family: str = DEFAULT_RULE,
) -> PairedRunner:
    """The real runner: ``parscale paired BASE HEAD --format json -- <selection> <args>``.

    HEAD is the commit checked out here (on a pull request, GitHub's merge commit:
    what the job just measured). The flagged ids are selected after collection
    (--parscale-only, pytest_parscale/selection.py), so the user's pytest arguments pass
    unchanged. ``-p pytest_parscale.selection`` is a no-op now, kept because a session
    of a revision older than the option in config.OPTIONS needs it.
    """

    def run(flagged: Sequence[str]) -> PairedRun:
        head = run_git(["rev-parse", "HEAD"], cwd)
        if head.returncode:
            return PairedRun(
                ExitCode.USAGE, None, f"{cwd} is not a git checkout: {head.stderr.strip()}"
            )
        head_sha = head.stdout.strip()
        missing = ensure_commit(base_sha, cwd)
        if missing:
            return PairedRun(ExitCode.USAGE, None, missing, base_sha, head_sha)
        scratch.mkdir(parents=True, exist_ok=True)
        only = scratch / "confirm-tests.txt"
        only.write_text("".join(f"{nodeid}\n" for nodeid in flagged), encoding="utf-8")
        command = [
            python, "-m", "pytest_parscale", "paired", base_sha, head_sha,
            "--format", "json", "--fail-on", str(fail_on), "--budget", f"{budget:g}",
            "--family", family,
            "--", "-p", "pytest_parscale.selection", f"--parscale-only={only}",
            *shlex.split(pytest_args),
        ]  # fmt: skip
        print("+ " + shlex.join(command), flush=True)
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
        sys.stderr.write(done.stderr)  # the sessions' progress, for the job log
        report: Mapping[str, Any] | None = None
        if done.returncode in (ExitCode.OK, ExitCode.REGRESSION):
            try:
                loaded = json.loads(done.stdout)
                report = loaded if isinstance(loaded, dict) else None
            except ValueError:
                report = None
        said = [line for line in done.stderr.splitlines() if line.startswith("parscale: error:")]
        problem = said[-1].removeprefix("parscale: error:").strip() if said else ""
        if report is None and not problem:
            problem = f"parscale paired exited with code {done.returncode} and wrote no report"
        return PairedRun(done.returncode, report, problem, base_sha, head_sha)

    return run
