"""The README documents every option and every backend: no silent drift."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pytest_parscale.backends.base import BACKENDS
from pytest_parscale.config import OPTIONS

README = (Path(__file__).parents[2] / "README.md").read_text()


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.name)
def test_every_option_is_documented(option: object) -> None:
    assert f"`{option.cli}".split("=")[0] in README  # type: ignore[attr-defined]


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_every_backend_is_documented(backend: str) -> None:
    assert f"| `{backend}` |" in README


ACTION_DOC = (Path(__file__).parents[2] / "docs" / "github-action.md").read_text()
ACTION = yaml.safe_load((Path(__file__).parents[2] / "action.yml").read_text())


@pytest.mark.parametrize("name", [*ACTION["inputs"], *ACTION["outputs"]])
def test_every_action_input_and_output_is_documented(name: str) -> None:
    assert f"| `{name}` |" in ACTION_DOC
    assert f"`{name}`" in README


@pytest.mark.parametrize("name", list(ACTION["inputs"]))
def test_every_action_input_default_is_the_documented_one(name: str) -> None:
    default = ACTION["inputs"][name]["default"] or '""'
    assert f"| `{name}` | `{default}` |" in ACTION_DOC
