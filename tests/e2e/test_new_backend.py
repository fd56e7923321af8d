"""docs/architecture.md, "How to add a backend", kept true: its two code blocks (a
backend's module and its registration) written to files, and a test run on that
backend end to end, its zero-copy path included."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SUITE = """
import pytest


def double(value):
    return value * 2


@pytest.mark.parscale(backends=["mine"], workers=2)
def test_on_the_new_backend(parscale):
    assert parscale.backend == "mine"
    assert parscale.map(double, range(20), share=True) == [v * 2 for v in range(20)]
"""


def documented_files() -> dict[str, str]:
    """The section's python blocks by the file name their first line gives."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## How to add a backend", 1)[1].split("\n## ", 1)[0]
    files = {}
    for block in re.findall(r"```python\n(.*?)```", section, re.DOTALL):
        name = re.match(r"# (\S+):", block)
        assert name is not None, f"a block without its file name: {block[:60]!r}"
        files[name.group(1)] = block
    return files


def test_the_documented_blocks_name_their_files() -> None:
    assert set(documented_files()) == {"my_engine.py", "conftest.py"}


def test_a_backend_added_as_documented_runs_end_to_end(pytester: pytest.Pytester) -> None:
    for name, text in documented_files().items():
        pytester.path.joinpath(name).write_text(text)
    pytester.makepyfile(test_mine=SUITE)
    out = pytester.path / "results.json"
    result = pytester.runpytest_subprocess(
        "--parscale-min-rounds=2", "--parscale-max-rounds=2", f"--parscale-json={out}"
    )
    result.assert_outcomes(passed=1)
    (record,) = json.loads(out.read_text())["results"]
    assert record["backend"] == "mine"
    assert record["workers"] == 2
    assert record["executor"]["zero_copy"]["method"] == (
        "the items themselves (threads share memory)"
    )
