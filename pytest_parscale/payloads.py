"""Deterministic items for ``parscale.payloads``: the same bytes on every run."""

from __future__ import annotations

import functools


def payload_block(size: int, index: int) -> bytes:
    """Deterministic item ``index`` of ``size`` bytes (a rotating 0..255 pattern)."""
    return _pattern(size + 256)[index % 256 : index % 256 + size]


@functools.lru_cache(maxsize=8)
def _pattern(length: int) -> bytes:
    return (bytes(range(256)) * (length // 256 + 1))[:length]
