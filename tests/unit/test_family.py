"""One family per run: the adjustment itself, and verdicts over a run's cases."""

from __future__ import annotations

import random

import pytest

from pytest_parscale import regression
from pytest_parscale.family import adjust, apply_family, first_step
from pytest_parscale.notewords import note_text
from pytest_parscale.regression import Change, Status


def test_holm_and_bh_match_a_hand_computation() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1, made non-decreasing
    assert adjust(p, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: times 4/1, 4/2, 4/3, 4/4, made non-increasing from the top
    assert adjust(p, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert adjust(p, "none") == p
    assert adjust([0.3], "holm") == [0.3]
    assert adjust([], "bh") == []


def test_the_adjustment_never_lowers_a_p_value() -> None:
    rng = random.Random(2)
    p = [rng.random() ** 3 for _ in range(30)]
    for rule in ("holm", "bh"):
        assert all(a >= b for a, b in zip(adjust(p, rule), p, strict=True))
        assert max(adjust(p, rule)) <= 1


def test_the_first_step_is_bonferroni() -> None:
    with pytest.raises(ValueError, match="holm, bh, none"):
        adjust([0.1], "bonferroni")
    assert first_step(0.025, 12, "holm") == pytest.approx(0.025 / 12)
    assert first_step(0.025, 12, "none") == 0.025


@pytest.mark.parametrize(("rule", "low", "high"), [("holm", 0.0, 0.03), ("none", 0.6, 0.8)])
def test_holm_keeps_the_run_wide_error_at_the_hard_point(
    rule: str, low: float, high: float
) -> None:
    """50 cases whose change sits exactly at the threshold (p-values uniform, the
    hardest null): the share of runs with any case called, over 2000 seeded runs.
    Per case 2.5%; unadjusted, 1 - 0.975^50 = 72% of runs call one."""
    rng = random.Random(7)
    runs = 2000
    alarms = sum(min(adjust([rng.random() for _ in range(50)], rule)) <= 0.025 for _ in range(runs))
    assert low <= alarms / runs <= high


def _case(nodeid: str, p_value: float, status: Status) -> regression.TestChange:
    change = Change("speedup", 2.0, 1.5, -0.25, -0.3, -0.2, 0.1, True, True, status, p_value)
    return regression.TestChange(nodeid, status, None, None, (change,))


def test_apply_family_withdraws_a_call_the_family_does_not_support() -> None:
    weak = _case("t.py::weak", 0.01, Status.REGRESSION)
    strong = _case("t.py::strong", 0.0001, Status.REGRESSION)
    quiet = [_case(f"t.py::quiet{i}", 0.5, Status.UNCHANGED) for i in range(8)]
    judged, family = apply_family([weak, strong, *quiet], "holm", 0.95)
    by_id = {test.nodeid: test for test in judged}
    assert by_id["t.py::strong"].status is Status.REGRESSION
    assert by_id["t.py::weak"].status is Status.UNCERTAIN
    assert by_id["t.py::weak"].changes[0].unadjusted is Status.REGRESSION
    assert "withdrawn by Holm" in note_text(by_id["t.py::weak"].notes[-1])
    assert (family.cases, family.members) == (10, 10)
    assert family.changed == (("t.py::weak", "speedup", Status.REGRESSION, Status.UNCERTAIN),)
    assert judged[0].nodeid == "t.py::strong"  # worst first
    alone, none = apply_family([weak, strong, *quiet], "none", 0.95)
    assert sum(test.status is Status.REGRESSION for test in alone) == 2
    assert none.changed == ()


def test_new_and_missing_tests_are_not_members() -> None:
    new = regression.TestChange("t.py::new", Status.NEW, None, None)
    judged, family = apply_family([new, _case("t.py::a", 0.01, Status.REGRESSION)], "holm", 0.95)
    assert family.cases == 1
    assert any(test.status is Status.REGRESSION for test in judged)
