"""``--parscale-only=FILE``: run only the listed test ids.

The Action's paired confirmation re-measures only the tests a baseline flagged, but
keeps the user's pytest arguments (options, ini, paths) as they are: telling a path
from an option's value in them would be guesswork, so the listed ids are selected
after collection instead (docs/github-action.md, "Confirmation by a paired run").
The option is declared in config.OPTIONS like every other; plugin.py calls
``deselect_unlisted`` when it is set. ``-p pytest_parscale.selection`` still loads
(a no-op now), so a paired session of a revision that predates this keeps working.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def wanted(path: str, source: str) -> set[str]:
    """The ids in ``path``, or a UsageError naming the file and where it was given."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise pytest.UsageError(f"{source} {path}: {error.strerror or error}") from None
    return {line.strip() for line in lines if line.strip()}


def deselect_unlisted(
    config: pytest.Config, items: list[pytest.Item], path: str, source: str
) -> None:
    """Keep only the items whose node id ``path`` lists; report the rest as deselected."""
    ids = wanted(path, source)
    keep = [item for item in items if item.nodeid in ids]
    dropped = [item for item in items if item.nodeid not in ids]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
