"""A baseline that records a busy machine, judged by a real run (pool backend).

The baseline is a real run's file, edited to claim 50x the speedup (certainly a
regression on any machine) and a capacity of 1.0 of 2 cores. What the head run
must do then follows from its own recorded capacity, by the rule under test
(regression.capacity_mismatch): a head without a capacity is compared as before,
with a note; a head whose capacity differs materially is incomparable and passes
with a NOT JUDGED warning; otherwise it is judged and fails.
"""

from __future__ import annotations

import json

import pytest

from pytest_parscale.regression import Status, compare_records
from pytest_parscale.storage import load
from pytest_parscale.thresholds import DEFAULT_FAIL_ON
from tests.e2e.conftest import GATED, POOL, claim_speedup

RUN = (*POOL, "--parscale-min-rounds=6", "--parscale-max-time=3")
TEST = "test_work.py::test_gated[pool]"


def test_busy_baseline_against_a_real_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_work=GATED)
    pytester.runpytest_subprocess(*RUN, "--parscale-save=base.json").assert_outcomes(passed=1)
    base = pytester.path / "base.json"
    data = json.loads(base.read_text())
    assert data["schema_version"] == 2
    claim_speedup(data, 50)
    (item,) = data["results"]
    usable = data["machine"]["usable_cores"]
    item["capacity"] = {
        "cores": usable / 2,
        "low": usable / 2,
        "usable": usable,
        "rounds_rejected": 0,
        "quiet_wait_seconds": 0.0,
        "per_round": [],
    }
    base.write_text(json.dumps(data))

    head = pytester.runpytest_subprocess(
        *RUN, "--parscale-compare=base.json", "--parscale-json=head.json"
    )
    before = load(base).records[TEST]
    after = load(pytester.path / "head.json").records[TEST]
    busy = f"{usable / 2:.1f} of {usable}"
    if after.capacity is None:  # no probe on this platform (or not wired in yet)
        head.assert_outcomes(failed=1)
        head.stdout.fnmatch_lines(
            [
                "*regressed against baseline base.json:",
                f"*note: capacity not measured in this run (the baseline had {busy}): "
                "a busier machine cannot be told from a regression",
            ]
        )
    elif compare_records(before, after, DEFAULT_FAIL_ON).status is Status.INCOMPARABLE:
        head.assert_outcomes(passed=1)
        head.stdout.fnmatch_lines(
            [
                "*parscale: against baseline*",
                "OK: no regression against the baseline; 1 test not judged: machine capacity*",
                "warning: 1 test was NOT JUDGED*",
                # quieter or busier: whichever the live machine was, the rule decided it
                "incomparable test_work.py::test_gated[[]pool[]]: *machine busier: capacity * now "
                f"vs {busy} in the baseline*",
            ]
        )
    else:  # judged (a 50x drop is more than any capacity change explains): it fails
        head.assert_outcomes(failed=1)
