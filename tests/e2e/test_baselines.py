"""Save a run, compare against it, and fail the tests that regressed (real pool runs).

Live timings are kept to a few runs of a CPU-bound loop on the pool backend; the
regression is made certain by editing the saved baseline to claim 50x the speedup
(far outside the noise of a loaded 2-core machine, where a 4x claim was seen to
stay within it), and the unchanged comparison uses a generous threshold.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import GATED, POOL, claim_speedup

SUITE = (
    "import pytest\n"
    + GATED
    + """
@pytest.mark.parscale(fail_on="speedup:off")
def test_exempt(parscale):
    parscale.map(spin, [60_000] * 8)
"""
)
RUN = (*POOL, "--parscale-min-rounds=8", "--parscale-max-time=3")


def inflate(source: Path, target: Path, factor: float) -> None:
    """A copy of a results file claiming ``factor`` times the measured speedups."""
    data = json.loads(source.read_text())
    claim_speedup(data, factor)
    target.write_text(json.dumps(data))


def test_save_compare_unchanged_then_regressed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_work=SUITE)
    saved = pytester.runpytest_subprocess(*RUN, "--parscale-save=base.json")
    saved.assert_outcomes(passed=2)
    saved.stdout.fnmatch_lines(["results written to base.json"])
    base = pytester.path / "base.json"
    saved_records = json.loads(base.read_text())["results"]
    assert {r["nodeid"]: r["fail_on"] for r in saved_records} == {
        "test_work.py::test_gated[pool]": None,
        "test_work.py::test_exempt[pool]": "speedup:off",
    }

    unchanged = pytester.runpytest_subprocess(
        *RUN, "--parscale-compare=base.json", "--parscale-fail-on=speedup:75%,overhead:50pp"
    )
    unchanged.assert_outcomes(passed=2)
    unchanged.stdout.fnmatch_lines(["*parscale: against baseline*", "OK: no regression*"])

    inflate(base, pytester.path / "inflated.json", 50.0)
    regressed = pytester.runpytest_subprocess(
        *RUN, "--parscale-compare=inflated.json", "--parscale-json=head.json"
    )
    regressed.assert_outcomes(passed=1, failed=1)
    regressed.stdout.fnmatch_lines(
        [
            "*_ test_gated[[]pool[]] _*",
            "regressed against baseline inflated.json:",
            "  speedup * -> *: -9?% * per worker, beyond the 10% threshold",
            "FAIL: 1 regression against the baseline*",
            "regression  test_work.py::test_gated[[]pool[]]: speedup*",
        ]
    )
    head = json.loads((pytester.path / "head.json").read_text())
    assert {r["nodeid"]: r["fail_on"] for r in head["results"]} == {
        "test_work.py::test_gated[pool]": None,
        "test_work.py::test_exempt[pool]": "speedup:off",
    }

    # the command in its own process: pandas must not be imported into pytester's
    report = pytester.run(
        sys.executable, "-m", "pytest_parscale", "compare", "inflated.json", "head.json"
    )
    assert report.ret == 1
    assert report.outlines[0].startswith("FAIL: 1 regression")
    assert report.outlines[4].split()[:2] == ["regression", "test_work.py::test_gated[pool]"]


def test_save_refuses_to_overwrite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_work=SUITE)
    existing = pytester.path / "base.json"
    existing.write_text("keep me")
    result = pytester.runpytest(*RUN, "--parscale-save=base.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*pytest-parscale: command-line option --parscale-save: base.json: already exists; "
            "pass --parscale-save-overwrite*"
        ]
    )
    assert existing.read_text() == "keep me"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "does not exist"),
        ("", "is empty"),
        ('{"schema_version": 1, "res', "is not valid JSON (truncated?)"),
        ('{"schema_version": 3}', "newer than this pytest-parscale reads"),
        ('{"schema_version": 1}', "does not match results schema v1"),
    ],
)
def test_bad_baseline_stops_the_run(
    pytester: pytest.Pytester, content: str | None, problem: str
) -> None:
    pytester.makepyfile(test_work=SUITE)
    baseline = pytester.path / "baseline.json"
    if content is not None:
        baseline.write_text(content)
    result = pytester.runpytest(*RUN, "--parscale-compare=baseline.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"*pytest-parscale: command-line option --parscale-compare: baseline.json: *{problem}*"]
    )
    if content is not None:
        assert baseline.read_text() == content


def test_bad_fail_on_names_its_source(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARSCALE_FAIL_ON", "speedup:ten")
    result = pytester.runpytest(*RUN)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*environment variable PARSCALE_FAIL_ON: 'speedup:ten'*"])


def test_xdist_worker_never_writes_results(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_work=SUITE)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    result = pytester.runpytest_subprocess(
        *RUN, "--parscale-save=out.json", "--parscale-json=raw.json", "-k", "gated"
    )
    result.assert_outcomes(passed=1, deselected=1)
    assert not (pytester.path / "out.json").exists()
    assert not (pytester.path / "raw.json").exists()


RACE = """
import os
import time

def test_measured(parscale):
    parscale.map(abs, [-1, 2, -3])
    # Both sessions have passed the start-up check before either writes.
    deadline = time.monotonic() + 30
    while len(os.listdir("started")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
"""

RACE_CONFTEST = """
import os

def pytest_configure(config):
    os.makedirs("started", exist_ok=True)
    open(os.path.join("started", str(os.getpid())), "w").close()
"""


def test_two_sessions_saving_to_one_path_leave_one_whole_file(pytester: pytest.Pytester) -> None:
    """Both pass the start-up check, both measure; the hard link lets only one win."""
    pytester.makeconftest(RACE_CONFTEST)
    pytester.makepyfile(test_race=RACE)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--parscale-backends=thread",
        "--parscale-min-rounds=2",
        "--parscale-max-time=1",
        "--parscale-save=same.json",
    ]
    sessions = [
        subprocess.Popen(
            command, cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [session.communicate(timeout=120)[0] for session in sessions]
    codes = sorted(session.returncode for session in sessions)
    assert codes == [pytest.ExitCode.OK, pytest.ExitCode.USAGE_ERROR], outputs
    loser = outputs[[session.returncode for session in sessions].index(codes[1])]
    assert (
        "pytest-parscale: same.json: appeared during the run; not replaced "
        "(pass --parscale-save-overwrite)" in loser
    ), loser
    document = json.loads((pytester.path / "same.json").read_text())
    assert [record["nodeid"] for record in document["results"]] == [
        "test_race.py::test_measured[thread]"
    ]
    assert sorted(path.name for path in pytester.path.iterdir() if "same.json" in path.name) == [
        "same.json"
    ]


def _mapped(body: str) -> str:
    return f"""
import threading

def work(x):
    {body}

def test_it(parscale):
    parscale.map(work, list(range(16)))
"""


THREAD = ("-p", "no:cacheprovider", "--parscale-backends=thread", "--parscale-min-rounds=2")


def test_a_test_failing_on_head_is_an_error_not_missing(pytester: pytest.Pytester) -> None:
    """Issue 21 item 7: the head's parallel results differ from the serial reference,
    so it records nothing; the session and `parscale compare` say "error on head" and
    exit non-zero, where the comparison said "missing" and passed before."""
    pytester.makepyfile(test_x=_mapped("return x * 2"))
    pytester.runpytest_subprocess(*THREAD, "--parscale-save=base.json").assert_outcomes(passed=1)
    pytester.makepyfile(
        test_x=_mapped("return x * 2 + (threading.current_thread() is not threading.main_thread())")
    )
    head = pytester.runpytest_subprocess(
        *THREAD, "--parscale-compare=base.json", "--parscale-json=head.json"
    )
    head.assert_outcomes(failed=1)
    head.stdout.fnmatch_lines(["FAIL: 1 test failed on one side*", "error * error on head: *"])
    assert json.loads((pytester.path / "head.json").read_text())["errors"][0]["nodeid"] == (
        "test_x.py::test_it[thread]"
    )
    report = pytester.run(
        sys.executable, "-m", "pytest_parscale", "compare", "base.json", "head.json"
    )
    assert report.ret == 1
    assert report.outlines[0].startswith("FAIL: 1 test failed on one side without a measurement")
