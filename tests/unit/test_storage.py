from __future__ import annotations

import json
import math
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_parscale.errors import BaselineError
from pytest_parscale.results import SCHEMA_VERSION, Capacity, Record, document, write_atomic
from pytest_parscale.storage import (
    check_save_target,
    from_document,
    load,
    save,
    schema,
    schema_errors,
)
from tests.records import MACHINE, record

GOLDEN = Path(__file__).parent.parent / "data"


def golden(version: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / f"results-v{version}.json").read_text())
    return data


def written(tmp_path: Path, data: object, name: str = "results.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_every_schema_version_has_a_golden_file_that_loads() -> None:
    for version in range(1, SCHEMA_VERSION + 1):
        results = load(GOLDEN / f"results-v{version}.json")
        assert results.schema_version == version
        assert results.records


def test_golden_v1_reads_as_written() -> None:
    results = load(GOLDEN / "results-v1.json")
    assert results.git == {
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "dirty": False,
        "branch": "main",
    }
    assert results.machine["usable_cores"] == 2
    pool = results.records["tests/test_golden.py::test_checksum[pool-1KB]"]
    assert pool.speedup.estimate == pytest.approx(2.0, rel=0.02)
    assert pool.transport_share is None
    assert pool.serial[:2] == [2.0, 2.02]
    process = results.records["tests/test_golden.py::test_checksum[process-1KB]"]
    assert process.transport_share is not None
    assert process.fail_on == "speedup:15%"


def test_golden_records_round_trip_through_record() -> None:
    for item in golden(1)["results"]:
        assert Record.from_dict(item).to_dict() == {**item, "capacity": None}
    for item in golden(2)["results"]:
        assert Record.from_dict(item).to_dict() == item


def test_golden_v2_reads_capacity_and_null_capacity() -> None:
    results = load(GOLDEN / "results-v2.json")
    pool = results.records["tests/test_golden.py::test_checksum[pool-1KB]"]
    assert pool.capacity == Capacity(
        cores=1.9,
        low=1.72,
        usable=2,
        rounds_rejected=1,
        quiet_wait_seconds=0.4,
        per_round=(1.9, 1.94, 1.72, 1.88, 1.95, 1.9),
    )
    assert results.records["tests/test_golden.py::test_checksum[process-1KB]"].capacity is None
    # the v2 file is the v1 file plus capacity: the same measurements either way
    old = load(GOLDEN / "results-v1.json")
    assert {key: replace(record, capacity=None) for key, record in results.records.items()} == (
        old.records
    )


def test_v1_loader_reads_no_capacity_even_when_a_record_carries_one() -> None:
    data = golden(1)
    data["results"][0]["capacity"] = golden(2)["results"][0]["capacity"]
    loaded = from_document(data, "old.json")
    assert loaded.schema_version == 1
    assert all(record.capacity is None for record in loaded.records.values())


def test_capacity_is_saved_and_loaded_with_the_current_version(tmp_path: Path) -> None:
    busy = replace(record("t.py::a"), capacity=Capacity(1.4, 1.1, 2, per_round=(1.4,) * 6))
    path = tmp_path / "saved.json"
    save(str(path), document([busy, record("t.py::b")], MACHINE, [], None), overwrite=False)
    assert json.loads(path.read_text())["results"][0]["capacity"]["per_round"] == [1.4] * 6
    loaded = load(path)
    assert loaded.schema_version == SCHEMA_VERSION == 2
    assert loaded.records["t.py::a"] == busy
    assert loaded.records["t.py::b"].capacity is None


def test_saved_document_round_trips(tmp_path: Path) -> None:
    one = record("t.py::a", transport=(0.1, 0.1, 0.2, 0.1, 0.1, 0.1))
    single_round = record("t.py::b", serial=(2.0,), parallel=(1.0,))
    assert math.isinf(single_round.speedup.high)
    path = tmp_path / "saved.json"
    save(str(path), document([one, single_round], MACHINE, [], None), overwrite=False)
    loaded = load(path)
    assert loaded.git is None
    assert loaded.records == {"t.py::a": one, "t.py::b": single_round}


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION + 1))
def test_shipped_schema_is_valid_and_accepts_the_golden_file(version: int) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator
    validator.check_schema(schema(version))
    validator(schema(version)).validate(golden(version))


def test_schema_subset_reports_paths() -> None:
    data = golden(1)
    data["results"][1]["samples"]["parallel"][2] = "slow"
    del data["machine"]["usable_cores"]
    data["results"][0]["speedup"]["confidence"] = 1.5
    problems = schema_errors(data, schema(1))
    assert "$.machine: has no 'usable_cores'" in problems
    assert "$.results[1].samples.parallel[2]: is a string, expected number" in problems
    assert "$.results[0].speedup.confidence: is 1.5, expected less than 1" in problems


def _with_capacity(**capacity: object) -> dict[str, Any]:
    data = golden(2)
    data["results"][0]["capacity"] = {**data["results"][0]["capacity"], **capacity}
    return data


def _bad(tmp_path: Path, content: object) -> Path:
    return written(tmp_path, content)


BAD_FILES: list[tuple[str, object, str]] = [
    ("empty", "", "is empty"),
    ("whitespace", "  \n", "is empty"),
    ("truncated", json.dumps(golden(1))[:300], "is not valid JSON (truncated?)"),
    ("not json", "schema_version = 1\n", "is not valid JSON"),
    ("a list", [1, 2], "no top-level schema_version"),
    ("other json", {"benchmarks": []}, "no top-level schema_version"),
    (
        "v2 without capacity",
        {
            **golden(2),
            "results": [{k: v for k, v in golden(2)["results"][0].items() if k != "capacity"}],
        },
        "$.results[0]: has no 'capacity'",
    ),
    (
        "capacity above usable",
        _with_capacity(cores=2.5),
        "$.results[0].capacity: needs low <= cores <= usable, got low 1.72, cores 2.5, usable 2",
    ),
    (
        "capacity low above cores",
        _with_capacity(low=1.95),
        "$.results[0].capacity: needs low <= cores <= usable",
    ),
    ("capacity negative", _with_capacity(low=-0.1), "$.results[0].capacity.low: is -0.1, below"),
    ("future", {**golden(1), "schema_version": 99}, "newer than this pytest-parscale reads"),
    ("version zero", {**golden(1), "schema_version": 0}, "which is not a version"),
    ("version text", {**golden(1), "schema_version": "1"}, "which is not a version"),
    ("no results", {k: v for k, v in golden(1).items() if k != "results"}, "has no 'results'"),
    (
        "wrong type",
        {**golden(1), "results": [{**golden(1)["results"][0], "workers": "two"}]},
        "$.results[0].workers: is a string, expected integer",
    ),
    (
        "unpaired",
        {
            **golden(1),
            "results": [
                {
                    **golden(1)["results"][0],
                    "samples": {"serial": [1.0], "parallel": [1.0, 2.0], "transport": []},
                }
            ],
        },
        "serial and parallel must pair up",
    ),
    (
        "zero time",
        {
            **golden(1),
            "results": [
                {
                    **golden(1)["results"][0],
                    "samples": {"serial": [1.0], "parallel": [0.0], "transport": []},
                }
            ],
        },
        "not > 0",
    ),
    (
        "duplicate",
        {**golden(1), "results": [golden(1)["results"][0]] * 2},
        "appears twice",
    ),
    (
        "bad fail_on",
        {**golden(1), "results": [{**golden(1)["results"][0], "fail_on": "fast:1%"}]},
        ".fail_on: 'fast:1%'",
    ),
]


@pytest.mark.parametrize(
    ("content", "problem"), [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES]
)
def test_bad_file_is_one_clear_error_and_left_untouched(
    tmp_path: Path, content: object, problem: str
) -> None:
    path = _bad(tmp_path, content)
    before = path.read_bytes(), os.stat(path).st_mtime_ns
    with pytest.raises(BaselineError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert problem in str(caught.value)
    assert (path.read_bytes(), os.stat(path).st_mtime_ns) == before
    assert sorted(tmp_path.iterdir()) == [path]


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match=r"nope\.json: does not exist"):
        load(tmp_path / "nope.json")
    with pytest.raises(BaselineError, match="is a directory"):
        load(tmp_path)


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(BaselineError, match="is not UTF-8"):
        load(path)


def test_crash_between_write_and_rename_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = written(tmp_path, golden(1))
    before = path.read_bytes()

    def crash(*args: object) -> None:
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        write_atomic(path, {"schema_version": 1, "half": "written"})
    assert path.read_bytes() == before
    assert sorted(tmp_path.iterdir()) == [path]


def test_crash_during_a_no_clobber_save_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: object) -> None:
        raise OSError("simulated crash before link")

    monkeypatch.setattr(os, "link", crash)
    with pytest.raises(OSError, match="simulated crash"):
        save(str(tmp_path / "new.json"), golden(1), overwrite=False)
    assert list(tmp_path.iterdir()) == []


def test_save_never_replaces_a_file_unless_asked(tmp_path: Path) -> None:
    path = written(tmp_path, "precious")
    with pytest.raises(BaselineError, match="not replaced"):
        save(str(path), golden(1), overwrite=False)
    assert path.read_text() == "precious"
    assert sorted(tmp_path.iterdir()) == [path]
    save(str(path), golden(1), overwrite=True)
    assert load(path).records.keys() == load(GOLDEN / "results-v1.json").records.keys()


def test_check_save_target(tmp_path: Path) -> None:
    check_save_target(str(tmp_path / "new.json"), overwrite=False)
    existing = written(tmp_path, "{}")
    with pytest.raises(BaselineError, match="already exists; pass --parscale-save-overwrite"):
        check_save_target(str(existing), overwrite=False)
    check_save_target(str(existing), overwrite=True)
    with pytest.raises(BaselineError, match="is a directory"):
        check_save_target(str(tmp_path), overwrite=True)


def test_tests_that_failed_without_a_record_are_saved_and_loaded(tmp_path: Path) -> None:
    path = tmp_path / "saved.json"
    errors = {"t.py::broken": "call: result 0 differs"}
    save(str(path), document([record("t.py::a")], MACHINE, [], None, errors), overwrite=False)
    assert load(path).errors == errors
    plain = tmp_path / "plain.json"
    save(str(plain), document([record("t.py::a")], MACHINE, [], None), overwrite=False)
    assert "errors" not in json.loads(plain.read_text())
    assert load(plain).errors == {}
