"""The two trees under test: git worktrees of BASE and HEAD, ``--install`` (pip) and
``--setup``, and the import path each session runs with."""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pytest_parscale.errors import ParscaleError
from pytest_parscale.machine import run_git


class PairedError(ParscaleError):
    """A revision, a checkout or a session went wrong; exit 2 with this message."""


def git(arguments: Sequence[str], cwd: Path) -> str:
    """git's output, or PairedError with its message."""
    done = run_git(arguments, cwd)
    if done.returncode:
        raise PairedError(f"git {' '.join(arguments)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def resolve(revision: str, repository: Path) -> str:
    """The commit a revision names, or PairedError naming the revision."""
    done = run_git(["rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"], repository)
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
            run_git(["worktree", "remove", "--force", str(tree)], self.repository)
        shutil.rmtree(self.temporary, ignore_errors=True)
        run_git(["worktree", "prune"], self.repository)


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
            git(["worktree", "add", "--detach", str(tree), commit], repository)
            made.trees[side] = tree
        yield made
    finally:
        made.remove()


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
    listed = git(["ls-files", "--cached", "--others", "--exclude-standard", "-z"], tree)
    for name in filter(None, listed.split("\0")):
        source = tree / name
        if source.is_file():  # a deleted, still tracked file is listed too
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def setup(command: str, tree: Path, side: str, installed: Path | None) -> None:
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
