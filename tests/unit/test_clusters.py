"""Cluster logic without a cluster: worker plans, membership changes, mixed baselines."""

from __future__ import annotations

import dataclasses

import pytest

from pytest_parscale.backends._remote import Cluster, redacted
from pytest_parscale.diffreport import render_markdown, render_text, summary_lines
from pytest_parscale.markdown import code, md
from pytest_parscale.notewords import note_texts
from pytest_parscale.parametrize import plan_cluster
from pytest_parscale.regression import Status, compare_records, compare_results
from pytest_parscale.results import Record
from pytest_parscale.thresholds import DEFAULT_FAIL_ON
from tests.records import record
from tests.unit.test_diffreport import results

WHERE = "the ray cluster at 127.0.0.1:6379"


def test_a_cluster_runs_at_its_size_and_keeps_the_bar_when_it_is_big_enough() -> None:
    plan = plan_cluster(2, 8, "scale", WHERE)
    assert (plan.requested, plan.workers, plan.scale, plan.skip_reason) == (2, 8, 1.0, None)


def test_a_small_cluster_scales_the_bar_like_an_undersized_machine() -> None:
    plan = plan_cluster(8, 2, "scale", WHERE)
    assert (plan.workers, plan.scale) == (2, 0.25)
    assert plan_cluster(8, 2, "skip", WHERE).skip_reason == (
        f"undersized cluster: 8 workers asked, {WHERE} has 2"
    )
    # strict cannot add workers to someone's cluster: it keeps the whole bar instead
    strict = plan_cluster(8, 2, "strict", WHERE)
    assert (strict.workers, strict.scale, strict.oversubscribed) == (2, 1.0, False)
    assert "cannot scale below 2" in str(plan_cluster(4, 1, "scale", WHERE).skip_reason)


def test_cluster_names_who_left_and_joined() -> None:
    cluster = Cluster("dask", "tcp://127.0.0.1:8786", "dask worker", {"tcp://a": 1, "tcp://b": 1})
    assert cluster.workers == 2
    assert cluster.change({"tcp://a": 1, "tcp://b": 1}) is None
    assert cluster.change({"tcp://a": 1}) == (
        "the dask cluster at tcp://127.0.0.1:8786 changed: dask worker tcp://b left "
        "(2 -> 1 workers)"
    )
    assert cluster.change({"tcp://a": 1, "tcp://c": 2}) == (
        "the dask cluster at tcp://127.0.0.1:8786 changed: dask worker tcp://b left, "
        "dask worker tcp://c joined (2 -> 3 workers)"
    )


def test_an_empty_cluster_is_refused_with_what_to_start() -> None:
    with pytest.raises(RuntimeError, match="has no node with a free worker slot"):
        Cluster("ray", "127.0.0.1:6379", "node", {"abc": 0})


def test_a_broker_password_never_reaches_the_results() -> None:
    assert redacted("redis://:s3cret@10.0.0.5:6379/0") == "redis://:***@10.0.0.5:6379/0"
    assert redacted("amqp://user:pw@host//") == "amqp://user:***@host//"
    assert redacted("tcp://127.0.0.1:8786") == "tcp://127.0.0.1:8786"
    cluster = Cluster("celery", "redis://:s3cret@h:6379/0", "celery worker", {"w@h": 2})
    assert "s3cret" not in str(cluster.describe())


def on_cluster(base: Record, address: str = "127.0.0.1:6379") -> Record:
    return dataclasses.replace(base, executor={**base.executor, "engine": address})


def test_embedded_baseline_and_cluster_run_are_not_compared() -> None:
    embedded = record()
    cluster = on_cluster(record(serial=[0.5] * 6))  # a big "regression", on another engine
    change = compare_records(embedded, cluster, DEFAULT_FAIL_ON)
    assert change.status is Status.INCOMPARABLE
    assert change.changes == ()
    assert note_texts(change.notes) == (
        "not compared: the baseline ran on an embedded pool engine (2 workers) and this run "
        "on the pool cluster at 127.0.0.1:6379 (2 workers); save a baseline on the same "
        "kind of engine",
    )
    # and the other way round; two clusters (CI addresses move) are compared
    assert compare_records(cluster, embedded, DEFAULT_FAIL_ON).status is Status.INCOMPARABLE
    moved = on_cluster(record(), "127.0.0.9:6379")
    assert compare_records(on_cluster(record()), moved, DEFAULT_FAIL_ON).status is (
        Status.UNCHANGED
    )


def test_reports_say_when_engines_were_mixed() -> None:
    base = results("base.json", [record("t.py::a"), record("t.py::b")])
    head = results("head.json", [on_cluster(record("t.py::a")), record("t.py::b")])
    changes = compare_results(base.records, head.records)
    assert [c.status for c in changes] == [Status.INCOMPARABLE, Status.UNCHANGED]
    markdown = render_markdown(changes, base, head, DEFAULT_FAIL_ON)
    assert "> :warning: " + md("1 test was not compared: measured on an embedded") in markdown
    assert "#### Not compared: embedded engine on one side, cluster on the other (1)" in markdown
    assert "- " + code("t.py::a") + ": " + md("not compared: the baseline ran on an") in markdown
    text = render_text(changes, base, head, DEFAULT_FAIL_ON)
    assert "warning: 1 test was not compared" in text
    assert "note: t.py::a: not compared" in text
    assert text.splitlines()[0] == (
        "OK: no regression against the baseline (1 incomparable, 1 unchanged)"
    )
    summary = summary_lines(changes, base, 2)
    assert summary[2].startswith("warning: 1 test was not compared")
