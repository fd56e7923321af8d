from __future__ import annotations

import pytest

from pytest_parscale.sizes import approx_size, format_size, parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("10B", 10),
        ("10", 10),
        (10, 10),
        ("1KB", 1000),
        ("1kb", 1000),
        ("100KB", 100_000),
        ("10MB", 10_000_000),
        ("4KiB", 4096),
        ("1MiB", 1024**2),
        ("1.5KB", 1500),
        (" 2 KB ", 2000),
    ],
)
def test_parse_size(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["10XB", "", "KB", "-1KB", "0B", "0.5B", True, None, 0, 1.5, "1e3"])
def test_parse_size_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match=r"size|bytes"):
        parse_size(bad)


@pytest.mark.parametrize(
    ("size", "label"),
    [
        (10, "10B"),
        (1000, "1KB"),
        (100_000, "100KB"),
        (10_000_000, "10MB"),
        (4096, "4KiB"),
        (1500, "1500B"),
    ],
)
def test_format_size(size: int, label: str) -> None:
    assert format_size(size) == label
    assert parse_size(label) == size


@pytest.mark.parametrize(
    ("size", "label"), [(16239.4, "16.2KB"), (999, "999B"), (2.5e6, "2.5MB"), (7.0, "7B")]
)
def test_approx_size(size: float, label: str) -> None:
    assert approx_size(size) == label
