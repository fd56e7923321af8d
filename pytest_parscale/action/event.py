"""The runner's side: the workflow run that started the Action, and the files the
runner reads back (step outputs, job summary).

The environment (``GITHUB_*``, ``RUNNER_*``) and the event file are read through a
mapping, so tests fake them.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_parscale.action.github import api_root


@dataclass(frozen=True)
class Event:
    """What the action needs to know about the workflow run that started it."""

    name: str
    branch: str | None  # whose baseline to compare with: the PR's base, or the pushed branch
    pull_request: int | None
    head_sha: str | None
    from_fork: bool
    repository: str
    api_url: str
    merge_queue: bool = False
    labels: tuple[str, ...] = ()  # the pull request's labels, from GitHub's event payload
    base_sha: str | None = None  # the commit a paired run confirms against (PR, merge queue)
    queued_pull_request: int | None = None  # a merge queue's pull request, by its branch name

    @property
    def stores_baseline(self) -> bool:
        """Runs on a branch (push, schedule, manual) refresh that branch's baseline.

        Pull requests never do: their cache is scoped to the PR, useless to anyone
        else, and a PR must not be able to replace the reference it is judged by.
        Nor does a merge-queue run: it tests a temporary branch, judged by its base.
        """
        return self.pull_request is None and self.branch is not None and not self.merge_queue


def queued_pull_request(head_ref: str) -> int | None:
    """The pull request a merge-queue branch was made for (``.../pr-7-<sha>``)."""
    found = re.search(r"/pr-(\d+)-[0-9a-f]+$", head_ref)
    return int(found.group(1)) if found else None


def read_event(environ: Mapping[str, str]) -> Event:
    """The event from the runner's environment and its event file (GITHUB_EVENT_PATH)."""
    name = environ.get("GITHUB_EVENT_NAME", "")
    payload: dict[str, Any] = {}
    path = environ.get("GITHUB_EVENT_PATH")
    if path and Path(path).is_file():
        loaded = json.loads(Path(path).read_text(encoding="utf-8"))
        payload = loaded if isinstance(loaded, dict) else {}
    repository = environ.get("GITHUB_REPOSITORY", "")
    api_url = api_root(environ)
    pull = payload.get("pull_request")
    group = payload.get("merge_group")
    if name == "merge_group" and isinstance(group, dict):
        # the queue's branch is gh-readonly-queue/...: judge against the branch it merges into
        base_ref = str(group.get("base_ref") or "")
        return Event(
            name=name,
            branch=base_ref.removeprefix("refs/heads/") or None,
            pull_request=None,
            head_sha=group.get("head_sha") or environ.get("GITHUB_SHA"),
            from_fork=False,
            repository=repository,
            api_url=api_url,
            merge_queue=True,
            base_sha=group.get("base_sha") or None,
            queued_pull_request=queued_pull_request(str(group.get("head_ref") or "")),
        )
    if name.startswith("pull_request") and isinstance(pull, dict):
        head_repo = (pull.get("head") or {}).get("repo") or {}
        return Event(
            name=name,
            branch=environ.get("GITHUB_BASE_REF") or (pull.get("base") or {}).get("ref"),
            pull_request=int(pull["number"]),
            head_sha=(pull.get("head") or {}).get("sha"),
            from_fork=head_repo.get("full_name") not in (None, repository),
            repository=repository,
            api_url=api_url,
            labels=tuple(
                str(label.get("name"))
                for label in pull.get("labels") or []
                if isinstance(label, dict)
            ),
            base_sha=(pull.get("base") or {}).get("sha") or None,
        )
    ref = environ.get("GITHUB_REF", "")
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    return Event(
        name=name,
        branch=branch,
        pull_request=None,
        head_sha=environ.get("GITHUB_SHA"),
        from_fork=False,
        repository=repository,
        api_url=api_url,
    )


def work_dir(environ: Mapping[str, str]) -> Path:
    """Where the action keeps its files: the runner's temp folder, outside the checkout."""
    return (Path(environ.get("RUNNER_TEMP") or ".") / "pytest-parscale").resolve()


def write_outputs(outputs: Mapping[str, str], environ: Mapping[str, str]) -> None:
    """Append ``name=value`` lines to $GITHUB_OUTPUT (printed when run outside Actions)."""
    lines = []
    for name, value in outputs.items():
        if "\n" in value:
            raise ValueError(f"output {name} must be one line")
        lines.append(f"{name}={value}\n")
    target = environ.get("GITHUB_OUTPUT")
    if target:
        with open(target, "a", encoding="utf-8") as stream:
            stream.writelines(lines)
    else:
        sys.stdout.writelines(lines)


def append_summary(markdown: str, environ: Mapping[str, str]) -> None:
    target = environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as stream:
            stream.write(markdown)
