"""A pytest plugin (``-p bench_timer``) timing the phases of a session for the harness.

It wraps the hooks where the test loop and the report happen and writes the
timestamps to ``BENCH_TIMER_FILE`` at the very end.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator
from typing import Any

import pytest

_marks: dict[str, float] = {"configure": time.perf_counter()}


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, Any, Any]:
    _marks["loop_start"] = time.perf_counter()
    try:
        return (yield)
    finally:
        _marks["loop_end"] = time.perf_counter()


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session) -> Generator[None, Any, Any]:
    _marks["finish_start"] = time.perf_counter()
    try:
        return (yield)
    finally:
        _marks["finish_end"] = time.perf_counter()


@pytest.hookimpl(wrapper=True)
def pytest_terminal_summary(terminalreporter: Any) -> Generator[None, Any, Any]:
    _marks["summary_start"] = time.perf_counter()
    try:
        return (yield)
    finally:
        _marks["summary_end"] = time.perf_counter()


def pytest_unconfigure(config: pytest.Config) -> None:
    _marks["unconfigure"] = time.perf_counter()
    path = os.environ.get("BENCH_TIMER_FILE")
    if path:
        with open(path, "w", encoding="utf-8") as stream:
            json.dump(_marks, stream)
