"""Who accepted which regression, on which commit: the label and the ack lines.

An acceptance is pinned to the head commit it was given on and counts only from
someone who can push to the repository and is not the pull request's author
(docs/github-action.md, "Accepting an intended regression"):

- a ``parscale-ack: <test id> @<sha>`` line names the commit (7 to 40 hex digits,
  a prefix of the head); a line for another commit, or for none, counts for nothing;
- the ``parscale-accept`` label counts if its last ``labeled`` event is later than
  the first workflow run GitHub started for the head commit (server times: a push
  after the label starts a newer run, so the label no longer counts);
- the person's permission is asked of ``GET /collaborators/{user}/permission``:
  ``admin``, ``maintain`` or ``write``. An author association (``MEMBER``,
  ``COLLABORATOR``) is not enough: it includes read-only collaborators.

Everything the API does not answer accepts nothing, and says why in the log.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_parscale.action.github import (
    ACCEPT_LABEL,
    ACK_PREFIX,
    Acceptance,
    Request,
    Transport,
    annotate,
    api_root,
    token_login,
)

WRITERS = frozenset({"admin", "maintain", "write"})
_ACK = re.compile(rf"^{re.escape(ACK_PREFIX)}(?P<id>.*?)(?:\s+@(?P<sha>[0-9a-fA-F]{{7,40}}))?$")


@dataclass
class _Api:
    """One pull request's calls, with the answers asked once (permissions)."""

    repo_url: str
    token: str
    send: Transport
    permissions: dict[str, bool] = field(default_factory=dict)

    def get(self, path: str) -> Any:
        return self.send(Request("GET", f"{self.repo_url}{path}"), self.token)

    def pages(self, path: str) -> list[Any]:
        found: list[Any] = []
        for page in range(1, 51):
            listed = self.get(f"{path}?per_page=100&page={page}") or []
            found += listed
            if len(listed) < 100:
                break
        return found

    def can_push(self, login: str) -> bool:
        """Write, maintain or admin on the repository (a 404: not a collaborator)."""
        if login not in self.permissions:
            try:
                answer = self.get(f"/collaborators/{urllib.parse.quote(login)}/permission") or {}
            except urllib.error.HTTPError as error:
                if error.code != 404:
                    raise
                answer = {}
            levels = {str(answer.get("permission")), str(answer.get("role_name"))}
            self.permissions[login] = bool(levels & WRITERS)
        return self.permissions[login]


def parse_ack(line: str) -> tuple[str, str] | None:
    """(test id, commit) of a ``parscale-ack:`` line; commit empty when it names none."""
    found = _ACK.match(line.strip())
    if found is None:
        return None
    nodeid = found.group("id").strip().strip("`").strip()
    return (nodeid, (found.group("sha") or "").lower()) if nodeid else None


def acknowledged_tests(api: _Api, number: int, head: str, ignore: set[str]) -> dict[str, str]:
    """Test id -> who acknowledged it, on the head commit, with push rights."""
    acks: dict[str, str] = {}
    for comment in api.pages(f"/issues/{number}/comments"):
        login = str((comment.get("user") or {}).get("login") or "")
        for line in str(comment.get("body", "")).splitlines():
            parsed = parse_ack(line)
            if parsed is None or login in ignore:
                continue
            nodeid, sha = parsed
            if not sha or not head.startswith(sha):
                said = f"commit {sha}" if sha else "no commit"
                annotate(
                    "notice",
                    f"pytest-parscale: {login}'s ack of {nodeid} names {said}, not the head "
                    f"{head[:12]}: write '{ACK_PREFIX} {nodeid} @{head[:12]}'",
                )
            elif not api.can_push(login):
                annotate("notice", f"pytest-parscale: {login} cannot push here; ack ignored")
            else:
                acks[nodeid] = login
    return acks


def accepted_by(api: _Api, number: int, head: str, ignore: set[str]) -> str | None:
    """Who labelled the pull request ACCEPT_LABEL while ``head`` was its head, if anyone may."""
    events = [
        event
        for event in api.pages(f"/issues/{number}/events")
        if event.get("event") == "labeled"
        and (event.get("label") or {}).get("name") == ACCEPT_LABEL
    ]
    if not events:
        return None
    last = events[-1]
    login = str((last.get("actor") or {}).get("login") or "")
    runs = api.get(f"/actions/runs?head_sha={head}&per_page=100") or {}
    started = [str(run.get("created_at")) for run in runs.get("workflow_runs") or []]
    if not started or str(last.get("created_at", "")) < min(started):
        annotate(
            "notice",
            f"pytest-parscale: the {ACCEPT_LABEL} label was added before commit {head[:12]} "
            "was pushed: remove and add it again to accept this commit",
        )
        return None
    if login in ignore or not api.can_push(login):
        annotate("notice", f"pytest-parscale: {login or 'someone'} cannot accept; label ignored")
        return None
    return login


def acceptance(
    repository: str,
    number: int,
    environ: Mapping[str, str],
    send: Transport,
    *,
    head_sha: str | None = None,
    labels: Sequence[str] | None = None,
) -> Acceptance:
    """The label and the acks of pull request ``number`` for commit ``head_sha``.

    ``head_sha``: the commit that was tested (None: the pull request's head now, as
    in a merge queue, which holds a pull request's head while it waits);
    ``labels``: from the event payload (None: ask the API). The pull request's
    author and the token's own login never accept. An API failure accepts nothing.
    """
    token = environ.get("GITHUB_TOKEN", "")
    api = _Api(f"{api_root(environ)}/repos/{repository}", token, send)
    try:
        pull = api.get(f"/pulls/{number}") or {}
        head = (head_sha or str((pull.get("head") or {}).get("sha") or "")).lower()
        ignore = {
            str((pull.get("user") or {}).get("login") or ""),
            token_login(api.repo_url, token, send),
        }
        if labels is None:
            labels = [str(label.get("name")) for label in pull.get("labels") or []]
        if not head:
            return Acceptance()
        tests = acknowledged_tests(api, number, head, ignore)
        label_by = accepted_by(api, number, head, ignore) if ACCEPT_LABEL in labels else None
    except (urllib.error.URLError, OSError, ValueError, AttributeError) as error:
        annotate("warning", f"pytest-parscale: could not read acceptances: {error}")
        return Acceptance()
    return Acceptance(label_by, tests)
