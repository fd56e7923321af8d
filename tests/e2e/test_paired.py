"""`parscale paired` end to end on a throwaway git repository (real pool sessions).

The regression is a head that ships a 20 MB argument with each of 8 small work
items: its speedup falls to a small fraction of the base's, far outside the noise
of a busy 2-core machine. The unchanged case runs with a generous threshold, so
only the decision path is checked, not how quiet the machine is.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.e2e.conftest import reaped, sigint_default

WORK = """
def spin(item):
    total = 0
    for i in range(item[0]):
        total += i * i
    return total

def items():
    return [(100_000, PAYLOAD)] * 8
"""

SUITE = """
from work import items, spin

def test_scales(parscale):
    parscale.map(spin, items())
"""

PYTEST = ["--", "--parscale-backends=pool", "--parscale-min-rounds=3", "--parscale-max-time=1"]


def git(repo: Path, *arguments: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", *arguments],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def make_repo(path: Path) -> Path:
    """Two commits: base ships nothing extra, head ships 20 MB with every item."""
    path.mkdir()
    git(path, "init", "-q")
    (path / "test_work.py").write_text(SUITE)
    (path / "work.py").write_text(WORK.replace("PAYLOAD", 'b""'))
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "base")
    (path / "work.py").write_text(WORK.replace("PAYLOAD", 'b"x" * 20_000_000'))
    git(path, "commit", "-q", "-am", "head: a 20 MB argument per item")
    return path


def env(tmp: Path) -> dict[str, str]:
    tmp.mkdir(exist_ok=True)
    return {**os.environ, "TMPDIR": str(tmp)}


def parscale(repo: Path, tmp: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_parscale", "paired", *arguments],
        cwd=repo,
        env=env(tmp),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def assert_clean(repo: Path, tmp: Path) -> None:
    assert len(git(repo, "worktree", "list").splitlines()) == 1
    assert list(tmp.iterdir()) == []


def test_real_regression_exits_1_and_unchanged_code_exits_0(tmp_path: Path) -> None:
    repo, tmp = make_repo(tmp_path / "repo"), tmp_path / "tmp"
    regressed = parscale(repo, tmp, "HEAD~1", "HEAD", "--format", "json", *PYTEST)
    assert regressed.returncode == 1, regressed.stderr
    report = json.loads(regressed.stdout)
    (test,) = report["tests"]
    assert test["status"] == "regression"
    assert report["mode"] == "paired"
    assert report["paired"]["pairs"] >= 3
    assert report["paired"]["seconds"] > 0
    speedup = test["changes"][0]
    assert speedup["significant"]
    assert speedup["beyond_threshold"]
    assert speedup["change"] < 0
    assert report["baseline"]["path"].startswith("HEAD~1 (")
    assert "base session 3" in regressed.stderr
    assert "head session 3" in regressed.stderr
    assert_clean(repo, tmp)

    git(repo, "checkout", "-q", "HEAD~1")  # the working tree is the base again
    unchanged = parscale(
        repo, tmp, "HEAD", "--fail-on", "speedup:60%,overhead:50pp", "--max-sessions", "3", *PYTEST
    )
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    assert unchanged.stdout.startswith("OK: no regression")
    assert "working tree" in unchanged.stdout
    assert_clean(repo, tmp)


def test_ctrl_c_removes_the_worktrees(tmp_path: Path) -> None:
    repo, tmp = make_repo(tmp_path / "repo"), tmp_path / "tmp"
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_parscale", "paired", "HEAD~1", "HEAD", *PYTEST],
        cwd=repo,
        env=env(tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_default,
    )
    with reaped(process):
        deadline = time.monotonic() + 120
        while not list(tmp.glob("parscale-paired-*/base-1.log")):  # a session is running
            assert process.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert len(git(repo, "worktree", "list").splitlines()) == 3
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted; worktrees removed" in stderr
    assert_clean(repo, tmp)
    # the session and its pool workers (forked: same command line) are gone too
    time.sleep(1)
    left = [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if str(tmp) in " ".join(p.info["cmdline"] or [])
    ]
    assert left == []


PACKAGE = """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "pkgx"
version = "0.1"
"""

# a session that does not import the installed copy stops at collection (exit 4):
# `parscale paired` then exits 2, so the two runs below tell the modes apart
CONFTEST = """
import pkgx

if "-installed" not in pkgx.__file__:
    raise RuntimeError(f"pkgx imported from its sources: {pkgx.__file__}")
"""


def test_install_builds_each_tree_and_imports_the_built_copy(tmp_path: Path) -> None:
    repo, tmp = tmp_path / "repo", tmp_path / "tmp"
    (repo / "src" / "pkgx").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "pyproject.toml").write_text(PACKAGE)
    (repo / "src" / "pkgx" / "__init__.py").write_text(WORK.replace("PAYLOAD", 'b""'))
    (repo / "tests").mkdir()
    (repo / "tests" / "conftest.py").write_text(CONFTEST)
    (repo / "tests" / "test_work.py").write_text(SUITE.replace("from work", "from pkgx"))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    # HEAD against the working tree: the working tree must be left as it was
    arguments = ["HEAD", "--max-sessions", "3", "--fail-on", "speedup:60%,overhead:50pp"]

    sources = parscale(repo, tmp, *arguments, *PYTEST)
    assert sources.returncode == 2, sources.stdout + sources.stderr
    assert "pkgx imported from its sources" in sources.stderr

    installed = parscale(repo, tmp, *arguments, "--install", *PYTEST)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "installing the base tree" in installed.stderr
    assert "installing the head tree" in installed.stderr
    assert installed.stdout.startswith("OK: no regression")
    assert_clean(repo, tmp)
    assert git(repo, "status", "--porcelain", "--ignored") == ""  # no build/, no egg-info


BROKEN = """
import threading

def twice(x):
    return x * 2 + (BROKEN and threading.current_thread() is not threading.main_thread())

def test_doubles(parscale):
    parscale.map(twice, list(range(16)))
"""


def test_a_head_that_fails_its_own_test_is_an_error_and_exits_1(tmp_path: Path) -> None:
    """Issue 21 item 7: the head's parallel results differ from the serial reference,
    so its sessions record nothing; the run says so and exits 1 (it said "OK: no
    regression (1 missing)" and exited 0)."""
    repo, tmp = tmp_path / "repo", tmp_path / "tmp"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "test_broken.py").write_text(BROKEN.replace("BROKEN and", "False and"))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    (repo / "test_broken.py").write_text(BROKEN.replace("BROKEN and", "True and"))
    thread = ["--", "--parscale-backends=thread", "--parscale-min-rounds=2"]
    done = parscale(repo, tmp, "HEAD", "--max-sessions", "3", *thread)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("FAIL: 1 test failed on one side without a measurement")
    assert "error on head: call: result 0 differs" in done.stdout
    assert "family: 0 tests (0 comparisons), Holm" in done.stdout
    assert_clean(repo, tmp)
