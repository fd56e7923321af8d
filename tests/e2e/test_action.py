"""action.yml run locally, step by step, in a fake GitHub environment.

The composite steps' own commands run (tests/actionrunner.py evaluates their
expressions and fakes setup-python and the cache). Scenarios are deterministic:
the baseline and head are synthetic results files (tests/records.py) fed through
the action's ``results-file`` input; only the first-run scenario measures live,
on the thread backend with a tiny workload. The pull-request comment goes to a
stub of the GitHub API on loopback.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pytest_parscale.results import Record, document, write_atomic
from tests.actionrunner import ActionRun, FakeRunner
from tests.records import MACHINE, record, scaled

REPOSITORY = "octo/widgets"
SUITE = """
import pytest

def spin(n):
    return sum(i * i for i in range(n))

@pytest.mark.parscale(backends=["thread"], workers=2)
def test_spin(parscale):
    parscale.map(spin, [2_000] * 4)
"""


class GitHubStub:
    """Issue comments of one pull request, over the REST paths ci.py uses."""

    def __init__(self) -> None:
        self.comments: dict[int, str] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict[str, Any]:
                length = int(self.headers.get("Content-Length", 0))
                loaded: dict[str, Any] = json.loads(self.rfile.read(length))
                return loaded

            def do_GET(self) -> None:
                stub.requests.append(("GET", self.path, self.headers["Authorization"]))
                listed = [{"id": key, "body": body} for key, body in stub.comments.items()]
                self._reply(200, listed if "page=1" in self.path else [])

            def do_POST(self) -> None:
                stub.requests.append(("POST", self.path, self.headers["Authorization"]))
                number = 100 + len(stub.comments)
                stub.comments[number] = self._body()["body"]
                self._reply(201, {"id": number})

            def do_PATCH(self) -> None:
                stub.requests.append(("PATCH", self.path, self.headers["Authorization"]))
                stub.comments[int(self.path.rsplit("/", 1)[1])] = self._body()["body"]
                self._reply(200, {})

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def github() -> Iterator[GitHubStub]:
    stub = GitHubStub()
    thread = threading.Thread(target=stub.server.serve_forever, daemon=True)
    thread.start()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


class Job:
    """A fresh runner job per call of ``run``; the cache folder outlives jobs."""

    def __init__(self, root: Path, api_url: str) -> None:
        self.root = root
        self.cache = root / "cache"
        self.cache.mkdir()
        self.api_url = api_url
        self.runs = 0

    def run(
        self, event: str, inputs: dict[str, str], *, fork: bool = False
    ) -> tuple[ActionRun, str]:
        self.runs += 1
        job = self.root / f"job{self.runs}"
        workspace, temp = job / "workspace", job / "temp"
        workspace.mkdir(parents=True)
        temp.mkdir()
        (workspace / "suite").mkdir()
        (workspace / "suite" / "test_spin.py").write_text(SUITE)
        for name in os.listdir(self.root / "files"):
            (workspace / name).write_bytes((self.root / "files" / name).read_bytes())
        summary, event_path = temp / "summary.md", temp / "event.json"
        env = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "HOME": os.environ.get("HOME", str(job)),
            "RAY_AUTH_MODE": "disabled",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_EVENT_NAME": event,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_API_URL": self.api_url,
            "GITHUB_RUN_ID": str(1000 + self.runs),
            "GITHUB_RUN_ATTEMPT": "1",
            "RUNNER_OS": "Linux",
            "RUNNER_TEMP": str(temp),
        }
        if event == "pull_request":
            head_repo = "someone/widgets" if fork else REPOSITORY
            payload = {
                "number": 7,
                "pull_request": {
                    "number": 7,
                    "head": {"sha": "f" * 40, "ref": "feature", "repo": {"full_name": head_repo}},
                    "base": {"ref": "main", "repo": {"full_name": REPOSITORY}},
                },
                "repository": {"full_name": REPOSITORY},
            }
            env |= {"GITHUB_BASE_REF": "main", "GITHUB_REF": "refs/pull/7/merge"}
        else:
            payload = {"ref": "refs/heads/main", "repository": {"full_name": REPOSITORY}}
            env |= {"GITHUB_REF": "refs/heads/main", "GITHUB_SHA": "e" * 40}
        event_path.write_text(json.dumps(payload))
        github = {"event_name": event, "token": "fake-token", "workspace": str(workspace)}
        runner = FakeRunner(workspace, temp, self.cache, env, github)
        done = runner.run_action({"install": "false", **inputs})
        return done, summary.read_text() if summary.exists() else ""


@pytest.fixture
def job(tmp_path: Path, github: GitHubStub) -> Job:
    files = tmp_path / "files"
    files.mkdir()
    base = [record("t.py::steady"), record("t.py::moves")]
    runs: dict[str, list[Record]] = {
        "base.json": base,
        "same.json": base,
        "slower.json": [base[0], scaled(base[1], 0.5)],
        "faster.json": [base[0], scaled(base[1], 2.0)],
    }
    for name, records in runs.items():
        write_atomic(files / name, document(records, dict(MACHINE), [], None))
    write_atomic(files / "four-cores.json", document(base, {**MACHINE, "usable_cores": 4}, []))
    return Job(tmp_path, github.url)


def text(markdown: str) -> str:
    """The summary as a reader sees it: Markdown's backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", markdown)


def step(done: ActionRun, name: str) -> Any:
    return next(s for s in done.steps if s.name == name)


def test_first_run_without_baseline_passes_says_so_and_stores_it(job: Job) -> None:
    live = "suite --parscale-min-rounds=3 --parscale-max-time=2 -p no:cacheprovider"
    inputs = {"pytest-args": live}

    pull, summary = job.run("pull_request", inputs)
    assert not pull.failed, pull.log()
    assert pull.outputs["verdict"] == "no-baseline"
    assert pull.outputs["regressions"] == "0"
    assert "no baseline for branch main yet" in summary
    assert "A push to the base branch" in summary  # a PR cannot store the baseline
    assert "| suite/test_spin.py::test_spin[thread] | thread | 2 |" in text(
        summary
    )  # the results table
    assert step(pull, "Store the baseline").skipped
    assert json.loads(Path(pull.outputs["results-path"]).read_text())["results"]

    push, summary = job.run("push", inputs)
    assert not push.failed, push.log()
    assert push.outputs["verdict"] == "no-baseline"
    assert "These results are stored as the baseline." in summary
    assert not step(push, "Store the baseline").skipped
    stored = sorted(p.name for p in job.cache.iterdir())
    assert stored == ["pytest-parscale-v1-Linux-default-main-1002-1"]


def seed_baseline(job: Job, name: str = "base.json") -> None:
    done, _ = job.run("push", {"results-file": name})
    assert done.outputs["verdict"] == "no-baseline", done.log()
    assert not step(done, "Store the baseline").skipped


def test_unchanged_passes(job: Job) -> None:
    seed_baseline(job)
    done, summary = job.run("pull_request", {"results-file": "same.json"})
    assert not done.failed, done.log()
    assert done.outputs["verdict"] == "pass"
    assert done.outputs["regressions"] == "0"
    assert "OK: no regression against the baseline (2 unchanged)" in text(summary)
    assert "Compared with the latest results of branch main." in summary
    assert Path(done.outputs["report-path"]).read_text() == summary


def test_regression_fails_the_job_and_comments_once(job: Job, github: GitHubStub) -> None:
    seed_baseline(job)
    inputs = {"results-file": "slower.json", "comment-on-pr": "true"}
    done, summary = job.run("pull_request", inputs)
    run_step = step(done, "Run, compare and report")
    assert run_step.exit_code == 1, done.log()
    assert done.failed
    assert done.outputs["verdict"] == "regression"
    assert done.outputs["regressions"] == "1"
    assert "FAIL: 1 regression against the baseline" in text(summary)
    assert "#### Regressions (1)" in summary
    assert step(done, "Store the baseline").skipped  # a PR never replaces the baseline
    assert step(done, "Comment on the pull request").exit_code == 0  # runs after the failure
    assert list(github.comments) == [100]
    assert github.comments[100].startswith("<!-- pytest-parscale:default -->\n### :x:")

    again, _ = job.run("pull_request", inputs)  # the next push to the PR: same comment
    assert again.outputs["verdict"] == "regression"
    assert list(github.comments) == [100]
    methods = [method for method, _, _ in github.requests]
    assert methods == ["GET", "POST", "GET", "PATCH"]
    assert {auth for _, _, auth in github.requests} == {"Bearer fake-token"}


def test_improvement_passes_and_is_listed(job: Job) -> None:
    seed_baseline(job)
    done, summary = job.run("pull_request", {"results-file": "faster.json"})
    assert not done.failed, done.log()
    assert done.outputs["verdict"] == "pass"
    assert "1 improvement" in text(summary)
    assert "#### Improvements (1)" in summary


def test_push_compares_then_refreshes_the_baseline(job: Job) -> None:
    seed_baseline(job)
    done, summary = job.run("push", {"results-file": "faster.json"})
    assert done.outputs["verdict"] == "pass", done.log()
    assert "These results replace the baseline of this branch." in summary
    assert len(list(job.cache.iterdir())) == 2
    after, summary = job.run("pull_request", {"results-file": "faster.json"})
    assert after.outputs["verdict"] == "pass"
    assert "(2 unchanged)" in text(summary)  # compared with the newest baseline


def test_baseline_from_another_core_count_is_flagged(job: Job) -> None:
    seed_baseline(job, "four-cores.json")
    done, summary = job.run("pull_request", {"results-file": "same.json"})
    assert done.outputs["verdict"] == "pass", done.log()
    assert "different usable cores (baseline 4, head 2)" in text(summary)
    run_log = step(done, "Run, compare and report").stdout
    assert "::warning::pytest-parscale: the runs had different usable cores" in run_log


def test_fork_pull_request_does_not_try_to_comment(job: Job, github: GitHubStub) -> None:
    seed_baseline(job)
    inputs = {"results-file": "slower.json", "comment-on-pr": "true"}
    done, summary = job.run("pull_request", inputs, fork=True)
    assert done.outputs["verdict"] == "regression"
    assert step(done, "Comment on the pull request").skipped
    assert "workflow_run pattern" in summary
    assert github.requests == []
    pull = json.loads((Path(done.outputs["report-path"]).parent / "pull-request.json").read_text())
    assert pull == {"number": 7, "head_sha": "f" * 40}
