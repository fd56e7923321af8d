"""Results files: loading per schema version, saving without clobbering, run metadata.

Like pyperf, every schema version has its own loader that turns a file into the
current in-memory form; a file from a newer pytest-parscale is refused rather than
half-understood. Validation follows the JSON Schema shipped in ``schema/``, so the
documented format and the loader cannot disagree. No pytest import: the plugin and
the ``parscale`` command share all of it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pytest_parscale.errors import BaselineError
from pytest_parscale.results import SCHEMA_VERSION, Record, write_atomic
from pytest_parscale.thresholds import parse_fail_on

_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "number": lambda value: (
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ),
}


@dataclass(frozen=True)
class Results:
    """One loaded results file: its run metadata and its records by test id."""

    path: str
    schema_version: int
    created: str
    git: Mapping[str, Any] | None
    machine: Mapping[str, Any]
    engines: list[Mapping[str, Any]]
    records: dict[str, Record] = field(default_factory=dict)
    # a history baseline (docs/results-format.md): every run, oldest first; this
    # Results is then the latest of them. Empty for a single results file.
    runs: tuple[Results, ...] = ()
    # measured tests that failed without a record, by test id: the message
    errors: Mapping[str, str] = field(default_factory=dict)


@functools.cache
def schema(version: int) -> dict[str, Any]:
    """The JSON Schema of a results version, as shipped in the package."""
    text = resources.files("pytest_parscale").joinpath(f"schema/results-v{version}.json")
    loaded: dict[str, Any] = json.loads(text.read_text(encoding="utf-8"))
    return loaded


def schema_errors(data: Any, root: Mapping[str, Any]) -> list[str]:
    """Where ``data`` breaks ``root``, as ``path: problem`` lines (the subset we use).

    Supports type, const, enum, required, properties, items, oneOf, $ref to $defs,
    minimum, exclusiveMinimum/Maximum and minLength: what the shipped schemas use.
    A test checks the schemas against a full validator when one is installed.
    """
    return _errors(data, root, root)


def _check(
    value: Any, rule: Mapping[str, Any], root: Mapping[str, Any], where: str, errors: list[str]
) -> None:
    if "$ref" in rule:
        name = rule["$ref"].removeprefix("#/$defs/")
        _check(value, root["$defs"][name], root, where, errors)
        return
    if "oneOf" in rule:
        if not any(not _errors(value, option, root) for option in rule["oneOf"]):
            errors.append(f"{where}: has the wrong shape ({_kind(value)})")
        return
    if "const" in rule and value != rule["const"]:
        errors.append(f"{where}: is {value!r}, expected {rule['const']!r}")
        return
    if "enum" in rule and value not in rule["enum"]:
        errors.append(f"{where}: is {value!r}, expected one of {', '.join(rule['enum'])}")
        return
    types = rule.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_TYPES[name](value) for name in names):
            errors.append(f"{where}: is {_kind(value)}, expected {' or '.join(names)}")
            return
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in rule and value < rule["minimum"]:
            errors.append(f"{where}: is {value!r}, below the minimum {rule['minimum']}")
        if "exclusiveMinimum" in rule and value <= rule["exclusiveMinimum"]:
            errors.append(f"{where}: is {value!r}, expected more than {rule['exclusiveMinimum']}")
        if "exclusiveMaximum" in rule and value >= rule["exclusiveMaximum"]:
            errors.append(f"{where}: is {value!r}, expected less than {rule['exclusiveMaximum']}")
    if isinstance(value, str) and len(value) < rule.get("minLength", 0):
        errors.append(f"{where}: is an empty string")
    if isinstance(value, dict):
        for key in rule.get("required", ()):
            if key not in value:
                errors.append(f"{where}: has no {key!r}")
        for key, sub in rule.get("properties", {}).items():
            if key in value:
                _check(value[key], sub, root, f"{where}.{key}", errors)
    if isinstance(value, list) and "items" in rule:
        for index, item in enumerate(value):
            _check(item, rule["items"], root, f"{where}[{index}]", errors)


def _errors(value: Any, rule: Mapping[str, Any], root: Mapping[str, Any]) -> list[str]:
    errors: list[str] = []
    _check(value, rule, root, "$", errors)
    return errors


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number" if math.isfinite(value) else f"{value!r}"
    if isinstance(value, dict):
        return "an object"
    return "an array" if isinstance(value, list) else "a string"


def _load_v1(data: dict[str, Any], path: str) -> Results:
    """Version 1 measured no capacity: every record's ``capacity`` is None."""
    _validate(data, 1, path)
    # a v1 reader ignored fields it did not know: a stray "capacity" is not one of v1's
    results = [{k: v for k, v in item.items() if k != "capacity"} for item in data["results"]]
    return _results(data, 1, path, _records({**data, "results": results}, path))


def _load_v2(data: dict[str, Any], path: str) -> Results:
    """Version 2 adds each record's machine capacity (null where it was not measured)."""
    _validate(data, 2, path)
    records = _records(data, path)
    for index, item in enumerate(data["results"]):
        capacity = item["capacity"]
        if capacity is not None and not capacity["low"] <= capacity["cores"] <= capacity["usable"]:
            raise BaselineError(
                path,
                f"$.results[{index}].capacity: needs low <= cores <= usable, got "
                f"low {capacity['low']!r}, cores {capacity['cores']!r}, "
                f"usable {capacity['usable']!r}",
            )
    return _results(data, 2, path, records)


def _validate(data: dict[str, Any], version: int, path: str) -> None:
    problems = schema_errors(data, schema(version))
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise BaselineError(
            path, f"does not match results schema v{version}: " + "; ".join(problems[:3]) + more
        )


def _records(data: dict[str, Any], path: str) -> dict[str, Record]:
    """The records of a validated document, with the checks a JSON Schema cannot say."""
    records: dict[str, Record] = {}
    for index, item in enumerate(data["results"]):
        where = f"$.results[{index}]"
        samples = item["samples"]
        if not samples["parallel"] or len(samples["serial"]) != len(samples["parallel"]):
            raise BaselineError(path, f"{where}.samples: serial and parallel must pair up")
        if samples["transport"] and len(samples["transport"]) != len(samples["parallel"]):
            raise BaselineError(path, f"{where}.samples: transport does not pair with parallel")
        if min(samples["parallel"]) <= 0:
            raise BaselineError(path, f"{where}.samples.parallel: has a time that is not > 0")
        if item.get("fail_on"):
            try:
                parse_fail_on(item["fail_on"])
            except ValueError as error:
                raise BaselineError(path, f"{where}.fail_on: {item['fail_on']!r} {error}") from None
        if item["nodeid"] in records:
            raise BaselineError(path, f"{where}: test id {item['nodeid']!r} appears twice")
        records[item["nodeid"]] = Record.from_dict(item)
    return records


def _results(data: dict[str, Any], version: int, path: str, records: dict[str, Record]) -> Results:
    return Results(
        path=path,
        schema_version=version,
        created=data["created"],
        git=data.get("git"),
        machine=data["machine"],
        engines=data["engines"],
        records=records,
        errors={item["nodeid"]: item["message"] for item in data.get("errors", ())},
    )


LOADERS: dict[int, Callable[[dict[str, Any], str], Results]] = {1: _load_v1, 2: _load_v2}


def parse(text: str, path: str) -> Results:
    """Results from the text of a file; BaselineError names ``path`` and the problem."""
    if not text.strip():
        raise BaselineError(path, "is empty, not a pytest-parscale results file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        ended = error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated")
        hint = " (truncated?)" if ended else ""
        raise BaselineError(
            path,
            f"is not valid JSON{hint}: {error.msg} (line {error.lineno}, column {error.colno})",
        ) from None
    return from_document(data, path)


def from_document(data: Any, path: str) -> Results:
    """Results from a parsed results document (a file's JSON, or this run's in memory)."""
    if not isinstance(data, dict) or "schema_version" not in data:
        raise BaselineError(
            path, "is not a pytest-parscale results file (no top-level schema_version)"
        )
    version = data["schema_version"]
    if not _TYPES["integer"](version) or version < 1:
        raise BaselineError(path, f"has schema_version {version!r}, which is not a version")
    if version > SCHEMA_VERSION:
        raise BaselineError(
            path,
            f"has schema_version {version}, newer than this pytest-parscale reads "
            f"(up to {SCHEMA_VERSION}); upgrade pytest-parscale",
        )
    if version not in LOADERS:
        raise BaselineError(path, f"has schema_version {version}, which no loader reads")
    return LOADERS[version](data, path)


HISTORY_SUFFIX = ".jsonl"


def is_history(path: str | os.PathLike[str]) -> bool:
    """A ``*.jsonl`` path is a history baseline: one results document per line."""
    return os.fspath(path).endswith(HISTORY_SUFFIX)


def parse_history(text: str, path: str) -> Results:
    """The latest run of a history, carrying every run in ``runs``.

    Each line is a whole results document with its own schema_version, read by the
    same loaders as a single file. A bad line (a crash mid-append, a hand edit) is
    an error naming its line number: dropping it silently would shrink the history.
    """
    runs = []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            runs.append(parse(line, f"{path} line {number}"))
    if not runs:
        raise BaselineError(path, "is an empty history (no results document on any line)")
    return dataclasses.replace(runs[-1], path=path, runs=tuple(runs))


def load(path: str | os.PathLike[str]) -> Results:
    """Read and validate a results file or a history; only ever reads it."""
    name = os.fspath(path)
    text = _read_text(name)
    return parse_history(text, name) if is_history(name) else parse(text, name)


def _read_text(name: str) -> str:
    try:
        raw = Path(name).read_bytes()
    except FileNotFoundError:
        raise BaselineError(name, "does not exist") from None
    except IsADirectoryError:
        raise BaselineError(name, "is a directory, not a results file") from None
    except OSError as error:
        raise BaselineError(name, f"cannot be read: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BaselineError(name, "is not UTF-8 text, not a pytest-parscale results file") from None
    return text


def check_save_target(path: str, overwrite: bool) -> None:
    """Fail at startup, not after an hour of measuring, when the save would be refused."""
    target = Path(path)
    if target.is_dir():
        raise BaselineError(path, "is a directory; --parscale-save needs a file path")
    if is_history(path):
        if target.exists():
            load(path)  # appending after a bad line would bury it: refuse now
        return
    if target.exists() and not overwrite:
        raise BaselineError(path, "already exists; pass --parscale-save-overwrite to replace it")


def check_html_target(path: str) -> None:
    """The HTML report is a folder: refuse a file there now, not after the run."""
    if Path(path).exists() and not Path(path).is_dir():
        raise BaselineError(path, "is a file; --parscale-html needs a folder for index.html")


def save(path: str, data: dict[str, Any], *, overwrite: bool) -> None:
    """Write atomically; without ``overwrite`` an existing file is never replaced.

    A history (``*.jsonl``) is appended to instead, whatever ``overwrite`` says.
    """
    if is_history(path):
        append_history(path, data)
        return
    try:
        write_atomic(Path(path), data, overwrite=overwrite)
    except FileExistsError:
        raise BaselineError(
            path, "appeared during the run; not replaced (pass --parscale-save-overwrite)"
        ) from None


def append_history(path: str, data: dict[str, Any]) -> None:
    """Add one run to a history: old lines plus the new one, written beside it, renamed.

    The existing lines are validated first and copied byte for byte, so a crash
    leaves the old history whole and a bad line is reported, never dropped.
    """
    target = Path(path)
    old = _read_text(path) if target.exists() else ""
    if old:
        parse_history(old, path)
    if old and not old.endswith("\n"):
        old += "\n"  # the last line parsed whole: only its newline is missing
    line = json.dumps(data, allow_nan=False, separators=(",", ":"))
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(old + line + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
