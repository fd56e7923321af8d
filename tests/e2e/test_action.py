"""action.yml run locally, step by step, in a fake GitHub environment.

The composite steps' own commands run (tests/actionrunner.py evaluates their
expressions and fakes setup-python and the cache). Scenarios are deterministic:
the baseline and head are synthetic results files (tests/records.py) fed through
the action's ``results-file`` input; only the first-run scenario measures live,
on the thread backend with a tiny workload. The pull-request comment goes to a
stub of the GitHub API on loopback.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import shutil
import sys
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pytest_parscale.results import Record, document, write_atomic
from pytest_parscale.stats import ratio_of_medians_ci
from pytest_parscale.storage import load
from tests.actionrunner import COMMENT_ACTION, ActionRun, FakeRunner
from tests.e2e.test_paired import git, make_repo
from tests.records import MACHINE, record, scaled

REPOSITORY = "octo/widgets"
REPOSITORY_ID = 4242
WORKFLOW = ".github/workflows/parscale.yml"  # the workflow that gates and stores baselines
SUITE = """
import pytest

def spin(n):
    return sum(i * i for i in range(n))

@pytest.mark.parscale(backends=["thread"], workers=2)
def test_spin(parscale):
    parscale.map(spin, [2_000] * 4)
"""


class GitHubStub:
    """The REST paths the Action uses: one pull request's comments, the token's identity,
    the pull request's head, and the artifacts the fake runner uploaded."""

    def __init__(self) -> None:
        self.comments: dict[int, tuple[str, str]] = {}  # id: (author, body)
        self.requests: list[tuple[str, str, str | None]] = []
        self.head_sha = "f" * 40
        self.artifacts: Path | None = None  # the fake runner's artifacts folder
        self.expired: set[str] = set()
        self.labels: list[str] = []
        self.associations = {"maintainer": "MEMBER"}
        self.permissions = {"maintainer": "write"}  # GET /collaborators/{user}/permission
        self.author = "author"  # who opened pull request 7
        self.base_ref = "main"  # pull request 7's base branch
        self.labelled_at = "2026-12-01T12:00:00Z"  # the parscale-accept label's event
        self.labeller = "maintainer"  # who added it
        self.pushed_at = {"f" * 40: "2026-12-01T11:00:00Z"}  # first run of each head commit
        self.planted: list[dict[str, Any]] = []  # more artifacts in the listing
        self.planted_files: dict[str, Path] = {}  # download name: folder zipped for it
        self.runs: dict[int, dict[str, Any]] = {}  # GET /actions/runs/{id}, beyond pushes
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, payload: Any) -> None:
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
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
                if self.path == "/user":  # GITHUB_TOKEN cannot ask who it is
                    self._reply(403, {"message": "Resource not accessible by integration"})
                elif self.path.endswith("/pulls/7"):
                    labels = [{"name": name} for name in stub.labels]
                    pull = {
                        "head": {"sha": stub.head_sha},
                        "base": {"ref": stub.base_ref},
                        "user": {"login": stub.author},
                    }
                    self._reply(200, {"number": 7, **pull, "labels": labels})
                elif "/issues/7/events" in self.path:
                    labelled = [
                        {
                            "event": "labeled",
                            "actor": {"login": stub.labeller},
                            "label": {"name": name},
                            "created_at": stub.labelled_at,
                        }
                        for name in stub.labels
                    ]
                    self._reply(200, labelled if "page=1" in self.path else [])
                elif "/permission" in self.path:
                    user = self.path.split("/collaborators/", 1)[1].split("/", 1)[0]
                    level = stub.permissions.get(user)
                    self._reply(*((200, {"permission": level}) if level else (404, {})))
                elif "/actions/runs?head_sha=" in self.path:
                    sha = self.path.split("head_sha=", 1)[1].split("&", 1)[0]
                    runs = [{"created_at": stub.pushed_at[sha]}] if sha in stub.pushed_at else []
                    self._reply(200, {"workflow_runs": runs})
                elif "/actions/artifacts?" in self.path:
                    self._reply(200, stub.listed(self.path))
                elif "/actions/runs/" in self.path:
                    self._reply(200, stub.run(int(self.path.rsplit("/", 1)[1])))
                elif self.path.startswith("/download/"):
                    self._reply(200, stub.zipped(self.path.removeprefix("/download/")))
                else:
                    listed = [
                        {
                            "id": key,
                            "user": {"login": author},
                            "author_association": stub.associations.get(author, "NONE"),
                            "body": body,
                        }
                        for key, (author, body) in stub.comments.items()
                    ]
                    self._reply(200, listed if "page=1" in self.path else [])

            def do_POST(self) -> None:
                stub.requests.append(("POST", self.path, self.headers["Authorization"]))
                number = 100 + len(stub.comments)
                stub.comments[number] = (BOT, self._body()["body"])
                self._reply(201, {"id": number})

            def do_PATCH(self) -> None:
                stub.requests.append(("PATCH", self.path, self.headers["Authorization"]))
                number = int(self.path.rsplit("/", 1)[1])
                stub.comments[number] = (stub.comments[number][0], self._body()["body"])
                self._reply(200, {})

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def listed(self, path: str) -> dict[str, Any]:
        """One page of the artifacts of a name: the fake runner's uploads (push runs of
        this repository on main), then ``planted`` ones, newest first, as GitHub lists."""
        name = path.split("name=", 1)[1].split("&", 1)[0]
        paged = re.search(r"[?&]page=(\d+)", path)
        page = int(paged.group(1)) if paged else 1
        folders = (
            sorted(self.artifacts.iterdir()) if self.artifacts and self.artifacts.exists() else []
        )
        uploaded = [
            {
                "id": int(folder.name.split("@")[1]),
                "name": name,
                "expired": folder.name in self.expired,
                "created_at": f"2026-11-30T10:{int(folder.name.split('@')[1]) % 60:02d}:00Z",
                "archive_download_url": f"{self.url}/download/{folder.name}",
                "workflow_run": self.run_of(int(folder.name.split("@")[1])),
            }
            for folder in folders
            if folder.name.split("@")[0] == name
        ]
        every = sorted(
            [*uploaded, *(a for a in self.planted if a["name"] == name)],
            key=lambda artifact: str(artifact["created_at"]),
            reverse=True,
        )
        return {"total_count": len(every), "artifacts": every[(page - 1) * 100 : page * 100]}

    def run_of(self, run_id: int) -> dict[str, Any]:
        """The listing's short form of a run; the full run is ``self.runs`` or a push."""
        run = self.run(run_id)
        return {
            "id": run_id,
            "repository_id": run["repository"]["id"],
            "head_repository_id": run["head_repository"]["id"],
            "head_branch": run["head_branch"],
        }

    def run(self, run_id: int) -> dict[str, Any]:
        """GET /actions/runs/{id}: a planted run, else a push of this repository's gate."""
        return self.runs.get(run_id) or {
            "id": run_id,
            "event": "push",
            "head_branch": "main",
            "path": WORKFLOW,
            "repository": {"id": REPOSITORY_ID},
            "head_repository": {"id": REPOSITORY_ID},
        }

    def zipped(self, name: str) -> bytes:
        folder = self.artifacts / name if self.artifacts else Path(name)
        if not folder.is_dir():
            folder = self.planted_files[name]
        data = io.BytesIO()
        with zipfile.ZipFile(data, "w") as archive:
            for file in sorted(folder.rglob("*")):
                if file.is_file():  # paths relative to the uploaded folder, as upload-artifact
                    archive.write(file, file.relative_to(folder).as_posix())
        return data.getvalue()

    def bodies(self) -> dict[int, str]:
        return {number: body for number, (_, body) in self.comments.items()}


BOT = "github-actions[bot]"


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
        self.artifacts = root / "artifacts"
        self.cache = root / "cache"
        self.cache.mkdir()
        self.api_url = api_url
        self.runs = 0

    def run(
        self,
        event: str,
        inputs: dict[str, str],
        *,
        fork: bool = False,
        action: Path | None = None,
        labels: tuple[str, ...] = (),
        checkout: tuple[Path, str] | None = None,
        base_sha: str | None = None,
        head: str = "f" * 40,
        tree: dict[str, str] | None = None,
        branch: str = "main",
    ) -> tuple[ActionRun, str]:
        """``checkout`` (a git repo, a commit) makes the workspace a shallow fetch of
        that commit, as actions/checkout does; ``base_sha`` and ``head`` (the pull
        request's head commit) go in the PR's event; ``tree`` adds files (relative
        path: text) to the checkout, as a pull request would; ``branch`` is the one
        pushed, or the pull request's base."""
        self.runs += 1
        job = self.root / f"job{self.runs}"
        workspace, temp = job / "workspace", job / "temp"
        workspace.mkdir(parents=True)
        temp.mkdir()
        if checkout is None:
            (workspace / "suite").mkdir()
            (workspace / "suite" / "test_spin.py").write_text(SUITE)
        else:
            shallow_checkout(workspace, *checkout)
        for name in os.listdir(self.root / "files"):
            (workspace / name).write_bytes((self.root / "files" / name).read_bytes())
        for name, content in (tree or {}).items():
            (workspace / name).parent.mkdir(parents=True, exist_ok=True)
            (workspace / name).write_text(content)
        summary, event_path = temp / "summary.md", temp / "event.json"
        env = {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "HOME": os.environ.get("HOME", str(job)),
            "RAY_AUTH_MODE": "disabled",
            # ignored by the action's `python -I`, which imports the installed copy (the
            # venv's editable install of this tree); kept for the PR's own pytest run
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_EVENT_NAME": event,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_WORKFLOW_REF": f"{REPOSITORY}/{WORKFLOW}@refs/heads/main",
            "GITHUB_API_URL": self.api_url,
            "GITHUB_RUN_ID": str(1000 + self.runs),
            "GITHUB_RUN_ATTEMPT": "1",
            "RUNNER_OS": "Linux",
            "RUNNER_TEMP": str(temp),
            "TMPDIR": str(temp),  # parscale paired's worktrees: checked for leftovers
        }
        if event == "pull_request":
            head_repo = "someone/widgets" if fork else REPOSITORY
            payload = {
                "number": 7,
                "pull_request": {
                    "number": 7,
                    "head": {"sha": head, "ref": "feature", "repo": {"full_name": head_repo}},
                    "user": {"login": "author"},
                    "base": {
                        "ref": branch,
                        "repo": {"full_name": REPOSITORY},
                        **({"sha": base_sha} if base_sha else {}),
                    },
                    "labels": [{"name": name} for name in labels],
                },
                "repository": {"full_name": REPOSITORY},
            }
            env |= {"GITHUB_BASE_REF": branch, "GITHUB_REF": "refs/pull/7/merge"}
        elif event == "merge_group":
            queue = "refs/heads/gh-readonly-queue/main/pr-7-" + "a" * 40
            payload = {
                "merge_group": {
                    "head_sha": "a" * 40,
                    "head_ref": queue,
                    "base_ref": "refs/heads/main",
                }
            }
            env |= {"GITHUB_REF": queue, "GITHUB_SHA": "a" * 40}
        elif event == "workflow_run":  # runs on the default branch, with the run's facts
            payload = {"workflow_run": {"event": "pull_request", "head_sha": "f" * 40}}
            env |= {"GITHUB_REF": "refs/heads/main", "GITHUB_SHA": "d" * 40}
        else:
            payload = {"ref": f"refs/heads/{branch}", "repository": {"full_name": REPOSITORY}}
            env |= {"GITHUB_REF": f"refs/heads/{branch}", "GITHUB_SHA": "e" * 40}
        event_path.write_text(json.dumps(payload))
        github = {
            "event_name": event,
            "event": payload,
            "token": "fake-token",
            "workspace": str(workspace),
        }
        runner = FakeRunner(workspace, temp, self.cache, env, github)
        extra = {"python-version": ""} if action else {}
        done = runner.run_action(
            {"install": "false", **extra, **inputs}, *([action] if action else [])
        )
        return done, summary.read_text() if summary.exists() else ""


def shallow_checkout(workspace: Path, repo: Path, commit: str) -> None:
    """What actions/checkout does by default: one commit, depth 1, origin = the repo."""
    for command in (
        ["init", "-q"],
        ["remote", "add", "origin", repo.resolve().as_uri()],
        ["fetch", "-q", "--no-tags", "--depth=1", "origin", commit],
        ["checkout", "-q", "--detach", "FETCH_HEAD"],
    ):
        git(workspace, *command)


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
    github.artifacts = tmp_path / "artifacts"
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
    assert "no baseline to compare with" in summary
    assert "No baseline was ever stored for branch main" in summary  # told by the artifacts
    assert "A push to the base branch" in summary  # a PR cannot store the baseline
    assert "::warning::pytest-parscale: no baseline was ever stored" in pull.log()
    assert pull.outputs["baseline-source"] == "none"
    assert "| `test_spin[thread]` | thread | 2/2 |" in summary  # the results table
    assert step(pull, "Store the baseline").skipped
    assert json.loads(Path(pull.outputs["results-path"]).read_text())["results"]

    push, summary = job.run("push", inputs)
    assert not push.failed, push.log()
    assert push.outputs["verdict"] == "no-baseline"
    assert "These results are stored as the baseline." in summary
    assert not step(push, "Store the baseline").skipped
    (stored,) = (p.name for p in job.cache.iterdir())
    assert re.fullmatch(
        r"pytest-parscale-v1-Linux-default-main-Linux-py3\.\d+-\d+c-[0-9a-f]{8}-1002-1", stored
    )
    assert sorted(p.name for p in job.artifacts.iterdir()) == [
        "pytest-parscale-baseline-default@1002"
    ]


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
    assert (
        "Compared with the latest results of branch main at commit `eeeeeeeeeeee` (from the cache"
        in summary
    )
    assert Path(done.outputs["report-path"]).read_text() == summary
    assert done.outputs["baseline-source"] == "cache"
    assert done.outputs["baseline-commit"] == "e" * 40
    assert 0 <= int(done.outputs["baseline-age"]) < 600


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
    assert github.bodies()[100].startswith("<!-- pytest-parscale:default -->\n### :x:")

    again, _ = job.run("pull_request", inputs)  # the next push to the PR: same comment
    assert again.outputs["verdict"] == "regression"
    assert list(github.comments) == [100]
    methods = [method for method, _, _ in github.requests if method != "GET"]
    assert methods == ["POST", "PATCH"]
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
    assert "different usable cores (baseline 4, head 2)" in summary
    run_log = step(done, "Run, compare and report").stdout
    assert "::warning::pytest-parscale: different environments: usable cores 4 -> 2" in run_log


def test_fork_pull_request_does_not_try_to_comment(job: Job, github: GitHubStub) -> None:
    seed_baseline(job)
    inputs = {"results-file": "slower.json", "comment-on-pr": "true"}
    done, summary = job.run("pull_request", inputs, fork=True)
    assert done.outputs["verdict"] == "regression"
    assert step(done, "Comment on the pull request").skipped
    assert "workflow_run pattern" in summary
    assert [method for method, _, _ in github.requests if method != "GET"] == []  # reads acks only
    pull = json.loads((Path(done.outputs["report-path"]).parent / "pull-request.json").read_text())
    assert pull == {"number": 7, "head_sha": "f" * 40}


PLANTED = "<!-- pytest-parscale:default -->\n### :white_check_mark: all good, merge me"


def test_a_planted_marker_comment_of_another_user_is_never_edited(
    job: Job, github: GitHubStub
) -> None:
    seed_baseline(job)
    github.comments[50] = ("mallory", PLANTED)
    inputs = {"results-file": "slower.json", "comment-on-pr": "true"}
    job.run("pull_request", inputs)
    job.run("pull_request", inputs)
    assert github.comments[50] == ("mallory", PLANTED)
    assert list(github.comments) == [50, 101]  # ours, created once then updated
    assert github.comments[101][0] == BOT
    assert "### :x:" in github.comments[101][1]
    assert [m for m, path, _ in github.requests if "/comments" in path and m != "GET"] == [
        "POST",
        "PATCH",
    ]


def artifact_of(job: Job, done: ActionRun, *, tamper: bool) -> Path:
    """The gate's out-dir as the comment job downloads it; a fork may rewrite all of it."""
    folder = job.root / "downloaded"
    shutil.copytree(done.outputs["out-dir"], folder)
    if tamper:
        (folder / "report.md").write_text("### :white_check_mark: PASS, nothing to see\n")
    return folder


def test_the_workflow_run_job_judges_again_and_never_posts_the_artifact_report(
    job: Job, github: GitHubStub
) -> None:
    seed_baseline(job)
    gate, _ = job.run("pull_request", {"results-file": "slower.json"}, fork=True)
    assert gate.outputs["verdict"] == "regression"
    github.comments[50] = ("mallory", PLANTED)
    inputs = {"artifact-dir": str(artifact_of(job, gate, tamper=True)), "expect-head-sha": "f" * 40}
    done, summary = job.run("workflow_run", inputs, action=COMMENT_ACTION)
    assert not done.failed, done.log()
    assert "restored pytest-parscale-v1-Linux-default-main-" in done.log()  # our own baseline
    (ours,) = (body for author, body in github.comments.values() if author == BOT)
    assert ours.startswith("<!-- pytest-parscale:default -->\n### :x: pytest-parscale: FAIL")
    assert "nothing to see" not in ours
    assert "#### Regressions (1)" in ours
    assert summary
    assert summary in ours  # the job summary shows the same rebuilt report
    assert github.comments[50] == ("mallory", PLANTED)


def test_the_workflow_run_job_judges_against_the_pr_s_base_branch_in_its_own_environment(
    job: Job, github: GitHubStub
) -> None:
    seed_baseline(job, "slower.json")  # main: the pull request's results look unchanged
    assert job.run("push", {"results-file": "base.json"}, branch="release")[0].outputs
    gate, _ = job.run("pull_request", {"results-file": "slower.json"}, fork=True, branch="release")
    assert gate.outputs["verdict"] == "regression", gate.log()
    github.base_ref = "release"
    artifact = artifact_of(job, gate, tamper=False)
    claimed = json.loads((artifact / "results.json").read_text())
    claimed["machine"]["python"] = "3.99.0"  # another environment, claimed by the artifact
    (artifact / "results.json").write_text(json.dumps(claimed))
    inputs = {"artifact-dir": str(artifact), "expect-head-sha": "f" * 40}
    done, _summary = job.run("workflow_run", inputs, action=COMMENT_ACTION)
    assert not done.failed, done.log()
    assert "restored pytest-parscale-v1-Linux-default-release-" in done.log()
    (ours,) = github.bodies().values()
    assert "### :x: pytest-parscale: FAIL" in ours
    planned = (job.root / f"job{job.runs}" / "temp" / "output-0").read_text()  # ci plan's
    key = re.search(r"^environment=(.+)$", planned, re.M)
    assert key
    assert "py3.99" not in key.group(1)
    named = f"Baseline restored by this trusted job: branch release, environment `{key.group(1)}`"
    assert named in text(ours)


def test_the_workflow_run_job_comments_nothing_when_the_pr_moved_on(
    job: Job, github: GitHubStub
) -> None:
    seed_baseline(job)
    gate, _ = job.run("pull_request", {"results-file": "slower.json"}, fork=True)
    github.head_sha = "1" * 40
    inputs = {
        "artifact-dir": str(artifact_of(job, gate, tamper=False)),
        "expect-head-sha": "f" * 40,
    }
    done, _ = job.run("workflow_run", inputs, action=COMMENT_ACTION)
    assert not done.failed, done.log()
    assert github.comments == {}
    assert "is not at commit" in done.log()


def test_an_evicted_cache_falls_back_to_the_baseline_artifact(job: Job) -> None:
    seed_baseline(job)
    for entry in job.cache.iterdir():  # the cache went unused for a week
        shutil.rmtree(entry)
    done, summary = job.run("pull_request", {"results-file": "slower.json"})
    assert done.outputs["verdict"] == "regression", done.log()
    assert done.outputs["baseline-source"] == "artifact"
    assert done.outputs["baseline-commit"] == "e" * 40
    assert "(from the artifact" in summary


def plant(
    github: GitHubStub, folder: Path, *, run_id: int, created: str, **run: Any
) -> dict[str, Any]:
    """An artifact named like the baseline, uploaded by run ``run_id`` (described by
    ``run``, over a push of this repository on main), with ``folder`` as its zip."""
    github.runs[run_id] = {**github.run(run_id), **run}
    github.planted_files[f"planted-{run_id}"] = folder
    entry = {
        "id": run_id,
        "name": "pytest-parscale-baseline-default",
        "expired": False,
        "created_at": created,
        "archive_download_url": f"{github.url}/download/planted-{run_id}",
        "workflow_run": github.run_of(run_id),
    }
    github.planted.append(entry)
    return entry


def evict(job: Job) -> None:
    for entry in job.cache.iterdir():  # the cache went unused for a week, or was flooded
        shutil.rmtree(entry)


def test_a_fork_s_artifact_named_like_the_baseline_never_becomes_it(
    job: Job, github: GitHubStub
) -> None:
    seed_baseline(job)
    evict(job)
    forged = job.root / "forged"
    forged.mkdir()
    shutil.copyfile(job.root / "files" / "slower.json", forged / "results.json")
    (forged / "provenance.json").write_text(json.dumps({"commit": "6" * 40}))
    fork = {"head_repository": {"id": 666}, "event": "pull_request"}
    plant(github, forged, run_id=9001, created="2026-12-01T00:00:00Z", **fork)
    # the same files again from this repository, but by a pull request's run, another
    # workflow file, and a push to another branch: none of them stores main's baseline
    plant(github, forged, run_id=9002, created="2026-12-02T00:00:00Z", event="pull_request")
    plant(github, forged, run_id=9003, created="2026-12-03T00:00:00Z", path=".github/x.yml")
    plant(github, forged, run_id=9004, created="2026-12-04T00:00:00Z", head_branch="dev")
    github.requests.clear()
    done, _summary = job.run("pull_request", {"results-file": "slower.json"})
    assert done.outputs["verdict"] == "regression", done.log()
    assert done.outputs["baseline-source"] == "artifact"
    assert done.outputs["baseline-commit"] == "e" * 40  # the push's, not the fork's
    asked = [path for _, path, _ in github.requests if "/actions/runs/" in path]
    assert asked == [f"/repos/{REPOSITORY}/actions/runs/{n}" for n in (9003, 9002, 1001)]


def test_every_page_of_the_artifact_listing_is_read(job: Job, github: GitHubStub) -> None:
    seed_baseline(job)
    evict(job)
    other = job.root / "other"
    other.mkdir()
    for number in range(149):  # newer artifacts of the name push the baseline to page 2
        created = f"2026-12-{1 + number // 60:02d}T00:{number % 60:02d}:00Z"
        plant(github, other, run_id=5000 + number, created=created, head_branch="feature")
    github.requests.clear()
    done, _summary = job.run("pull_request", {"results-file": "slower.json"})
    assert done.outputs["verdict"] == "regression", done.log()
    assert done.outputs["baseline-source"] == "artifact"
    pages = [path for _, path, _ in github.requests if "/actions/artifacts?" in path]
    assert [path.rsplit("&page=", 1)[1] for path in pages] == ["1", "2"]


def test_the_history_travels_in_the_artifact_and_is_restored_with_it(job: Job) -> None:
    for _ in range(3):
        seed = job.run("push", {"results-file": "base.json"})[0]
        assert not step(seed, "Store the baseline").skipped, seed.log()
    evict(job)
    done, summary = job.run("pull_request", {"results-file": "same.json"})
    assert done.outputs["verdict"] == "pass", done.log()
    assert done.outputs["verdict-source"] == "history"  # 3 kept runs came back
    assert "(from the artifact" in summary


@pytest.mark.parametrize(
    ("policy", "fails", "mark"),
    [("pass", False, ":information_source:"), ("warn", False, ":warning:"), ("fail", True, ":x:")],
)
def test_an_expired_baseline_is_told_apart_from_a_first_run_and_judged_by_policy(
    job: Job, github: GitHubStub, policy: str, fails: bool, mark: str
) -> None:
    seed_baseline(job)
    for entry in job.cache.iterdir():
        shutil.rmtree(entry)
    github.expired = {p.name for p in job.artifacts.iterdir()}
    inputs = {"results-file": "same.json", "on-missing-baseline": policy}
    done, summary = job.run("pull_request", inputs)
    assert done.outputs["verdict"] == "no-baseline"
    assert done.failed is fails, done.log()
    assert summary.startswith(f"### {mark} pytest-parscale: no baseline to compare with")
    assert "The baseline of branch main was stored before but is gone" in summary
    assert ("::warning::" in done.log() or "::error::" in done.log()) is (policy != "pass")


def test_a_first_push_stores_its_baseline_even_when_missing_ones_fail(job: Job) -> None:
    done, _ = job.run("push", {"results-file": "base.json", "on-missing-baseline": "fail"})
    assert not done.failed, done.log()
    assert not step(done, "Store the baseline").skipped


def test_a_merge_queue_run_is_judged_against_its_base_branch_and_stores_nothing(job: Job) -> None:
    seed_baseline(job)
    done, summary = job.run("merge_group", {"results-file": "slower.json"})
    assert done.outputs["verdict"] == "regression", done.log()
    assert "branch main" in summary
    assert step(done, "Store the baseline").skipped
    assert len(list(job.cache.iterdir())) == 1


def test_an_accept_label_by_a_maintainer_lets_a_regression_pass_and_says_who(
    job: Job, github: GitHubStub
) -> None:
    seed_baseline(job)
    github.labels = ["parscale-accept"]
    done, summary = job.run(
        "pull_request", {"results-file": "slower.json"}, labels=("parscale-accept",)
    )
    assert not done.failed, done.log()
    assert done.outputs["verdict"] == "regression"
    assert done.outputs["accepted"] == "true"
    assert "added by maintainer" in summary
    assert "#### Regressions (1)" in summary  # still reported
    github.labels = []
    unlabelled, _ = job.run("pull_request", {"results-file": "slower.json"})
    assert unlabelled.failed


def test_the_comment_job_reads_the_accept_label_itself(job: Job, github: GitHubStub) -> None:
    seed_baseline(job)
    gate, _ = job.run("pull_request", {"results-file": "slower.json"}, fork=True)
    github.labels = ["parscale-accept"]
    inputs = {
        "artifact-dir": str(artifact_of(job, gate, tamper=False)),
        "expect-head-sha": "f" * 40,
    }
    done, _ = job.run("workflow_run", inputs, action=COMMENT_ACTION)
    assert not done.failed, done.log()
    (ours,) = github.bodies().values()
    assert "added by maintainer" in ours


def test_the_summary_shows_the_trend_over_the_branch_s_last_runs(job: Job) -> None:
    for name in ("base.json", "faster.json", "same.json"):
        done, _ = job.run("push", {"results-file": name, "history-size": "2"})
        assert not step(done, "Store the baseline").skipped, done.log()
    done, summary = job.run("pull_request", {"results-file": "slower.json"})
    assert "Trend over the last 2 runs of the base branch" in summary  # history-size kept 2
    (row,) = [line for line in summary.splitlines() if line.startswith("| `t.py::moves` | `")]
    assert row.endswith("| `█▃\\|▁` | 2.00 | 0.50 | -75% |")  # per worker: x2, x1, head x0.5


# what a hostile pull request adds to its tree: the action's own package and pip, which
# `python -m` would import from the working directory before the installed ones
SHADOW = """
import os, pathlib
pathlib.Path(os.environ["RUNNER_TEMP"], "pr-code-ran").write_text(
    os.environ.get("GITHUB_TOKEN", "no token")
)
"""
SHADOWED = {
    f"{package}/{module}": SHADOW
    for package in ("pytest_parscale", "pip")
    for module in ("__init__.py", "__main__.py")
}


def test_the_action_s_steps_never_import_the_pull_request_s_tree(
    job: Job, github: GitHubStub
) -> None:
    seed_baseline(job)
    evict(job)  # so the artifact fallback runs too, with the token
    inputs = {"results-file": "slower.json", "comment-on-pr": "true"}
    done, _summary = job.run("pull_request", inputs, tree=SHADOWED)
    assert done.outputs["verdict"] == "regression", done.log()
    ran = [s.name for s in done.steps if not s.skipped and "uses" not in s.name]
    assert {
        "Fetch the baseline artifact",
        "Read acceptances",
        "Comment on the pull request",
    } <= set(ran)
    assert not (job.root / f"job{job.runs}" / "temp" / "pr-code-ran").exists()
    assert github.comments  # the steps did run: the comment is there


HEAD = "f" * 12  # the pull request's head commit in Job.run's events, as an ack names it


@pytest.mark.parametrize(("author", "passes"), [("maintainer", True), ("mallory", False)])
def test_a_regression_acknowledged_per_test_by_a_member_passes(
    job: Job, github: GitHubStub, author: str, passes: bool
) -> None:
    seed_baseline(job)
    github.comments[60] = (author, f"Intended: the new codec.\nparscale-ack: `t.py::moves` @{HEAD}")
    done, summary = job.run("pull_request", {"results-file": "slower.json"})
    assert done.outputs["verdict"] == "regression"
    assert done.failed is not passes, done.log()
    assert ("- `t.py::moves` by maintainer" in summary) is passes


def test_an_ack_or_a_label_given_before_a_new_push_no_longer_accepts(
    job: Job, github: GitHubStub
) -> None:
    seed_baseline(job)
    inputs, label = {"results-file": "slower.json"}, ("parscale-accept",)
    github.labels = ["parscale-accept"]  # by a maintainer on 1 December, at head f...
    assert not job.run("pull_request", inputs, labels=label)[0].failed
    new_head = "1" * 40  # the author pushes again: a regression elsewhere, the label stays
    github.head_sha, github.pushed_at[new_head] = new_head, "2026-12-02T09:00:00Z"
    labelled, _ = job.run("pull_request", inputs, head=new_head, labels=label)
    assert labelled.failed
    assert labelled.outputs["accepted"] == "false"
    assert "label was added before commit 111111111111 was pushed" in labelled.log()
    github.labelled_at = "2026-12-02T10:00:00Z"  # removed and added again after the push
    again, _ = job.run("pull_request", inputs, head=new_head, labels=label)
    assert not again.failed, again.log()

    github.labels = []
    github.comments[60] = ("maintainer", f"parscale-ack: t.py::moves @{HEAD}")
    assert not job.run("pull_request", inputs)[0].failed  # acknowledged at head f...
    stale, _ = job.run("pull_request", inputs, head=new_head)
    assert stale.failed
    assert "names commit ffffffffffff, not the head 111111111111" in stale.log()
    github.comments[61] = ("maintainer", "parscale-ack: t.py::moves")  # no commit: no ack
    assert job.run("pull_request", inputs, head=new_head)[0].failed


@pytest.mark.parametrize(
    ("who", "association", "permission"),
    [("author", "MEMBER", "admin"), ("reader", "COLLABORATOR", "read"), ("org", "MEMBER", None)],
    ids=["the-pr-author", "a-read-only-collaborator", "a-member-without-access"],
)
def test_only_someone_with_push_rights_other_than_the_author_accepts(
    job: Job, github: GitHubStub, who: str, association: str, permission: str | None
) -> None:
    seed_baseline(job)
    github.associations[who] = association
    if permission:
        github.permissions[who] = permission
    github.comments[60] = (who, f"parscale-ack: t.py::moves @{HEAD}")
    github.labels, github.labeller = ["parscale-accept"], who
    label = ("parscale-accept",)
    done, summary = job.run("pull_request", {"results-file": "slower.json"}, labels=label)
    assert done.failed, done.log()
    assert done.outputs["accepted"] == "false"
    assert "Acknowledged regressions" not in summary
    assert f"{who} cannot accept; label ignored" in done.log()


def test_a_merge_queue_run_honours_the_acceptance_given_on_its_pull_request_s_head(
    job: Job, github: GitHubStub
) -> None:
    seed_baseline(job)
    github.comments[60] = ("maintainer", f"parscale-ack: t.py::moves @{HEAD}")
    done, summary = job.run("merge_group", {"results-file": "slower.json"})
    assert done.outputs["verdict"] == "regression"
    assert not done.failed, done.log()
    assert "- `t.py::moves` by maintainer" in summary


# -- confirmation by a paired run: a real git repo, live pool sessions ----------------

# a 60% bar: the 20 MB argument per item takes most of the speedup (tests/e2e/test_paired.py),
# and an unchanged pool test on a busy 2-core machine stays far inside it
LIVE = {
    "pytest-args": "--parscale-backends=pool --parscale-min-rounds=3 --parscale-max-time=1",
    "fail-on": "speedup:60%,overhead:50pp",
}


def seed_live_baseline(job: Job, repo: Path, commit: str) -> Path:
    """A push at ``commit`` measures and stores the baseline; its cached results file."""
    done, _ = job.run("push", LIVE, checkout=(repo, commit))
    assert done.outputs["verdict"] == "no-baseline", done.log()
    (stored,) = job.cache.iterdir()
    return stored / "results.json"


def no_leftover_worktrees(job: Job) -> None:
    left = list((job.root / f"job{job.runs}" / "temp").glob("parscale-paired-*"))
    assert left == []


def test_a_flagged_regression_confirmed_by_a_paired_run_fails_the_job(job: Job) -> None:
    repo = make_repo(job.root / "repo")
    base_sha, head_sha = git(repo, "rev-parse", "HEAD~1", "HEAD").split()
    seed_live_baseline(job, repo, base_sha)

    done, summary = job.run("pull_request", LIVE, checkout=(repo, head_sha), base_sha=base_sha)
    run_step = step(done, "Run, compare and report")
    assert run_step.exit_code == 1, done.log()
    assert done.outputs["verdict"] == "regression"
    assert done.outputs["verdict-source"] == "paired"
    assert done.outputs["regressions"] == "1"
    # the shallow checkout lacked the base commit: the action fetched it
    assert f"git fetch --no-tags --depth=1 origin {base_sha}" in run_step.stdout
    assert f"**Verdict from** a paired confirmation: base `{base_sha[:12]}`" in summary
    assert "Confirmed by the paired run (these fail the job):" in summary
    assert "test_work.py::test_scales" in summary.split("Confirmed by the paired run")[1]
    no_leftover_worktrees(job)


def test_a_regression_the_head_did_not_cause_is_not_confirmed_and_passes(job: Job) -> None:
    repo = make_repo(job.root / "repo")
    base_sha = git(repo, "rev-parse", "HEAD~1").strip()
    git(repo, "checkout", "-q", "-b", "docs-only", base_sha)  # the pull request: no code change
    (repo / "README").write_text("docs only\n")
    git(repo, "add", "README")
    git(repo, "commit", "-q", "-m", "docs only")
    head_sha = git(repo, "rev-parse", "HEAD").strip()
    stored = seed_live_baseline(job, repo, base_sha)
    # the baseline claims a speedup 10x the one measured: the head looks 90% slower, far
    # beyond the 60% bar even if this machine's load halves the live speedup between runs
    measured = load(stored)
    claimed = [
        dataclasses.replace(
            entry,
            serial=[value * 10 for value in entry.serial],
            speedup=ratio_of_medians_ci([value * 10 for value in entry.serial], entry.parallel),
            capacity=None,  # the claim alone decides whether the head is flagged
        )
        for entry in measured.records.values()
    ]
    engines = [dict(engine) for engine in measured.engines]
    git_state = dict(measured.git or {})
    write_atomic(stored, document(claimed, dict(measured.machine), engines, git_state))

    off, _ = job.run(
        "pull_request", {**LIVE, "confirm": "false"}, checkout=(repo, head_sha), base_sha=base_sha
    )
    assert off.outputs["verdict"] == "regression", off.log()  # flagged by the baseline
    assert off.outputs["verdict-source"] == "single"

    done, summary = job.run("pull_request", LIVE, checkout=(repo, head_sha), base_sha=base_sha)
    assert not done.failed, done.log()
    assert done.outputs["verdict"] == "pass"
    assert done.outputs["regressions"] == "0"
    assert done.outputs["verdict-source"] == "paired"
    assert summary.startswith("### :white_check_mark: pytest-parscale: OK: 1 test(s) flagged")
    assert "not confirmed by a paired run (these do not fail the job)" in summary
    no_leftover_worktrees(job)

    # a base commit the runner cannot fetch: no paired run, the flag stands and says why
    gone = "0" * 40
    lost, summary = job.run("pull_request", LIVE, checkout=(repo, head_sha), base_sha=gone)
    assert lost.outputs["verdict"] == "regression", lost.log()
    assert lost.outputs["verdict-source"] == "single"
    assert "Not confirmed by a paired run, so the baseline's flags stand" in text(summary)
    assert "the base commit 000000000000 is not in the checkout and could not be fetched" in (
        text(summary)
    )


def test_a_paired_run_that_cannot_run_leaves_the_flag_standing_and_says_why(job: Job) -> None:
    seed_baseline(job)
    done, summary = job.run("pull_request", {"results-file": "slower.json"}, base_sha="b" * 40)
    assert done.outputs["verdict"] == "regression", done.log()
    assert done.outputs["verdict-source"] == "single"
    assert "Not confirmed by a paired run, so the baseline's flags stand" in text(summary)
    assert "the results came from results-file" in text(summary)


def test_three_kept_runs_judge_by_the_spread_between_runs_and_say_so(job: Job) -> None:
    for _ in range(3):
        seed = job.run("push", {"results-file": "base.json"})[0]
        assert not step(seed, "Store the baseline").skipped, seed.log()
    done, summary = job.run("pull_request", {"results-file": "same.json"})
    assert done.outputs["verdict"] == "pass", done.log()
    assert done.outputs["verdict-source"] == "history"
    assert done.outputs["baseline-source"] == "history"
    assert "**Verdict from** the history of 3 runs of this branch" in summary
    slower, summary = job.run("pull_request", {"results-file": "slower.json"})
    assert slower.outputs["verdict"] == "regression", slower.log()
    assert slower.outputs["verdict-source"] == "history"  # results-file: no paired run
    assert "judged against the spread between the last 3 runs of the history" in text(summary)
