from __future__ import annotations

import dataclasses

import pytest

from pytest_parscale.config import resolve
from pytest_parscale.markers import merge, parse_parscale, parse_speedup
from pytest_parscale.parametrize import expand, plan_workers

WHERE = "test t.py::test_x"


def runs(
    usable: int,
    cli: dict[str, str] | None = None,
    speedup: dict[str, object] | None = None,
    **parscale: object,
) -> list[tuple[str, str | None, bool]]:
    spec = merge(
        parse_speedup([], speedup, WHERE) if speedup else None,
        None,
        parse_parscale([], parscale, WHERE),
        WHERE,
    )
    settings = resolve(cli or {}, {}, {})
    return [(param.id, reason, param.judged) for param, reason in expand(spec, settings, usable)]


def test_backends_then_sizes() -> None:
    assert runs(2, backends=["pool", "thread"], item_sizes=["10B", "1KB"]) == [
        ("pool-10B", None, True),
        ("pool-1KB", None, True),
        ("thread-10B", None, True),
        ("thread-1KB", None, True),
    ]


def test_command_line_backends_narrow_the_marker() -> None:
    assert [run[0] for run in runs(2, {"backends": "thread"}, backends=["pool", "thread"])] == [
        "thread"
    ]


def test_sweep_skips_counts_above_the_usable_cores_unless_opted_in() -> None:
    found = runs(2, backends=["pool"], workers=[1, 2, 4], speedup={"min": 1.2})
    assert [(run_id, judged) for run_id, _, judged in found] == [
        ("pool-w1", False),
        ("pool-w2", True),
        ("pool-w4", False),
    ]
    assert found[2][1] is not None
    assert "opt in with --parscale-oversubscribe" in found[2][1]
    opted = runs(2, {"oversubscribe": True}, backends=["pool"], workers=[1, 4])
    assert opted == [("pool-w1", None, False), ("pool-w4", None, True)]


def test_speedup_workers_pick_the_judged_count_in_a_sweep() -> None:
    found = runs(4, backends=["pool"], workers=[1, 2, 4], speedup={"min": 1.2, "workers": 2})
    assert [judged for _, _, judged in found] == [False, True, False]


def test_command_line_worker_list_is_a_sweep_and_a_single_count_is_not() -> None:
    assert [run[0] for run in runs(4, {"workers": "1,2"}, backends=["pool"])] == [
        "pool-w1",
        "pool-w2",
    ]
    assert [run[0] for run in runs(4, {"workers": "2"}, backends=["pool"])] == ["pool"]


def test_undersized_policy_applies_to_single_counts() -> None:
    found = runs(2, {"undersized": "skip"}, backends=["pool"], speedup={"min": 2, "workers": 8})
    assert found[0][1] == "undersized machine: 8 workers asked, 2 usable cores"


def test_plan_runs_as_asked_when_the_machine_is_big_enough() -> None:
    plan = plan_workers(2, 4, "scale")
    assert (plan.workers, plan.scale, plan.skip_reason, plan.oversubscribed) == (
        2,
        1.0,
        None,
        False,
    )


def test_plan_scale_keeps_the_efficiency() -> None:
    plan = plan_workers(8, 2, "scale")
    assert plan.workers == 2
    assert 6 * plan.scale == pytest.approx(1.5)


def test_plan_scale_skips_below_two_cores() -> None:
    plan = plan_workers(8, 1, "scale")
    assert plan.skip_reason is not None
    assert "cannot scale below 2" in plan.skip_reason


def test_plan_skip_policy() -> None:
    plan = plan_workers(8, 2, "skip")
    assert plan.skip_reason == "undersized machine: 8 workers asked, 2 usable cores"


def test_plan_strict_oversubscribes_with_the_full_bar() -> None:
    plan = plan_workers(8, 2, "strict")
    assert (plan.workers, plan.scale, plan.oversubscribed) == (8, 1.0, True)


def test_the_markers_travel_on_every_run() -> None:
    spec = merge(parse_speedup([1.5], {}, WHERE), None, parse_parscale([], {}, WHERE), WHERE)
    params = [param for param, _ in expand(spec, resolve({}, {}, {}), 2)]
    assert params
    assert all(param.spec is spec for param in params)


def test_a_cluster_replans_with_its_own_size() -> None:
    from pytest_parscale.parametrize import ParscaleParam, WorkerPlan, adopt_cluster

    settings = resolve({"workers": "4"}, {}, {})
    run = ParscaleParam("dask", None, WorkerPlan(4, 2, 1.0))
    adopted, skip = adopt_cluster(run, settings, 3, "the dask cluster")
    assert skip is None
    assert adopted.plan == WorkerPlan(4, 3, 0.75)
    _, skip = adopt_cluster(run, resolve({"workers": "4", "undersized": "skip"}, {}, {}), 3, "c")
    assert skip == "undersized cluster: 4 workers asked, c has 3"
    sweep = ParscaleParam("dask", None, WorkerPlan(3, 3, 1.0), sweep=True, judged=False)
    assert adopt_cluster(sweep, settings, 3, "c") == (dataclasses.replace(sweep, judged=True), None)
