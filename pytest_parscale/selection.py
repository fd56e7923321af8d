"""``-p pytest_parscale.selection --parscale-only=FILE``: run only the listed test ids.

The Action's paired confirmation re-measures only the tests a baseline flagged, but
keeps the user's pytest arguments (options, ini, paths) as they are: telling a path
from an option's value in them would be guesswork, so the listed ids are selected
after collection instead (docs/github-action.md, "Confirmation by a paired run").
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--parscale-only",
        metavar="FILE",
        default=None,
        help="run only the test ids listed in FILE, one a line (the Action's paired confirmation)",
    )


def wanted(path: str) -> set[str]:
    """The ids in ``path``, or a UsageError naming the file."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise pytest.UsageError(f"--parscale-only {path}: {error.strerror or error}") from None
    return {line.strip() for line in lines if line.strip()}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    path = config.getoption("parscale_only")
    if path is None:
        return
    ids = wanted(path)
    keep = [item for item in items if item.nodeid in ids]
    dropped = [item for item in items if item.nodeid not in ids]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
