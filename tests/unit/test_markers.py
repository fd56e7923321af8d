from __future__ import annotations

from typing import Any

import pytest

from pytest_parscale.errors import ConfigError
from pytest_parscale.markers import merge, parse_overhead, parse_parscale, parse_speedup

WHERE = "test t.py::test_x"


def test_speedup_positional_and_keyword() -> None:
    assert parse_speedup([2], {}, WHERE).min == 2.0
    spec = parse_speedup([], {"min": 6, "workers": 8, "from_size": "100KB"}, WHERE)
    assert (spec.min, spec.workers, spec.from_size) == (6.0, 8, 100_000)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ([], {"min": -1}, "test t.py::test_x: @pytest.mark.speedup argument min: -1 must be"),
        ([], {"min": "fast"}, "argument min: 'fast' is not a number"),
        ([], {"min": True}, "argument min: True is not a number"),
        ([], {"min": 2, "workers": 0}, "argument workers: 0 must be at least 1"),
        ([], {"min": 2, "workers": 2.5}, "argument workers: 2.5 is not a whole number"),
        ([], {"min": 2, "from_size": "big"}, "argument from_size: 'big' is not an item size"),
        ([], {}, "missing a required argument: 'min'"),
        ([], {"min": 2, "speed": 3}, "unexpected keyword argument 'speed'"),
    ],
)
def test_speedup_errors(args: list[Any], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_speedup(args, kwargs, WHERE)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max": 1.5}, "argument max: 1.5 must be a fraction"),
        ({"max": 0}, "argument max: 0 must be a finite number > 0"),
        ({"max": "x"}, "argument max: 'x' is not a number"),
    ],
)
def test_overhead_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_overhead([], kwargs, WHERE)
    assert message in str(caught.value)


def test_parscale_marker() -> None:
    spec = parse_parscale(
        [],
        {"backends": ["pool", "thread", "pool"], "item_sizes": ["10B", 1000], "max_time": 2},
        WHERE,
    )
    assert spec.backends == ("pool", "thread")
    assert spec.item_sizes == (10, 1000)
    assert spec.settings == {"max_time": 2.0}


def test_parscale_single_backend_string() -> None:
    assert parse_parscale([], {"backends": "pool"}, WHERE).backends == ("pool",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"backends": ["rayy"]},
            "argument backends: 'rayy' is not a backend (known: pool, process",
        ),
        ({"backends": []}, "argument backends: [] is empty"),
        ({"item_sizes": ["1QB"]}, "argument item_sizes: '1QB' is not an item size"),
        ({"max_time": "soon"}, "argument max_time: 'soon' is not a number"),
        ({"min_rounds": True}, "argument min_rounds: True is not a number"),
        ({"undersized": "grow"}, "argument undersized: 'grow' is not one of"),
        ({"workers": -2}, "argument workers: -2 must be at least 1"),
    ],
)
def test_parscale_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_parscale([], kwargs, WHERE)
    assert message in str(caught.value)


def test_markers_must_agree_on_workers() -> None:
    speedup = parse_speedup([2], {"workers": 4}, WHERE)
    overhead = parse_overhead([0.3], {"workers": 2}, WHERE)
    with pytest.raises(ConfigError, match="disagree on the worker count"):
        merge(speedup, overhead, None, WHERE)
    assert merge(speedup, parse_overhead([0.3], {}, WHERE), None, WHERE).workers == 4
