"""The baseline comparison as JSON (``parscale compare --format json``, and the
paired run the Action's confirmation reads). Renders, never decides.

Infinite interval ends are null, as in results files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pytest_parscale.notewords import note_texts
from pytest_parscale.regression import Status, TestChange

if TYPE_CHECKING:
    from pytest_parscale.family import Family
    from pytest_parscale.results import Record
    from pytest_parscale.stats import Interval
    from pytest_parscale.storage import Results
    from pytest_parscale.thresholds import FailOn


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _interval_json(interval: Interval | None) -> dict[str, Any] | None:
    if interval is None:
        return None
    return {
        "estimate": interval.estimate,
        "low": _finite(interval.low),
        "high": _finite(interval.high),
        "confidence": interval.confidence,
    }


def _run_json(results: Results) -> dict[str, Any]:
    return {
        "path": results.path,
        "created": results.created,
        "git": dict(results.git) if results.git else None,
        "machine": dict(results.machine),
    }


def _side_json(record: Record | None) -> Mapping[str, Any] | None:
    if record is None:
        return None
    return {
        "workers": record.workers,
        "speedup": _interval_json(record.speedup),
        "transport_share": _interval_json(record.transport_share),
        "capacity": record.to_dict()["capacity"],
    }


def render_json(
    changes: Sequence[TestChange], base: Results, head: Results, fail_on: FailOn
) -> dict[str, Any]:
    """Machine-readable comparison; infinite interval ends are null as in results files."""
    statuses = {test.status for test in changes}
    return {
        "verdict": "regression"
        if Status.REGRESSION in statuses
        else ("error" if Status.ERROR in statuses else "ok"),
        # tests neither passed nor failed: another engine kind, or another capacity
        "not_compared": [
            {"nodeid": test.nodeid, "reason": test.reason, "notes": list(note_texts(test.notes))}
            for test in changes
            if test.status in (Status.INCOMPARABLE, Status.ERROR)
        ],
        "fail_on": str(fail_on),
        "baseline": _run_json(base),
        "head": _run_json(head),
        "tests": [
            {
                "nodeid": test.nodeid,
                "status": test.status.value,
                "baseline": _side_json(test.base),
                "head": _side_json(test.head),
                "changes": [
                    {
                        "metric": c.metric,
                        "baseline": c.base,
                        "head": c.head,
                        "change": c.change,
                        "low": _finite(c.low),
                        "high": _finite(c.high),
                        "threshold": _finite(c.threshold),
                        "significant": c.significant,
                        "beyond_threshold": c.beyond,
                        "p_value": c.p_value,
                        "adjusted_p_value": c.adjusted,
                        "status": c.status.value,
                    }
                    for c in test.changes
                ],
                "notes": list(note_texts(test.notes)),
                "reason": test.reason or None,
            }
            for test in changes
        ],
    }


def family_json(family: Family) -> dict[str, Any]:
    """The run's family: its rule, its size and the calls the rule changed."""
    return {
        "rule": family.rule,
        "tests": family.cases,
        "comparisons": family.members,
        "changed": [
            {"nodeid": nodeid, "metric": metric, "before": before.value, "after": after.value}
            for nodeid, metric, before, after in family.changed
        ],
    }
