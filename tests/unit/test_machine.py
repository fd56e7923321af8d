from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_parscale.machine import (
    cgroup_cpu_limit,
    combine_core_counts,
    fingerprint,
    git_state,
    parse_cfs,
    parse_cpu_max,
    usable_cores,
    xdist_role,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("max 100000", None), ("200000 100000", 2.0), ("150000 100000\n", 1.5), ("bad", None)],
)
def test_parse_cpu_max(text: str, expected: float | None) -> None:
    assert parse_cpu_max(text) == expected


def test_parse_cfs() -> None:
    assert parse_cfs("-1", "100000") is None
    assert parse_cfs("300000\n", "100000\n") == 3.0


def test_cgroup_v2_file_wins(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("100000 100000\n")
    assert cgroup_cpu_limit(tmp_path) == 1.0


def test_cgroup_v1_files(tmp_path: Path) -> None:
    folder = tmp_path / "cpu,cpuacct"
    folder.mkdir()
    (folder / "cpu.cfs_quota_us").write_text("250000")
    (folder / "cpu.cfs_period_us").write_text("100000")
    assert cgroup_cpu_limit(tmp_path) == 2.5


def test_no_cgroup_files(tmp_path: Path) -> None:
    assert cgroup_cpu_limit(tmp_path) is None


@pytest.mark.parametrize(
    ("cpu_count", "affinity", "quota", "expected"),
    [
        (8, 8, None, 8),
        (8, 2, None, 2),
        (8, 8, 1.5, 1),
        (8, 4, 3.0, 3),
        (None, None, None, 1),
        (4, None, 0.5, 1),
    ],
)
def test_usable_cores_is_the_least_of_the_three(
    cpu_count: int | None, affinity: int | None, quota: float | None, expected: int
) -> None:
    assert combine_core_counts(cpu_count, affinity, quota) == expected


def test_fingerprint_has_what_design_asks() -> None:
    data = fingerprint()
    for key in (
        "usable_cores",
        "affinity",
        "cgroup_cpu_quota",
        "load_average",
        "cpu_model",
        "python",
        "start_method",
    ):
        assert key in data
    assert data["usable_cores"] == usable_cores() >= 1


def test_git_state_outside_git(tmp_path: Path) -> None:
    assert git_state(tmp_path) is None


def test_git_state_commit_and_dirty_flag(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    git("init", "-q", "-b", "trunk")
    (tmp_path / "a.txt").write_text("one")
    git("add", "a.txt")
    git("commit", "-q", "-m", "one")
    state = git_state(tmp_path)
    assert state == {"commit": git("rev-parse", "HEAD"), "dirty": False, "branch": "trunk"}
    (tmp_path / "a.txt").write_text("two")
    assert git_state(tmp_path) == {**state, "dirty": True}


@pytest.mark.parametrize(
    ("workerinput", "environ", "option", "role"),
    [
        (None, {}, SimpleNamespace(), "none"),
        ({"workerid": "gw0"}, {}, SimpleNamespace(), "worker"),
        (None, {"PYTEST_XDIST_WORKER": "gw1"}, SimpleNamespace(), "worker"),
        (None, {}, SimpleNamespace(numprocesses=2, dist="load"), "controller"),
        (None, {}, SimpleNamespace(numprocesses=0, dist="no"), "none"),
    ],
)
def test_xdist_role(
    workerinput: object, environ: dict[str, str], option: object, role: str
) -> None:
    assert xdist_role(workerinput, environ, option) == role
