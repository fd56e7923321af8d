"""The speedup trend of each test over the base branch's last runs, for the job summary.

One PR may stay under the gate's threshold while ten PRs in a row do not: 9% per
pull request under a 10% gate is never a regression, yet 60% over ten. The trend
puts the branch's recent history beside the head so that drift is seen
(docs/github-action.md, "History and trend"). Renders, never decides.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pytest_parscale.changepoint import ScalingChange, scaling_change
from pytest_parscale.markdown import cell, code
from pytest_parscale.notewords import change_point_text
from pytest_parscale.thresholds import NOT_SAID, FailOn

if TYPE_CHECKING:
    from pytest_parscale.storage import Results

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None]) -> str:
    """One bar per value on a shared scale; a missing value is a space."""
    known = [value for value in values if value is not None and math.isfinite(value)]
    if not known:
        return " " * len(values)
    low, high = min(known), max(known)
    span = high - low
    out = []
    for value in values:
        if value is None or not math.isfinite(value):
            out.append(" ")
        elif span <= 1e-12 * max(abs(high), 1.0):
            out.append(BARS[len(BARS) // 2])
        else:
            out.append(BARS[round((value - low) / span * (len(BARS) - 1))])
    return "".join(out)


def speedups(run: Results, nodeid: str) -> float | None:
    record = run.records.get(nodeid)
    return record.speedup.estimate / record.workers if record is not None else None


def trend_rows(history: Sequence[Results], head: Results) -> list[list[str]]:
    """Per head test: the sparkline (history, then ``|`` and the head) and the drift."""
    rows = []
    for nodeid in head.records:
        past = [speedups(run, nodeid) for run in history]
        now = speedups(head, nodeid)
        first = next((value for value in past if value is not None), None)
        drift = "-" if first is None or now is None or first <= 0 else f"{now / first - 1:+.0%}"
        line = sparkline([*past, now])
        rows.append(
            [
                code(nodeid, table=True),
                code(f"{line[:-1]}|{line[-1]}", table=True),
                "-" if first is None else f"{first:.2f}",
                "-" if now is None else f"{now:.2f}",
                cell(drift),
            ]
        )
    return rows


def change_points(
    runs: Sequence[Results], nodeids: Sequence[str], fail_on: FailOn = NOT_SAID
) -> list[ScalingChange]:
    """The tests whose scaling stepped somewhere in ``runs`` (changepoint.py's rule)."""
    found = (scaling_change(runs, nodeid, fail_on) for nodeid in nodeids)
    return [change for change in found if change is not None]


def trend_markdown(
    history: Sequence[Results], head: Results, fail_on: FailOn = NOT_SAID
) -> list[str]:
    """A folded table: speedup per worker over the last runs, the head after the bar.

    Below it, each test whose scaling changed at one commit of the history or at the
    head, with the speedup before and after (docs/github-action.md, "History and trend").
    """
    if not history:
        return []
    header = ["test", "trend (oldest → head)", "oldest", "head", "head vs oldest"]
    lines = [
        f"<details><summary>Trend over the last {len(history)} runs of the base branch"
        " (speedup per worker)</summary>",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in trend_rows(history, head)]
    steps = change_points([*history, head], list(head.records), fail_on)
    if steps:
        lines.append("")
        lines += [f"- {code(step.nodeid)}: {cell(change_point_text(step))}" for step in steps]
    return [*lines, "", "</details>"]
