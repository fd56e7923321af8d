"""Suite-scale error rates of the cross-run rules, measured live (issue 21).

A user's suite is not one test: this builds one of 50 measured cases (4 functions x
pool/process/thread/dask x 3 item sizes, plus two cases that change) in a scratch
git repository with two commits:

- BASE: the code as it is;
- HEAD: the same, except that one case's parallel side does 1/3 more work (its
  speedup drops 25%, results unchanged) and another's does 5.26% more (a -5%
  drift, inside the default 10% threshold).

The 48 other cases are unchanged, so any regression called on one of them is a
false alarm. Every run is judged by every mode:

- ``single``: ``parscale compare`` against one saved BASE run;
- ``history``: ``parscale compare`` against a history of BASE runs (``*.jsonl``);
- ``action``: the Action's pipeline: the history's verdict, then its flagged and
  undecided cases confirmed by ``parscale paired BASE HEAD`` on this machine;
- ``paired``: ``parscale paired BASE HEAD`` over the whole suite.

Between runs a neighbour process takes 0%, 40% or 100% of a core, in turn, so the
machine a baseline saw is rarely the one a head run sees. Each run of each mode
reports whether any unchanged case was called a regression (or errored), whether
the -25% case was called one, and whether the -5% case was. Run it alone on a quiet
machine: it is a timing benchmark.

    ./scripts/run-benchmarks.sh suite-scale [--runs 20] [--history 5] [--quick]

It writes benchmarks/SUITE_SCALE.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_parscale.notewords import STOPPED_AFTER, UNCERTAIN_AFTER

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "SUITE_SCALE.md"
LOADS = (0.0, 0.4, 1.0)  # share of one core the neighbour takes, in turn
DROP, DRIFT = "test_drop", "test_drift"
UNDECIDED = (UNCERTAIN_AFTER, STOPPED_AFTER)  # a paired note on why a test stayed uncertain
SLOW = {"drop": 1 / 3, "drift": 0.0526}  # extra work on HEAD's parallel side
MODES = ("single", "history", "action", "paired")
RECOMMENDED = ("action", "paired")  # the README's modes for gating
BACKENDS = ("pool", "process", "thread", "dask")
SIZES = ("1KB", "8KB", "64KB")

SUITE = '''"""The measured suite of benchmarks/suite_scale.py (written by it)."""

import hashlib
import os
import threading
import zlib

import pytest

SLOW = {slow!r}  # case -> extra share of work on the parallel side (HEAD only)
os.environ.setdefault("SUITE_MAIN_PID", str(os.getpid()))
ITEMS = 8
SCALE = 8192 * {scale}  # an item costs ~{scale} x 4 ms whatever its size: size moves transport


def _reps(base, case, item):
    parallel = (
        str(os.getpid()) != os.environ["SUITE_MAIN_PID"]
        or threading.current_thread() is not threading.main_thread()
    )
    reps = max(1, round(base * SCALE / len(item)))
    return round(reps * (1 + SLOW.get(case, 0.0))) if parallel else reps


def spin(item):
    return [sum(item) for _ in range(_reps(160, "spin", item))][-1]


def digest(item):
    return [hashlib.sha256(item).digest() for _ in range(_reps(900, "digest", item))][-1]


def squeeze(item):
    return [len(zlib.compress(item, 6)) for _ in range(_reps(48, "squeeze", item))][-1]


def order(item):
    return [sorted(item)[len(item) // 2] for _ in range(_reps(6, "order", item))][-1]


def drop(item):
    return [hashlib.sha256(item).digest() for _ in range(_reps(900, "drop", item))][-1]


def drift(item):
    return [hashlib.sha256(item).digest() for _ in range(_reps(900, "drift", item))][-1]


EVERY = pytest.mark.parscale(backends={backends!r}, item_sizes={sizes!r})


@EVERY
@pytest.mark.parametrize("work", [spin, digest, squeeze, order], ids=lambda f: f.__name__)
def test_case(parscale, work):
    items = parscale.payloads(count=ITEMS)
    assert parscale.map(work, items) == [work(item) for item in items]


@pytest.mark.parscale(backends=["process"], item_sizes=["8KB"])
def test_drop(parscale):
    items = parscale.payloads(count=ITEMS)
    assert parscale.map(drop, items) == [drop(item) for item in items]


@pytest.mark.parscale(backends=["pool"], item_sizes=["8KB"])
def test_drift(parscale):
    items = parscale.payloads(count=ITEMS)
    assert parscale.map(drift, items) == [drift(item) for item in items]
'''

NEIGHBOUR = """
import sys, time
share, period = float(sys.argv[1]), 0.1
while True:
    start = time.perf_counter()
    while time.perf_counter() - start < share * period:
        pass
    if share < 1:
        time.sleep((1 - share) * period)
"""


@dataclass
class Tally:
    """One mode's runs: how many had a false alarm, caught the drop, flagged the drift."""

    runs: int = 0
    alarms: int = 0
    alarm_cases: list[str] = field(default_factory=list)
    caught: int = 0
    drift: int = 0
    seconds: list[float] = field(default_factory=list)

    def add(self, statuses: dict[str, str], seconds: float) -> None:
        """Count one run from its nodeid -> status map."""
        self.runs += 1
        self.seconds.append(seconds)
        wrong = sorted(
            nodeid
            for nodeid, status in statuses.items()
            if status in ("regression", "error") and not _changed(nodeid)
        )
        self.alarms += bool(wrong)
        self.alarm_cases += wrong
        self.caught += any(
            _is(nodeid, DROP) and s == "regression" for nodeid, s in statuses.items()
        )
        self.drift += any(
            _is(nodeid, DRIFT) and s == "regression" for nodeid, s in statuses.items()
        )


def _is(nodeid: str, test: str) -> bool:
    return nodeid.split("::")[-1].split("[")[0] == test


def _changed(nodeid: str) -> bool:
    return _is(nodeid, DROP) or _is(nodeid, DRIFT)


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def make_repo(root: Path, scale: int = 1) -> tuple[Path, str, str]:
    """A git repository with the BASE and HEAD commits of the suite; HEAD checked out.

    ``scale`` multiplies every item's work (benchmarks/paired_noise.py varies it)."""
    repo = root / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "bench@127.0.0.1")
    _git(repo, "config", "user.name", "suite-scale")
    (repo / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    shas = []
    for slow in ({}, SLOW):
        text = SUITE.format(slow=slow, backends=list(BACKENDS), sizes=list(SIZES), scale=scale)
        (repo / "test_suite.py").write_text(text)
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "head" if slow else "base")
        shas.append(_git(repo, "rev-parse", "HEAD"))
    return repo, shas[0], shas[1]


@contextmanager
def neighbour(share: float) -> Iterator[None]:
    """A process that takes ``share`` of one core while the block runs."""
    if share <= 0:
        yield
        return
    process = subprocess.Popen([sys.executable, "-c", NEIGHBOUR, str(share)])
    try:
        yield
    finally:
        process.kill()
        process.wait()


def pytest_args(quick: bool) -> list[str]:
    """The measured session's options: a user's defaults but two.

    The timeout is shorter, and the quiet wait is off: before each test it waits up
    to 2 s for a quiet machine, which a neighbour that never leaves makes 2 s for
    nothing, 100 s a session. Measuring without it is no easier for the rules.
    """
    rounds = ["--parscale-min-rounds=3", "--parscale-max-time=1"] if quick else []
    return ["-q", "-x", "--parscale-timeout=60", "--parscale-quiet-wait=off", *rounds]


def session(repo: Path, sha: str, save: Path, quick: bool) -> float:
    """One plain pytest session of commit ``sha``, saved to ``save``; its seconds."""
    _git(repo, "checkout", "-q", sha)
    command = [sys.executable, "-m", "pytest", f"--parscale-save={save}", *pytest_args(quick)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"session of {sha[:8]} failed:\n{done.stdout[-3000:]}")
    return time.perf_counter() - started


def in_run_ratios(saved: Path) -> list[float]:
    """Each case's measuring time (warm-up and rounds) over its bare serial + parallel
    work (the median round's): what the in-run engine costs beyond the work."""
    from statistics import median

    ratios = []
    for record in json.loads(saved.read_text())["results"]:
        samples = record.get("samples") or {}
        bare = median(samples.get("serial") or [0.0]) + median(samples.get("parallel") or [0.0])
        if bare > 0:
            ratios.append((record["elapsed"] + (record.get("warmup_seconds") or 0.0)) / bare)
    return ratios


def compare(base: Path, head: Path) -> dict[str, str]:
    """``parscale compare`` statuses by test id (its default family, Holm)."""
    command = [sys.executable, "-m", "pytest_parscale", "compare", str(base), str(head)]
    done = subprocess.run(
        [*command, "--format", "json"], capture_output=True, text=True, check=False
    )
    if done.returncode not in (0, 1):
        raise RuntimeError(f"parscale compare failed: {done.stderr[-2000:]}")
    report: dict[str, Any] = json.loads(done.stdout)
    return {test["nodeid"]: test["status"] for test in report["tests"]}


@dataclass
class Paired:
    """What one ``parscale paired`` call said: statuses, seconds, pairs run, and, when
    the drop case stayed uncertain, its note on why (stopped out of reach, or the
    pairs that would decide it)."""

    statuses: dict[str, str]
    seconds: float
    pairs: int = 0
    drop: str = ""


def paired(repo: Path, base: str, head: str, only: Sequence[str] | None, quick: bool) -> Paired:
    """``parscale paired BASE HEAD`` (on ``only`` when given)."""
    _git(repo, "checkout", "-q", head)
    selection: list[str] = []
    if only is not None:
        listed = repo.parent / "only.txt"
        listed.write_text("".join(f"{nodeid}\n" for nodeid in only))
        selection = [f"--parscale-only={listed}"]
    command = [sys.executable, "-m", "pytest_parscale", "paired", base, head, "--format", "json"]
    if quick:
        command += ["--max-sessions", "4"]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, "--", *selection, *pytest_args(quick)[2:]],
        cwd=repo, capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"parscale paired failed ({done.returncode}): {done.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(done.stdout)
    drop = [t for t in report["tests"] if _is(str(t["nodeid"]), DROP)]
    return Paired(
        {str(t["nodeid"]): str(t["status"]) for t in report["tests"]},
        seconds,
        int(report.get("paired", {}).get("pairs", 0)),
        next((n for n in drop[0].get("notes", []) if n.startswith(UNDECIDED)), "") if drop else "",
    )


def suspects(statuses: dict[str, str]) -> list[str]:
    """What the Action sends to its paired confirmation: flags and undecided cases."""
    return sorted(
        nodeid
        for nodeid, status in statuses.items()
        if status in ("regression", "uncertain", "incomparable")
    )


def confirmed(history: dict[str, str], confirmation: dict[str, str]) -> dict[str, str]:
    """The Action's final statuses: a suspect fails only if the paired run agrees
    (pytest_parscale.action.confirm.decide, restated on status maps)."""
    final = dict(history)
    for nodeid in suspects(history):
        said = confirmation.get(nodeid)
        if said is None:  # not measured: a flag stands, an undecided case stays so
            continue
        final[nodeid] = said if said in ("regression", "error") else "ok"
    return final


def base_window(state: Path, count: int, quick: bool) -> tuple[Path, str, str]:
    """The repository and the saved BASE runs, made once per state folder."""
    meta = state / "meta.json"
    if meta.exists():
        known = json.loads(meta.read_text())
        return state / "repo", str(known["base"]), str(known["head"])
    repo, base, head = make_repo(state)
    for index in range(count):
        load = LOADS[index % len(LOADS)]
        with neighbour(load):
            seconds = session(repo, base, state / f"base-{index}.json", quick)
        document = json.loads((state / f"base-{index}.json").read_text())
        with (state / "history.jsonl").open("a") as lines:  # as --parscale-save=*.jsonl
            lines.write(json.dumps(document) + "\n")
        print(f"base run {index}: neighbour {load:.0%}, {seconds:.0f} s", flush=True)
    meta.write_text(json.dumps({"base": base, "head": head, "history": count, "quick": quick}))
    return repo, base, head


def head_run(state: Path, repo: Path, shas: tuple[str, str], index: int, quick: bool) -> Any:
    """One HEAD run judged by every mode: its statuses per mode, loads and seconds."""
    base, head = shas
    load, load_paired = LOADS[(index + 1) % len(LOADS)], LOADS[(index + 2) % len(LOADS)]
    saved = state / f"head-{index}.json"
    with neighbour(load):
        seconds = session(repo, head, saved, quick)
        single = compare(state / "base-0.json", saved)
        by_history = compare(state / "history.jsonl", saved)
        asked = suspects(by_history)
        confirmation = paired(repo, base, head, asked, quick) if asked else Paired({}, 0.0)
    with neighbour(load_paired):
        whole = paired(repo, base, head, None, quick)
    ratios = sorted(in_run_ratios(saved))
    return {
        "index": index,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load": load,
        "load_paired": load_paired,
        "seconds": {
            "single": seconds,
            "history": seconds,
            "action": seconds + confirmation.seconds,
            "paired": whole.seconds,
        },
        "pairs": {"action": confirmation.pairs, "paired": whole.pairs},
        "drop": {"action": confirmation.drop, "paired": whole.drop},
        "confirmed": len(asked),
        "in_run": ratios[len(ratios) // 2],
        "statuses": {
            "single": single,
            "history": by_history,
            "action": confirmed(by_history, confirmation.statuses),
            "paired": whole.statuses,
        },
    }


def tallies_of(runs: Sequence[Any]) -> tuple[dict[str, Tally], list[str]]:
    """Every mode's tally over the logged runs, and a line per run."""
    tallies = {mode: Tally() for mode in MODES}
    log = []
    for run in runs:
        for mode in MODES:
            tallies[mode].add(run["statuses"][mode], run["seconds"][mode])
        log.append(
            f"head run {run['index']} ({run['date']}): neighbour {run['load']:.0%} "
            f"(paired {run['load_paired']:.0%}), plain {run['seconds']['single']:.0f} s, "
            f"{run['confirmed']} confirmed in "
            f"{run['seconds']['action'] - run['seconds']['single']:.0f} s, paired "
            f"{run['seconds']['paired']:.0f} s{_pairs_run(run)}, in-run median case "
            f"{run['in_run']:.1f}x bare work; so far (false alarm/caught/drift): "
            + ", ".join(f"{mode} {t.alarms}/{t.caught}/{t.drift}" for mode, t in tallies.items())
            + _drop_words(run)
        )
    return tallies, log


def _pairs_run(run: dict[str, Any]) -> str:
    """`` (10 pairs; confirmation 10)`` for runs that logged their pairs (later ones did)."""
    pairs = run.get("pairs")
    if not pairs:
        return ""
    return f" ({pairs['paired']} pairs; confirmation {pairs['action']})"


def _drop_words(run: dict[str, Any]) -> str:
    """Why the -25% case stayed uncertain, in each mode whose note was logged."""
    said = run.get("drop") or {}
    return "".join(
        f"; the -25% case in {where}: {said[mode]}"
        for mode, where in (("action", "the confirmation"), ("paired", "paired"))
        if said.get(mode)
    )


def measure(
    options: argparse.Namespace, state: Path, progress: Callable[[Sequence[Any]], None]
) -> list[Any]:
    """Judge HEAD runs until ``options.runs`` are logged in ``state`` or the minutes are
    spent; each run is appended to runs.jsonl, so a later call goes on from there."""
    repo, base, head = base_window(state, options.history, options.quick)
    log = state / "runs.jsonl"
    runs = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    deadline = time.monotonic() + 60 * options.minutes
    while len(runs) < options.runs and time.monotonic() < deadline:
        run = head_run(state, repo, (base, head), len(runs), options.quick)
        with log.open("a") as lines:
            lines.write(json.dumps(run) + "\n")
        runs.append(run)
        print(tallies_of(runs)[1][-1], flush=True)
        progress(runs)
    return runs


def _rate(count: int, runs: int) -> str:
    return f"{count} of {runs} ({count / runs:.0%})" if runs else "-"


def markdown(tallies: dict[str, Tally], header: list[str], log: list[str], plain: float) -> str:
    """The results page: one row per mode, then the per-run log."""
    lines = [
        "# Suite-scale error rates, measured live (issue 21)",
        "",
        *header,
        "",
        "50 measured cases: 48 unchanged, one whose speedup drops 25% and one that drifts "
        "-5% (inside the default 10% threshold). Default `--fail-on` and family (Holm). "
        "Gating modes the README recommends: " + ", ".join(RECOMMENDED) + ".",
        "",
        "| mode | runs | runs with any false alarm | -25% caught | -5% drift flagged "
        "| median seconds per run | x one plain session |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode, tally in tallies.items():
        median = sorted(tally.seconds)[len(tally.seconds) // 2] if tally.seconds else 0.0
        lines.append(
            f"| {mode} | {tally.runs} | {_rate(tally.alarms, tally.runs)} "
            f"| {_rate(tally.caught, tally.runs)} | {_rate(tally.drift, tally.runs)} "
            f"| {median:.0f} | {median / plain:.1f} |"
        )
    wrong = sorted({case for tally in tallies.values() for case in tally.alarm_cases})
    called = ", ".join(wrong) or "none"
    lines += ["", f"Unchanged cases called, over every mode and run: {called}", ""]
    lines += ["## Runs", "", *[f"- {line}" for line in log]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="HEAD runs judged by each mode")
    parser.add_argument("--history", type=int, default=5, help="BASE runs saved first")
    parser.add_argument("--minutes", type=float, default=600.0, help="start no head run past this")
    parser.add_argument("--quick", action="store_true", help="3 rounds a case: proves the harness")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument(
        "--state",
        type=Path,
        help="folder that keeps the repository, the BASE window and every run's outcome: "
        "a later call with it goes on where this one stopped (default: a temporary one)",
    )
    options = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from run import busy_others, load_line, machine_lines

    started = time.perf_counter()
    header = [*machine_lines(), "- " + load_line("At start")]
    busy = busy_others()
    header.append("- Other busy processes at start: " + ("; ".join(busy) if busy else "none"))
    command = "./scripts/run-benchmarks.sh suite-scale " + " ".join(argv or sys.argv[1:])

    def write(runs: Sequence[Any], end: list[str]) -> str:
        tallies, log = tallies_of(runs)
        seconds = tallies["single"].seconds
        plain = sorted(seconds)[len(seconds) // 2] if seconds else 1.0
        text = markdown(tallies, [*header, *end], log, plain)
        options.output.write_text(text)
        return text

    def progress(runs: Sequence[Any]) -> None:
        minutes = (time.perf_counter() - started) / 60
        write(runs, [f"- in progress: `{command.strip()}`, {minutes:.0f} min so far"])

    with contextlib.ExitStack() as stack:
        state = options.state or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        state.mkdir(parents=True, exist_ok=True)
        runs = measure(options, state, progress)
    minutes = (time.perf_counter() - started) / 60
    end = [
        "- " + load_line("At end"),
        f"- this call, `{command.strip()}`, took {minutes:.0f} min; "
        f"{len(runs)} head runs logged in all",
    ]
    print(write(runs, end), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
