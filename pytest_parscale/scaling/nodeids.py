"""Which records form one sweep or one size series: a node id without its worker,
backend and item-size parameters (``4``, ``w4``, ``4w``, ``workers=4``...)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pytest_parscale.sizes import format_size

if TYPE_CHECKING:
    from pytest_parscale.results import Record


_WORKER_TOKEN = r"(?:w|workers?[=_]?|n)?{count}(?:w|workers?)?"


def _strip_token(nodeid: str, pattern: str) -> str:
    """Remove the first dash-separated parameter token fully matching ``pattern``."""
    if not nodeid.endswith("]") or "[" not in nodeid:
        return nodeid
    head, _, params = nodeid[:-1].partition("[")
    tokens = params.split("-")
    for index, token in enumerate(tokens):
        if re.fullmatch(pattern, token, flags=re.IGNORECASE):
            del tokens[index]
            break
    rest = "-".join(tokens)
    return f"{head}[{rest}]" if rest else head


def sweep_test_id(record: Record) -> str:
    """The node id without its worker part (``4``, ``w4``, ``4w``, ``workers=4``...)."""
    requested = record.workers_requested or record.workers
    return _strip_token(record.nodeid, _WORKER_TOKEN.format(count=int(requested)))


def size_series_test_id(record: Record) -> str:
    """The node id without its worker, backend and item-size parts."""
    nodeid = _strip_token(sweep_test_id(record), re.escape(record.backend))
    if record.item_size is not None:
        nodeid = _strip_token(nodeid, re.escape(format_size(record.item_size)))
    return nodeid
