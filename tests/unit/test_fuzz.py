"""Fuzzing marker arguments and size strings: a usage error or a value, nothing else."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pytest_parscale.config import OPTIONS, resolve
from pytest_parscale.errors import ConfigError
from pytest_parscale.markers import merge, parse_overhead, parse_parscale, parse_speedup
from pytest_parscale.sizes import parse_size

WHERE = "test t.py::test_fuzz"
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.binary(max_size=4),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4), st.tuples(scalars, scalars))
arguments = st.dictionaries(
    st.sampled_from(
        [
            "min",
            "max",
            "workers",
            "from_size",
            "backends",
            "item_sizes",
            "max_time",
            "min_rounds",
            "timeout",
            "strict",
            "undersized",
            "confidence",
            "bogus",
        ]
    ),
    values,
    max_size=4,
)


@given(args=st.lists(values, max_size=3), kwargs=arguments)
def test_markers_raise_only_config_errors(args: list[Any], kwargs: dict[str, Any]) -> None:
    parsed = []
    for parse in (parse_speedup, parse_overhead, parse_parscale):
        try:
            parsed.append(parse(args, kwargs, WHERE))
        except ConfigError as error:
            assert WHERE in str(error)
            parsed.append(None)
    try:
        merge(*parsed, WHERE)  # type: ignore[arg-type]
    except ConfigError as error:
        assert WHERE in str(error)


@given(text=st.text(max_size=16))
def test_size_strings_parse_or_raise_value_error(text: str) -> None:
    try:
        size = parse_size(text)
    except ValueError:
        return
    assert isinstance(size, int)
    assert size >= 1


@given(
    raw=st.dictionaries(
        st.sampled_from([o.name for o in OPTIONS]), st.text(max_size=10), max_size=5
    )
)
def test_ini_values_resolve_or_name_their_source(raw: dict[str, str]) -> None:
    try:
        resolve({}, {}, raw)
    except ConfigError as error:
        assert "ini key parscale_" in str(error)
