"""Whether the parallel run returned what the serial reference did.

Used by ``parscale.map`` (item by item) and ``parscale.measure`` (whole results).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pytest_parscale.errors import ResultMismatch


def equal(left: Any, right: Any) -> bool:
    try:
        return bool(left == right)
    except (ValueError, TypeError):  # array-likes: compare element-wise
        return bool((left == right).all())


def check_lists(reference: Sequence[Any], result: Sequence[Any]) -> None:
    """Raise ResultMismatch naming the first item whose parallel result differs."""
    if len(reference) != len(result):
        raise ResultMismatch(
            f"the parallel run returned {len(result)} results for {len(reference)} items"
        )
    try:
        if reference == result:
            return
    except (ValueError, TypeError):
        pass
    for index, (expected, got) in enumerate(zip(reference, result, strict=False)):
        if not equal(expected, got):
            raise ResultMismatch(
                f"result {index} differs: serial {short(expected)} != parallel {short(got)}"
            )


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
