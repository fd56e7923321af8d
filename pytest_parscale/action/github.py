"""The GitHub side of the Action: REST calls, comments, artifacts, acceptances.

Everything that talks to the GitHub API lives here, behind an injectable
``Transport`` so tests never reach the network; the steps decide what to do with
the answers. Trust rules are in docs/github-action.md: only the token's own
comment is edited, only maintainers accept a regression, and an artifact is data.
"""

from __future__ import annotations

import io
import json
import re
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_parscale.errors import BaselineError

COMMENT_LIMIT = 65_000  # GitHub refuses comment bodies above 65,536 characters
ACCEPT_LABEL = "parscale-accept"


def annotate(level: str, message: str) -> None:
    """A workflow command: shows in the run's annotations as well as the log."""
    print(f"::{level}::{message.replace('%', '%25').replace(chr(10), '%0A')}")


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    body: Mapping[str, Any] | None = None
    raw: bool = False  # the answer is bytes (an artifact's zip), not JSON


Transport = Callable[[Request, str], Any]
"""Sends a request with a token and returns the decoded JSON (raises HTTPError)."""


def urllib_transport(request: Request, token: str) -> Any:
    """The real GitHub REST call; the only place that touches the network."""
    data = json.dumps(request.body).encode() if request.body is not None else None
    http = urllib.request.Request(request.url, data=data, method=request.method)
    http.add_header("Accept", "application/vnd.github+json")
    http.add_header("X-GitHub-Api-Version", "2022-11-28")
    # unredirected: an artifact download redirects to storage that must not see the token
    http.add_unredirected_header("Authorization", f"Bearer {token}")
    if data is not None:
        http.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(http, timeout=30) as response:
        answer = response.read()
    return answer if request.raw else json.loads(answer or b"null")


def marker(key: str) -> str:
    """The hidden line that finds our comment again; one per baseline key (matrix job)."""
    return f"<!-- pytest-parscale:{re.sub(r'[^A-Za-z0-9._]+', '_', key)} -->"


def comment_body(report: str, key: str) -> str:
    if len(report) > COMMENT_LIMIT:
        cut = report[:COMMENT_LIMIT].rsplit("\n", 1)[0]
        report = cut + "\n\n_Report truncated; the full report is in the job summary._\n"
    return f"{marker(key)}\n{report}"


GITHUB_ACTIONS_BOT = "github-actions[bot]"  # who GITHUB_TOKEN comments as
GITHUB_API = "https://api.github.com"


def api_root(environ: Mapping[str, str]) -> str:
    """The REST API's root: GITHUB_API_URL (set on GitHub Enterprise), else github.com's."""
    return environ.get("GITHUB_API_URL", GITHUB_API).rstrip("/")


def token_login(repo_api: str, token: str, send: Transport) -> str:
    """The login the token writes comments as; only its own comments are ever edited.

    A personal or app token answers ``GET /user``; the workflow's GITHUB_TOKEN cannot
    (403, "Resource not accessible by integration") and always writes as
    ``github-actions[bot]``.
    """
    api = repo_api.split("/repos/", 1)[0]
    try:
        user = send(Request("GET", f"{api}/user"), token)
    except urllib.error.HTTPError as error:
        if error.code in (401, 403, 404):
            return GITHUB_ACTIONS_BOT
        raise
    login = user.get("login") if isinstance(user, dict) else None
    return str(login) if login else GITHUB_ACTIONS_BOT


def pull_base(
    repository: str, number: int, expect_head_sha: str, environ: Mapping[str, str], send: Transport
) -> str:
    """The base branch of pull request ``number``, asked of GitHub, if its head is the
    commit that was tested: the number comes from an artifact the PR's code wrote."""
    url = f"{api_root(environ)}/repos/{repository}/pulls/{number}"
    pull = send(Request("GET", url), environ.get("GITHUB_TOKEN", "")) or {}
    if (pull.get("head") or {}).get("sha") != expect_head_sha:
        raise ValueError(f"pull request {number} is not at commit {expect_head_sha}")
    return str((pull.get("base") or {}).get("ref") or "")


def upsert_comment(
    *,
    repository: str,
    number: int,
    body: str,
    key: str,
    token: str,
    api_url: str = GITHUB_API,
    expect_head_sha: str | None = None,
    author: str = "",
    send: Transport = urllib_transport,
) -> str:
    """Create or update the one comment of ours carrying ``marker(key)``; says what it did.

    Only a comment written by the token's own login is updated: anyone can post a
    comment starting with the marker, and editing theirs would let them rewrite the
    verdict later (docs/github-action.md, "Comments only the bot owns").
    ``expect_head_sha`` guards the workflow_run pattern: the PR number comes from an
    artifact the PR's own code produced, so the comment goes only to the pull
    request whose head really is the commit that was tested. ``author``: the login
    the token writes as, when ``GET /user`` cannot say (a GitHub App's token, which
    would otherwise be taken for ``github-actions[bot]``).
    """
    repo_url = f"{api_url.rstrip('/')}/repos/{repository}"
    if expect_head_sha is not None:
        pull = send(Request("GET", f"{repo_url}/pulls/{number}"), token)
        if (pull.get("head") or {}).get("sha") != expect_head_sha:
            raise ValueError(
                f"pull request {number} is not at commit {expect_head_sha}; not commenting"
            )
    tag = marker(key)
    login = author or token_login(repo_url, token, send)
    page = 1
    while True:
        listed = send(
            Request("GET", f"{repo_url}/issues/{number}/comments?per_page=100&page={page}"), token
        )
        for existing in listed:
            writer = (existing.get("user") or {}).get("login")
            if writer == login and str(existing.get("body", "")).startswith(tag):
                url = f"{repo_url}/issues/comments/{existing['id']}"
                send(Request("PATCH", url, {"body": body}), token)
                return f"updated comment {existing['id']}"
        if len(listed) < 100:
            break
        page += 1
    created = send(Request("POST", f"{repo_url}/issues/{number}/comments", {"body": body}), token)
    return f"created comment {created.get('id')}"


def read_pull_request_number(path: Path) -> int:
    """The number in an artifact's pull-request.json; anything but a plain int is refused."""
    number = json.loads(path.read_text(encoding="utf-8")).get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        raise BaselineError(path, f"has no pull-request number (found {number!r})")
    return number


# -- artifacts ----------------------------------------------------------------------

ARTIFACT_PREFIX = "pytest-parscale-baseline-"
ARTIFACT_LIMIT = 50_000_000  # bytes of one file inside the zip; a results file is far less


def artifact_name(baseline_key: str) -> str:
    """The artifact the action uploads beside the cache on every baseline refresh."""
    return ARTIFACT_PREFIX + re.sub(r"[^A-Za-z0-9._-]+", "_", baseline_key)


BASELINE_EVENTS = frozenset({"push", "schedule", "workflow_dispatch"})  # runs that store one
ARTIFACT_PAGES = 50  # 5,000 artifacts of one name: past that the listing is a flood
HISTORY_MEMBER = re.compile(r"history/\d{6}-[0-9a-z]{1,40}\.json")


def workflow_path(workflow_ref: str, repository: str) -> str:
    """``.github/workflows/x.yml`` from GITHUB_WORKFLOW_REF (``owner/repo/PATH@REF``)."""
    return workflow_ref.removeprefix(f"{repository}/").split("@", 1)[0]


def _listing(url: str, token: str, send: Transport) -> list[dict[str, Any]]:
    """Every page of an artifact listing: a flood of newer artifacts hides nothing."""
    found: list[dict[str, Any]] = []
    for page in range(1, ARTIFACT_PAGES + 1):
        listed = send(Request("GET", f"{url}&per_page=100&page={page}"), token) or {}
        batch = [item for item in listed.get("artifacts") or [] if isinstance(item, dict)]
        found += batch
        if len(batch) < 100 or len(found) >= int(listed.get("total_count") or 0):
            return found
    annotate("warning", f"pytest-parscale: read only the first {len(found)} baseline artifacts")
    return found


def _stored_by_branch_run(run: Mapping[str, Any], branch: str, workflow: str) -> bool:
    """A run of this repository's own code on ``branch``, of an event that stores baselines.

    A fork's pull request runs in the base repository, under the fork's branch name
    (often ``main``) and with any workflow file it likes: its head repository, its
    event and its path tell it apart (docs/github-action.md, "What a pull request can
    and cannot influence").
    """
    own = (run.get("repository") or {}).get("id")
    head = (run.get("head_repository") or {}).get("id")
    return (
        own is not None
        and head == own
        and run.get("event") in BASELINE_EVENTS
        and run.get("head_branch") == branch
        and (not workflow or str(run.get("path", "")).split("@", 1)[0] == workflow)
    )


def fetch_baseline(
    *,
    repository: str,
    branch: str,
    baseline_key: str,
    target: Path,
    wanted: Sequence[str],
    token: str,
    api_url: str,
    send: Transport,
    workflow: str = "",
) -> tuple[str, str]:
    """The newest unexpired baseline artifact of ``branch`` into ``target``.

    An artifact counts only if the run that uploaded it passes
    ``_stored_by_branch_run`` (asked through ``GET /actions/runs/{id}``), from
    ``workflow`` (a path; empty: any). Only the ``wanted`` file names and the
    ``history/`` files are extracted (the first wanted one must be there); no
    path from the zip is trusted.
    Returns (source, history): ``("artifact", "restored")``, or ``("none", "evicted")``
    when the branch had baselines that all expired, or ``("none", "first-run")`` when
    it never had one. Artifacts live up to 90 days, caches 7 days unused: the
    artifact list is what tells an evicted baseline from a first run.
    """
    name = artifact_name(baseline_key)
    repo_url = f"{api_url.rstrip('/')}/repos/{repository}"
    ours = [
        artifact
        for artifact in _listing(f"{repo_url}/actions/artifacts?name={name}", token, send)
        if artifact.get("name") == name and _same_repository_branch(artifact, branch)
    ]
    live = sorted(
        (artifact for artifact in ours if not artifact.get("expired")),
        key=lambda artifact: str(artifact.get("created_at", "")),
        reverse=True,
    )
    for artifact in live:
        run_id = int(artifact["workflow_run"]["id"])  # _same_repository_branch: it is there
        try:
            run = send(Request("GET", f"{repo_url}/actions/runs/{run_id}"), token)
        except urllib.error.HTTPError as error:
            if error.code != 404:  # a deleted run vouches for nothing; try the next
                raise
            continue
        if isinstance(run, dict) and _stored_by_branch_run(run, branch, workflow):
            data = send(Request("GET", str(artifact["archive_download_url"]), raw=True), token)
            _extract(data, target, wanted)
            if not (target / wanted[0]).is_file():
                return "none", "evicted"
            return "artifact", "restored"
    return "none", "evicted" if any(artifact.get("expired") for artifact in ours) else "first-run"


def _same_repository_branch(artifact: Mapping[str, Any], branch: str) -> bool:
    """The listing's own facts: uploaded by a run on ``branch`` of this repository."""
    run = artifact.get("workflow_run") or {}
    return (
        run.get("head_branch") == branch
        and run.get("id") is not None
        and run.get("head_repository_id") == run.get("repository_id")
    )


def _extract(data: bytes, target: Path, wanted: Sequence[str]) -> None:
    """The wanted files and the history of the artifact's zip, size-checked."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.infolist():
            if member.filename not in wanted and not HISTORY_MEMBER.fullmatch(member.filename):
                continue  # nothing else is read, and no other path from the zip is trusted
            if member.file_size > ARTIFACT_LIMIT:
                raise BaselineError(Path(member.filename), "in the baseline artifact is too large")
            (target / member.filename).parent.mkdir(parents=True, exist_ok=True)
            (target / member.filename).write_bytes(archive.read(member))


# -- acceptances ---------------------------------------------------------------------


@dataclass(frozen=True)
class Acceptance:
    """Regressions a trusted person accepted: all (the label) or some (ack comments)."""

    label_by: str | None = None  # who put ACCEPT_LABEL on the pull request
    tests: Mapping[str, str] = field(default_factory=dict)  # test id -> who acknowledged it

    def to_json(self) -> str:
        return json.dumps({"label_by": self.label_by, "tests": dict(self.tests)})

    @classmethod
    def from_json(cls, text: str) -> Acceptance:
        """The ``ci accept`` step's output; empty means nothing accepted."""
        if not text.strip():
            return cls()
        loaded = json.loads(text)
        tests = loaded.get("tests") or {}
        return cls(loaded.get("label_by"), {str(k): str(v) for k, v in tests.items()})


ACK_PREFIX = "parscale-ack:"
