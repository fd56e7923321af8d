"""Chunking and the by-value shipping rule the Ray, Dask and Celery backends share."""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from pytest_parscale.backends import _mp, _remote


def test_chunks_cover_items_in_order() -> None:
    items = list(range(10))
    parts = _remote.chunks(items, 4)
    assert parts == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert _remote.flatten([_remote.run_chunk(abs, part) for part in parts]) == items


def test_chunks_of_nothing() -> None:
    assert _remote.chunks([], 3) == []


def test_installed_modules_travel_by_reference() -> None:
    assert _remote.module_to_ship_by_value(json.dumps) is None
    assert _remote.module_to_ship_by_value(_mp.warm_task) is None
    assert _remote.module_to_ship_by_value(len) is None


def test_a_module_only_on_the_test_path_travels_by_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "test_shipped_here.py"
    source.write_text("def work(n):\n    return n + 1\n")
    spec = importlib.util.spec_from_file_location("test_shipped_here", source)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "test_shipped_here", module)
    spec.loader.exec_module(module)
    assert _remote.module_to_ship_by_value(module.work) is module
    assert _remote.module_to_ship_by_value(functools.partial(module.work)) is module
