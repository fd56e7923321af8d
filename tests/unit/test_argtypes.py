"""The shared argparse types: each refuses a bad value by naming it (and its input)."""

from __future__ import annotations

import argparse
import math

import pytest

from pytest_parscale import argtypes
from pytest_parscale.thresholds import parse_fail_on


@pytest.mark.parametrize(
    ("parse", "text", "said"),
    [
        (argtypes.whole_number(3), "2", "'2' is not a whole number >= 3"),
        (argtypes.whole_number(1), "1.5", "'1.5' is not a whole number >= 1"),
        (argtypes.whole_number(0, "history-size"), "-1", "history-size must be a whole number >= 0, got '-1'"),
        (argtypes.seconds(), "0", "'0' is not a number of seconds > 0"),
        (argtypes.seconds(), "nan", "'nan' is not a number of seconds > 0"),
        (argtypes.seconds("confirm-budget", empty=600.0), "soon", "confirm-budget must be a number of seconds > 0, got 'soon'"),
        (argtypes.fraction, "1", "'1' is not a fraction between 0 and 1"),
        (argtypes.true_false("confirm"), "maybe", "confirm must be true or false, got 'maybe'"),
        (argtypes.fail_on, "speedup:ten", "'speedup:ten'"),
    ],
)  # fmt: skip
def test_a_bad_value_is_refused_by_name(parse: object, text: str, said: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        parse(text)  # type: ignore[operator]
    assert str(refused.value).startswith(said)


def test_good_values_and_blank_inputs_parse() -> None:
    assert argtypes.whole_number(0, "history-size")(" 20 ") == 20
    assert argtypes.seconds()("2.5") == 2.5
    assert argtypes.seconds("confirm-budget", empty=600.0)("") == 600.0
    assert math.isclose(argtypes.fraction("0.99"), 0.99)
    assert argtypes.true_false("confirm")("") is True
    assert argtypes.true_false("confirm")("False") is False
    assert argtypes.fail_on("speedup:15%") == parse_fail_on("speedup:15%")
