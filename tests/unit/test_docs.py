"""The README documents every option and every backend: no silent drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_parscale.backends.base import BACKENDS
from pytest_parscale.config import OPTIONS

README = (Path(__file__).parents[2] / "README.md").read_text()


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.name)
def test_every_option_is_documented(option: object) -> None:
    assert f"`{option.cli}".split("=")[0] in README  # type: ignore[attr-defined]


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_every_backend_is_documented(backend: str) -> None:
    assert f"| `{backend}` |" in README
