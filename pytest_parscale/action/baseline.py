"""The baseline and this run's results on disk: load, store, and fetch the artifact.

A baseline folder holds results.json, provenance.json and ``history/``, the
branch's last runs (docs/github-action.md, "History and trend").
"""

from __future__ import annotations

import datetime
import json
import re
import shlex
import shutil
import subprocess
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_parscale.action.event import Event, read_event, write_outputs
from pytest_parscale.action.github import Transport, annotate, fetch_baseline, workflow_path
from pytest_parscale.action.options import SOURCES, RunOptions
from pytest_parscale.errors import BaselineError
from pytest_parscale.history import history_files
from pytest_parscale.storage import Results, load

RESULTS_NAME = "results.json"


PROVENANCE_NAME = "provenance.json"


HISTORY_DIR = "history"


def run_pytest(options: RunOptions, results: Path) -> int:
    """The user's tests with pytest-parscale writing every measurement to ``results``."""
    command = [options.python, "-m", "pytest", *shlex.split(options.pytest_args)]
    command.append(f"--parscale-json={results}")
    print("+ " + shlex.join(command), flush=True)
    return subprocess.run(command, check=False).returncode


@dataclass(frozen=True)
class Baseline:
    """The restored baseline and where it came from (the action's provenance outputs)."""

    results: Results | None
    source: str  # one of SOURCES
    commit: str
    age: int | None  # seconds since it was measured
    problem: str | None = None  # why a restored file was not usable
    history: tuple[Results, ...] = ()  # the branch's last runs, oldest first, baseline last


def load_history(directory: Path) -> tuple[Results, ...]:
    """The kept results of the branch's last runs, oldest first; unreadable ones skipped."""
    runs = []
    for path in history_files(directory / HISTORY_DIR):
        try:
            runs.append(load(path))
        except BaselineError as error:
            annotate("warning", f"pytest-parscale: skipped a history file: {error}")
    return tuple(runs)


def _age(created: str, now: datetime.datetime) -> int | None:
    try:
        then = datetime.datetime.fromisoformat(created)
    except ValueError:
        return None
    if then.tzinfo is None:
        then = then.replace(tzinfo=datetime.timezone.utc)
    return max(0, int((now - then).total_seconds()))


def load_baseline(directory: Path, source: str, now: datetime.datetime | None = None) -> Baseline:
    """The baseline in ``directory``, with its commit and age; a bad file is not fatal."""
    path = directory / RESULTS_NAME
    if not path.is_file():
        return Baseline(None, "none", "", None)
    try:
        results = load(path)
    except BaselineError as error:
        return Baseline(None, "none", "", None, str(error))
    provenance: dict[str, Any] = {}
    if (directory / PROVENANCE_NAME).is_file():
        try:
            loaded = json.loads((directory / PROVENANCE_NAME).read_text(encoding="utf-8"))
            provenance = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            provenance = {}
    commit = str(provenance.get("commit") or (results.git or {}).get("commit") or "")
    created = str(provenance.get("created") or results.created)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    source = source if source in SOURCES else "cache"
    age = _age(created, now)
    return Baseline(results, source, commit, age, history=load_history(directory))


@dataclass(frozen=True)
class Head:
    """This run's results, or why there are none, and pytest's exit code."""

    results: Results | None
    path: Path
    pytest_code: int
    problem: str | None = None


def load_head(options: RunOptions, out_dir: Path) -> Head:
    """Run pytest (or take the given file) and load what it measured."""
    results_path = out_dir / RESULTS_NAME
    pytest_code = 0
    results_path.unlink(missing_ok=True)  # never judge a stale file of an earlier run
    if options.results_file:
        if Path(options.results_file).is_file():
            shutil.copyfile(options.results_file, results_path)
        else:
            results_path = Path(options.results_file)  # load() below names what is wrong
    else:
        pytest_code = run_pytest(options, results_path)
    try:
        head = load(results_path)
        if not head.records:
            raise BaselineError(
                results_path, "has no measurement: do the pytest-args select tests using parscale?"
            )
    except BaselineError as error:
        return Head(None, results_path, pytest_code, str(error))
    return Head(head, results_path, pytest_code)


def store(
    head: Head, baseline_dir: Path, event: Event, environ: Mapping[str, str], keep: int = 20
) -> None:
    """This run's results become the branch's baseline, with where they came from.

    The last ``keep`` results are kept in ``history/`` beside it, so they travel in
    the same cache entry and artifact (docs/github-action.md, "History and trend").
    """
    baseline_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(head.path, baseline_dir / RESULTS_NAME)
    folder = baseline_dir / HISTORY_DIR
    folder.mkdir(exist_ok=True)
    kept = sorted(folder.glob("*.json"))
    number = int(kept[-1].name.split("-", 1)[0]) + 1 if kept else 1
    commit = re.sub(r"[^0-9a-f]", "", (event.head_sha or "")[:12]) or "unknown"
    shutil.copyfile(head.path, folder / f"{number:06d}-{commit}.json")
    for old in sorted(folder.glob("*.json"))[: -keep if keep > 0 else None]:
        old.unlink()
    provenance = {
        "commit": event.head_sha or "",
        "branch": event.branch,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "run_id": environ.get("GITHUB_RUN_ID", ""),
    }
    (baseline_dir / PROVENANCE_NAME).write_text(json.dumps(provenance) + "\n", encoding="utf-8")


def fetch(
    baseline_key: str,
    target: Path,
    environ: Mapping[str, str],
    send: Transport,
    workflow: str = "",
    branch: str = "",
) -> int:
    """The ``fetch`` step: never fails the job, says what it found in its outputs.

    ``workflow`` is the file of the workflow that stores baselines; empty: the one
    running now (GITHUB_WORKFLOW_REF), as when one workflow gates and refreshes.
    ``branch`` replaces the event's (the trusted comment job: the PR's base branch).
    """
    event = read_event(environ)
    branch = branch or event.branch or ""
    token = environ.get("GITHUB_TOKEN", "")
    workflow = workflow or workflow_path(environ.get("GITHUB_WORKFLOW_REF", ""), event.repository)
    source, history = "none", "unknown"
    if branch and token:
        try:
            source, history = fetch_baseline(
                repository=event.repository,
                branch=branch,
                baseline_key=baseline_key,
                target=target,
                wanted=(RESULTS_NAME, PROVENANCE_NAME),
                token=token,
                api_url=event.api_url,
                send=send,
                workflow=workflow,
            )
        except (
            urllib.error.URLError,
            OSError,
            ValueError,
            zipfile.BadZipFile,
            BaselineError,
        ) as error:
            annotate("warning", f"pytest-parscale: could not look for a baseline artifact: {error}")
    write_outputs({"source": source, "history": history}, environ)
    return 0
