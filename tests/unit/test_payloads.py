"""Payload generation (pytest_parscale/payloads.py): deterministic, sized by pickle."""

from __future__ import annotations

import pickle

import numpy
import pandas
import pytest

from pytest_parscale.checking import equal
from pytest_parscale.payloads import payload


@pytest.mark.parametrize("kind", ["bytes", "ndarray", "dataframe"])
@pytest.mark.parametrize("size", [2_000, 100_000, 1_000_000])
def test_pickled_size_is_the_size_asked(kind: str, size: int) -> None:
    pickled = len(pickle.dumps(payload(kind, size, 5), protocol=pickle.HIGHEST_PROTOCOL))
    assert size - 64 <= pickled <= size + 64


@pytest.mark.parametrize("kind", ["bytes", "ndarray", "dataframe"])
def test_payloads_are_deterministic_and_differ_by_index(kind: str) -> None:
    assert equal(payload(kind, 10_000, 3), payload(kind, 10_000, 3))
    assert not equal(payload(kind, 10_000, 3), payload(kind, 10_000, 4))


def test_types() -> None:
    assert isinstance(payload("bytes", 100, 0), bytes)
    assert payload("ndarray", 10_000, 0).dtype == numpy.float64
    frame = payload("dataframe", 10_000, 0)
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame.columns) == ["key", "value"]
    assert frame["key"].nunique() == 10


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown payload kind 'parquet'"):
        payload("parquet", 10, 0)
