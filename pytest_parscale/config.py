"""Settings and their one precedence rule: marker > CLI > env > ini > default.

Every option is declared once in OPTIONS; the plugin derives the ``--parscale-*``
flags, the ``parscale_*`` ini keys and the ``PARSCALE_*`` environment variables
from it, so the three can never drift apart. Parsing is pure and raises
ConfigError naming the value and its source.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_parscale.errors import ConfigError
from pytest_parscale.family import DEFAULT_RULE, RULES
from pytest_parscale.sizes import parse_size
from pytest_parscale.thresholds import DEFAULT_FAIL_ON, NOT_SAID, FailOn, parse_fail_on

UNDERSIZED_POLICIES = ("scale", "skip", "strict")
START_METHODS = ("fork", "spawn", "forkserver")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("is not a number") from None
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError("must be a finite number > 0")
    return value


def _seconds_or_off(text: str) -> float:
    if text.strip() in ("0", "0.0", "off"):
        return 0.0
    return _positive_float(text)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError("is not a whole number") from None
    if value < 1:
        raise ValueError("must be a whole number >= 1")
    return value


def _fraction(text: str) -> float:
    value = _positive_float(text)
    if value >= 1:
        raise ValueError("must be a fraction between 0 and 1")
    return value


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("is not a boolean (use true/false, 1/0, yes/no)")


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"is not one of {', '.join(choices)}")
        return text

    return parse


def _name_list(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.replace(" ", ",").split(",") if part.strip())
    if not names:
        raise ValueError("names no backend")
    return names


def _size_list(text: str) -> tuple[int, ...]:
    parts = [part.strip() for part in text.replace(" ", ",").split(",") if part.strip()]
    if not parts:
        raise ValueError("names no item size")
    sizes = []
    for part in parts:
        try:
            sizes.append(parse_size(int(part) if part.isdigit() else part))
        except ValueError as error:
            raise ValueError(f"has {part!r}, which {error}") from None
    return tuple(sizes)


def _count_list(text: str) -> tuple[int, ...]:
    parts = [part.strip() for part in text.replace(" ", ",").split(",") if part.strip()]
    if not parts:
        raise ValueError("names no worker count")
    try:
        return tuple(sorted({_positive_int(part) for part in parts}))
    except ValueError as error:
        raise ValueError(f"has a count that {error}") from None


def _size(text: str) -> int:
    return parse_size(int(text) if text.strip().isdigit() else text)


def _text(text: str) -> str:
    return text


@dataclass(frozen=True)
class Option:
    """One setting: its field name, parser, default and help line.

    The single source for the setting: Settings takes its default from here, the
    help line is generated with it, and ``per_test`` says whether
    ``@pytest.mark.parscale`` may set it for one test.
    """

    name: str
    parse: Callable[[str], Any]
    default: Any
    summary: str
    flag: bool = False
    per_test: bool = False
    # How the help line shows the default when it is not the value itself.
    default_text: str | None = None

    @property
    def cli(self) -> str:
        return "--parscale-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "parscale_" + self.name

    @property
    def env(self) -> str:
        return "PARSCALE_" + self.name.upper()

    @property
    def help(self) -> str:
        """The summary, with the default when there is one worth saying."""
        shown = self.default_text
        if shown is None and not self.flag and self.default is not None:
            value = self.default
            shown = f"{value:g}" if isinstance(value, float) else str(value)
        return f"{self.summary} (default {shown})" if shown else self.summary


OPTIONS: tuple[Option, ...] = (
    Option("disable", _bool, False, "run marked tests without measuring (fn runs once)", True),
    Option(
        "backends",
        _name_list,
        None,
        "comma-separated backends to run",
        default_text="all installed",
    ),
    Option(
        "workers",
        _count_list,
        None,
        "workers when no marker says; a list such as 1,2,4 sweeps",
        default_text="usable cores",
    ),
    Option(
        "oversubscribe",
        _bool,
        False,
        "run sweep counts above the usable cores (reported as oversubscribed)",
        True,
    ),
    Option("item_sizes", _size_list, None, "default item sizes, e.g. 10B,1KB,100KB"),
    Option("max_time", _positive_float, 10.0, "seconds per test for extra rounds", per_test=True),
    Option("min_rounds", _positive_int, 5, "interleaved rounds always run", per_test=True),
    Option("max_rounds", _positive_int, 100, "most rounds per test", per_test=True),
    Option("confidence", _fraction, 0.95, "confidence level of intervals", per_test=True),
    Option("timeout", _positive_float, 300.0, "seconds one measured run may take", per_test=True),
    Option(
        "quiet_wait",
        _seconds_or_off,
        2.0,
        "seconds to wait at most, before each measured test, for other processes' load "
        "to settle (a previous engine still exiting); 0 or off: no wait",
        per_test=True,
    ),
    Option(
        "undersized",
        _choice(UNDERSIZED_POLICIES),
        "scale",
        "when usable cores < workers: " + ", ".join(UNDERSIZED_POLICIES),
        per_test=True,
    ),
    Option("strict", _bool, False, "fail tests whose verdict stays undecided", True, per_test=True),
    Option("start_method", _choice(START_METHODS), None, "multiprocessing start method"),
    Option(
        "memory_limit",
        _size,
        None,
        "refuse maps whose items and results would exceed this many bytes, e.g. 2GB",
        per_test=True,
    ),
    Option("json", _text, None, "write every measurement, samples included, to this path"),
    Option(
        "html", _text, None, "write a self-contained HTML report (tables, plots) to this folder"
    ),
    Option("save", _text, None, "save the results as a baseline to this path (never overwrites)"),
    Option("save_overwrite", _bool, False, "let --parscale-save replace an existing file", True),
    Option("compare", _text, None, "fail tests that regressed against this saved baseline"),
    Option(
        "fail_on",
        parse_fail_on,
        NOT_SAID,
        "regression thresholds for --parscale-compare",
        per_test=True,
        default_text=str(DEFAULT_FAIL_ON),
    ),
    Option(
        "family",
        _choice(RULES),
        DEFAULT_RULE,
        "error control over a run's compared tests: holm (any false alarm in a run), "
        "bh (false-discovery rate), none (per test)",
    ),
    Option(
        "connect_timeout",
        _positive_float,
        5.0,
        "seconds to reach a --parscale-ray-address, dask scheduler or celery broker",
    ),
    Option("ray_address", _text, None, "use this Ray cluster instead of an embedded one"),
    Option("dask_scheduler", _text, None, "use this Dask scheduler instead of a LocalCluster"),
    Option("celery_broker", _text, None, "use this Celery broker instead of an embedded one"),
    Option(
        "celery_backend", _text, None, "Celery result backend to use with --parscale-celery-broker"
    ),
    Option(
        "only",
        _text,
        None,
        "run only the test ids listed in this file, one a line (the Action's paired confirmation)",
    ),
)
OPTIONS_BY_NAME = {option.name: option for option in OPTIONS}
# What @pytest.mark.parscale may set for its test, besides backends/item_sizes/workers.
PER_TEST_SETTINGS = tuple(option.name for option in OPTIONS if option.per_test)


def _default(name: str) -> Any:
    return OPTIONS_BY_NAME[name].default


@dataclass(frozen=True)
class Settings:
    """Resolved settings for the session, or for one test once its marker is applied."""

    disable: bool = _default("disable")
    backends: tuple[str, ...] | None = _default("backends")
    workers: tuple[int, ...] | None = _default("workers")
    oversubscribe: bool = _default("oversubscribe")
    item_sizes: tuple[int, ...] | None = _default("item_sizes")
    max_time: float = _default("max_time")
    min_rounds: int = _default("min_rounds")
    max_rounds: int = _default("max_rounds")
    confidence: float = _default("confidence")
    timeout: float = _default("timeout")
    quiet_wait: float = _default("quiet_wait")
    undersized: str = _default("undersized")
    strict: bool = _default("strict")
    start_method: str | None = _default("start_method")
    memory_limit: int | None = _default("memory_limit")
    json: str | None = _default("json")
    html: str | None = _default("html")
    save: str | None = _default("save")
    save_overwrite: bool = _default("save_overwrite")
    compare: str | None = _default("compare")
    fail_on: FailOn = _default("fail_on")  # noqa: RUF009 (FailOn is frozen)
    family: str = _default("family")
    connect_timeout: float = _default("connect_timeout")
    ray_address: str | None = _default("ray_address")
    dask_scheduler: str | None = _default("dask_scheduler")
    celery_broker: str | None = _default("celery_broker")
    celery_backend: str | None = _default("celery_backend")
    only: str | None = _default("only")
    sources: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False)

    def source_of(self, name: str) -> str:
        """Where a setting came from, for error messages (``"default"`` if nowhere)."""
        return self.sources.get(name, "default")

    def override(self, values: Mapping[str, Any], source: str) -> Settings:
        """A copy with already-validated values from a marker."""
        sources = dict(self.sources)
        sources.update({name: source for name in values})
        return dataclasses.replace(self, sources=sources, **values)


def parse_option(option: Option, raw: str, source: str) -> Any:
    try:
        return option.parse(raw)
    except ValueError as error:
        raise ConfigError(source, raw, str(error)) from None


def resolve(
    cli: Mapping[str, Any],
    env: Mapping[str, str],
    ini: Mapping[str, str],
) -> Settings:
    """Settings from CLI > env > ini > default; markers are applied per test later.

    ``cli`` maps option names to the raw string given on the command line (or True
    for a flag), None when absent; ``ini`` maps names to raw ini strings.
    """
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for option in OPTIONS:
        cli_value = cli.get(option.name)
        if cli_value is not None and cli_value is not False:
            raw, source = cli_value, f"command-line option {option.cli}"
        elif env.get(option.env, "") != "":
            raw, source = env[option.env], f"environment variable {option.env}"
        elif ini.get(option.name, "") != "":
            raw, source = ini[option.name], f"ini key {option.ini}"
        else:
            continue
        value = True if raw is True else parse_option(option, str(raw), source)
        values[option.name] = value
        sources[option.name] = source
    settings = Settings(sources=sources, **values)
    if settings.min_rounds > settings.max_rounds:
        raise ConfigError(
            settings.source_of("min_rounds"),
            settings.min_rounds,
            f"is more than max_rounds={settings.max_rounds} ({settings.source_of('max_rounds')})",
        )
    return settings
