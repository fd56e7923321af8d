from __future__ import annotations

import pytest

from pytest_parscale.config import OPTIONS, resolve
from pytest_parscale.errors import ConfigError


def test_defaults() -> None:
    settings = resolve({}, {}, {})
    assert settings.max_time == 10.0
    assert settings.undersized == "scale"
    assert settings.source_of("max_time") == "default"


def test_precedence_cli_over_env_over_ini() -> None:
    ini = {"max_time": "3", "min_rounds": "7", "undersized": "skip"}
    env = {"PARSCALE_MAX_TIME": "2", "PARSCALE_MIN_ROUNDS": "6"}
    cli = {"max_time": "1"}
    settings = resolve(cli, env, ini)
    assert settings.max_time == 1.0
    assert settings.min_rounds == 6
    assert settings.undersized == "skip"
    assert settings.source_of("max_time") == "command-line option --parscale-max-time"
    assert settings.source_of("min_rounds") == "environment variable PARSCALE_MIN_ROUNDS"
    assert settings.source_of("undersized") == "ini key parscale_undersized"


def test_marker_override_wins_and_is_named() -> None:
    settings = resolve({"max_time": "1"}, {}, {}).override(
        {"max_time": 30.0}, "@pytest.mark.parscale on t"
    )
    assert settings.max_time == 30.0
    assert settings.source_of("max_time") == "@pytest.mark.parscale on t"


def test_flags() -> None:
    assert resolve({"disable": True}, {}, {}).disable is True
    assert resolve({}, {"PARSCALE_STRICT": "yes"}, {}).strict is True
    assert resolve({}, {}, {"strict": "false"}).strict is False


def test_lists() -> None:
    settings = resolve({"backends": "pool, process"}, {}, {"item_sizes": "10B,1KB 100KB"})
    assert settings.backends == ("pool", "process")
    assert settings.item_sizes == (10, 1000, 100_000)


@pytest.mark.parametrize(
    ("cli", "env", "ini", "message"),
    [
        (
            {"max_time": "abc"},
            {},
            {},
            "command-line option --parscale-max-time: 'abc' is not a number",
        ),
        (
            {},
            {"PARSCALE_MIN_ROUNDS": "0"},
            {},
            "environment variable PARSCALE_MIN_ROUNDS: '0' must be",
        ),
        (
            {},
            {},
            {"undersized": "maybe"},
            "ini key parscale_undersized: 'maybe' is not one of scale",
        ),
        ({}, {}, {"confidence": "1.5"}, "ini key parscale_confidence: '1.5' must be a fraction"),
        ({"item_sizes": "10B,1XB"}, {}, {}, "has '1XB', which is not an item size"),
        ({}, {"PARSCALE_STRICT": "perhaps"}, {}, "'perhaps' is not a boolean"),
        ({"timeout": "inf"}, {}, {}, "must be a finite number"),
        ({"min_rounds": "9", "max_rounds": "3"}, {}, {}, "9 is more than max_rounds=3"),
    ],
)
def test_bad_values_name_value_and_source(
    cli: dict[str, str], env: dict[str, str], ini: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(cli, env, ini)
    assert message in str(caught.value)


def test_every_option_has_matching_names() -> None:
    for option in OPTIONS:
        assert option.cli == "--parscale-" + option.name.replace("_", "-")
        assert option.ini == "parscale_" + option.name
        assert option.env == "PARSCALE_" + option.name.upper()


def test_settings_take_every_default_from_options() -> None:
    import dataclasses

    from pytest_parscale.config import Settings

    fields = {item.name: item.default for item in dataclasses.fields(Settings)}
    assert [name for name in fields if name != "sources"] == [option.name for option in OPTIONS]
    for option in OPTIONS:
        assert fields[option.name] == option.default, option.name


def test_help_lines_say_the_default() -> None:
    from pytest_parscale.config import OPTIONS_BY_NAME

    assert OPTIONS_BY_NAME["max_time"].help.endswith("(default 10)")
    assert OPTIONS_BY_NAME["confidence"].help.endswith("(default 0.95)")
    assert OPTIONS_BY_NAME["undersized"].help.endswith("(default scale)")
    assert OPTIONS_BY_NAME["fail_on"].help.endswith("(default speedup:10%,overhead:5pp)")
    assert "default" not in OPTIONS_BY_NAME["strict"].help  # a flag is off unless given


def test_the_parscale_marker_takes_exactly_the_per_test_options() -> None:
    import pytest_parscale.markers as markers
    from pytest_parscale.config import PER_TEST_SETTINGS

    assert tuple(option.name for option in OPTIONS if option.per_test) == PER_TEST_SETTINGS
    assert ("backends", "item_sizes", "workers", *PER_TEST_SETTINGS) == markers.PARSCALE_ARGUMENTS
    for name in markers.PARSCALE_ARGUMENTS:
        assert f"{name}=None" in markers.MARKER_HELP["parscale"]
