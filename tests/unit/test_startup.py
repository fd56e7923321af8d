"""pytest start-up pays only for option parsing, collection and the fixture.

Checked in a fresh interpreter: any module imported once stays in sys.modules, so
this process (which imported the reports for other tests) cannot tell.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "numpy",
    "scipy",
    "pandas",
    "matplotlib",
    "ray",
    "dask",
    "distributed",
    "celery",
    "pytest_parscale.report",
    "pytest_parscale.diffreport",
    "pytest_parscale.html",
    "pytest_parscale.scaling",
    "pytest_parscale.plots",
    "pytest_parscale.regression",
    "pytest_parscale.storage",
    "pytest_parscale.action",
    "pytest_parscale.paired",
    "pytest_parscale.show",
    "pytest_parscale.markdown",
    "pytest_parscale.cli",
)


def loaded_after(statement: str) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(found))


def test_importing_the_plugin_loads_nothing_heavy() -> None:
    loaded = loaded_after("import pytest_parscale.plugin")
    assert "pytest_parscale.plugin" in loaded  # the check itself works
    assert sorted(loaded.intersection(HEAVY)) == []
    assert "multiprocessing" not in loaded  # machine facts load it when results are written


def test_the_fixture_loads_no_report_either() -> None:
    loaded = loaded_after("import pytest_parscale.fixture")
    assert "pytest_parscale.fixture" in loaded
    assert sorted(loaded.intersection(HEAVY) - {"pytest_parscale.regression"}) == []
