from __future__ import annotations

from pathlib import Path

import pytest

from pytest_parscale.machine import (
    cgroup_cpu_limit,
    combine_core_counts,
    fingerprint,
    parse_cfs,
    parse_cpu_max,
    usable_cores,
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
