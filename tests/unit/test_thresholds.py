from __future__ import annotations

import math

import pytest

from pytest_parscale.thresholds import (
    DEFAULT_FAIL_ON,
    NOT_SAID,
    FailOn,
    effective_fail_on,
    parse_fail_on,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("speedup:10%,overhead:5pp", FailOn(0.10, 0.05)),
        ("speedup:25%", FailOn(0.25, None)),
        (" overhead : 2.5pp ", FailOn(None, 0.025)),
        ("speedup:off", FailOn(math.inf, None)),
    ],
)
def test_parse_fail_on(text: str, expected: FailOn) -> None:
    assert parse_fail_on(text) == expected
    assert parse_fail_on(str(expected)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "names no threshold"),
        ("speed:10%", "expected speedup:N%"),
        ("speedup:10", "write it as N%"),
        ("overhead:5%", "write it as Npp"),
        ("speedup:x%", "not a number"),
        ("speedup:150%", "between 0% and 100%"),
        ("speedup:1%,speedup:2%", "twice"),
    ],
)
def test_parse_fail_on_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_fail_on(text)


def test_marker_thresholds_layer_over_the_session_ones() -> None:
    session = parse_fail_on("overhead:2pp")
    marker = parse_fail_on("speedup:15%")
    assert marker.over(session).over(DEFAULT_FAIL_ON) == FailOn(0.15, 0.02)


def test_effective_fail_on_is_marker_over_session_over_default() -> None:
    assert effective_fail_on(None) == DEFAULT_FAIL_ON
    assert effective_fail_on(NOT_SAID, parse_fail_on("overhead:2pp")) == FailOn(0.10, 0.02)
    assert effective_fail_on("speedup:15%", parse_fail_on("speedup:30%")) == FailOn(0.15, 0.05)
    assert effective_fail_on("", NOT_SAID) == DEFAULT_FAIL_ON


def test_fail_on_owns_the_unit_of_each_metric() -> None:
    assert (FailOn.unit("speedup"), FailOn.unit("overhead")) == ("%", "pp")
    assert FailOn.threshold_text("speedup", 0.1) == "10%"
    assert FailOn.threshold_text("overhead", 0.05) == "5pp"
    assert FailOn.threshold_text("overhead", math.inf) == "off"
    said = FailOn(speedup=0.125, overhead=math.inf)
    assert parse_fail_on(str(said)) == said
