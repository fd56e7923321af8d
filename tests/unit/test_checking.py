"""Result comparison by type (pytest_parscale/checking.py), on built values."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy
import pandas
import pytest

from pytest_parscale.checking import (
    check_lists,
    check_whole,
    comparer,
    difference,
    equal,
    tolerance_of,
)
from pytest_parscale.errors import ConfigError, ResultMismatch


def frame(values: list[float]) -> pandas.DataFrame:
    return pandas.DataFrame({"key": [1, 2, 3], "value": values})


def test_equal_frames_series_indexes_and_arrays_agree() -> None:
    assert equal(frame([1.0, math.nan, 3.0]), frame([1.0, math.nan, 3.0]))
    assert equal(pandas.Series([1.5, math.nan]), pandas.Series([1.5, math.nan]))
    assert equal(pandas.Index(["a", "b"]), pandas.Index(["a", "b"]))
    assert equal(numpy.array([1.0, numpy.nan]), numpy.array([1.0, numpy.nan]))
    assert equal({"a": [numpy.arange(3), (1.0, "x")]}, {"a": [numpy.arange(3), (1.0, "x")]})
    assert equal(math.nan, math.nan)


def test_a_frame_mismatch_names_the_first_differing_cell() -> None:
    found = difference(frame([1.0, 2.0, 3.0]), frame([1.0, 2.5, 3.0]))
    assert found is not None
    assert found.startswith("DataFrame at iloc[1, 1]: 2.0 != 2.5")


def test_an_array_mismatch_names_position_dtype_and_shape() -> None:
    left = numpy.zeros((2, 3))
    right = left.copy()
    right[1, 2] = 7.0
    assert difference(left, right) == "ndarray at [1, 2]: 0.0 != 7.0"
    assert difference(left, left.astype(numpy.float32)) == "dtype float64 != float32"
    assert difference(left, numpy.zeros((3, 2))) == "shape (2, 3) != (3, 2)"


def test_floats_are_exact_by_default_and_within_a_tolerance_when_asked() -> None:
    assert difference(0.1 + 0.2, 0.3) == "serial 0.30000000000000004 != parallel 0.3"
    close = comparer({"rel": 1e-9}, "here")
    assert close(0.1 + 0.2, 0.3) is None
    assert close(numpy.array([0.1 + 0.2]), numpy.array([0.3])) is None
    assert close(frame([0.1 + 0.2, 1.0, 2.0]), frame([0.3, 1.0, 2.0])) is None
    assert close(1.0, 1.1) == "serial 1.0 != parallel 1.1"
    assert difference((1, 2), (1, 3)) == "serial (1, 2) != parallel (1, 3)"


def test_a_list_mismatch_names_the_item_and_the_path_inside_it() -> None:
    reference = [{"rows": numpy.arange(3)}, {"rows": numpy.arange(3)}]
    result = [{"rows": numpy.arange(3)}, {"rows": numpy.array([0, 1, 5])}]
    with pytest.raises(ResultMismatch, match=r"result 1 differs: \['rows'\]: ndarray at \[2\]"):
        check_lists(reference, result)
    with pytest.raises(ResultMismatch, match="returned 1 results for 2 items"):
        check_lists(reference, result[:1])


def test_check_whole_takes_a_predicate_or_nothing() -> None:
    check_whole(1, 2, comparer(False, "here"))
    check_whole(1, 2, comparer(lambda a, b: abs(a - b) < 5, "here"))
    with pytest.raises(ResultMismatch, match="serial 1 != parallel 9"):
        check_whole(1, 9, comparer(lambda a, b: abs(a - b) < 5, "here"))


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ({"rel": -1}, "rel"),
        ({"abs": math.inf}, "abs"),
        ({"rtol": 1}, "unknown keys"),
        ("yes", "is not True, False"),
    ],
)
def test_a_bad_check_names_where_it_came_from(check: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        comparer(check, "test_x: parscale.map() check")  # type: ignore[arg-type]
    assert "test_x: parscale.map() check" in str(error.value)
    with pytest.raises(ConfigError):
        tolerance_of({"rel": "1"}, "there")  # type: ignore[dict-item]


def test_comparing_plain_values_imports_neither_pandas_nor_numpy() -> None:
    code = (
        "import sys; from pytest_parscale.checking import equal; "
        "assert equal([1, 2.0, {'a': (3,)}], [1, 2.0, {'a': (3,)}]); "
        "print('numpy' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
