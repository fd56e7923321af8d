"""The report's files (report.md, pull-request.json, with the summary and outputs)
and the summary's account of what made the verdict."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from pytest_parscale.action.baseline import Baseline
from pytest_parscale.action.confirm import Confirmation
from pytest_parscale.action.event import Event, append_summary, write_outputs
from pytest_parscale.history import MIN_RUNS, WINDOW
from pytest_parscale.markdown import code, md


def verdict_source_lines(
    source: str, baseline: Baseline, confirmation: Confirmation | None
) -> list[str]:
    """The summary's account of what made the verdict, and of every flag's fate."""
    if source == "history":
        said = (
            f"the history of {len(baseline.history)} runs of this branch (each test against "
            f"the spread between its last {WINDOW} runs at most, fitted on the machine "
            f"capacity where theirs varies; the single-run rule where "
            f"fewer than {MIN_RUNS} are comparable)"
        )
    elif source == "paired":
        assert confirmation is not None
        said = (
            f"a paired confirmation: base `{confirmation.base[:12]}` and head "
            f"`{confirmation.head[:12]}` measured alternately on this runner, for the tests "
            "the baseline flagged or could not decide"
        )
    else:
        said = "a single baseline (the latest results of the branch)"
    lines = ["", f"**Verdict from** {said}."]
    if confirmation is None:
        return lines
    if confirmation.confirmed:
        lines += ["", "Confirmed by the paired run (these fail the job):", ""]
        lines += [f"- {code(nodeid)}" for nodeid in confirmation.confirmed]
    if confirmation.not_confirmed:
        lines += [
            "",
            "Flagged by the baseline, not confirmed by a paired run (these do not fail the job):",
            "",
        ]
        lines += [
            f"- {code(nodeid)}: paired run says {md(said)}"
            for nodeid, said in confirmation.not_confirmed
        ]
    if confirmation.settled:
        lines += [
            "",
            "Undecided against the baseline, measured by the paired run (a regression there "
            "fails the job; nothing else does):",
            "",
        ]
        lines += [
            f"- {code(nodeid)}: paired run says {md(said)}" for nodeid, said in confirmation.settled
        ]
    if confirmation.unmeasured:
        lines += ["", "Flagged, but the paired run did not measure them, so the flag stands:", ""]
        lines += [f"- {code(nodeid)}" for nodeid in confirmation.unmeasured]
    if confirmation.problem is not None:
        lines += [
            "",
            f"> :warning: Not confirmed by a paired run, so the baseline's flags stand: "
            f"{md(confirmation.problem)}.",
        ]
    return lines


def duration(seconds: int) -> str:
    for unit, size in (("days", 86_400), ("hours", 3_600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size} {unit}"
    return f"{seconds} seconds"


def write(
    report: str,
    out_dir: Path,
    event: Event,
    outputs: dict[str, str],
    environ: Mapping[str, str],
) -> Path:
    """The report file, the job summary, pull-request.json and the step outputs."""
    report_path = out_dir / "report.md"
    report_path.write_text(report, encoding="utf-8")
    if event.pull_request is not None:
        pull = {"number": event.pull_request, "head_sha": event.head_sha}
        (out_dir / "pull-request.json").write_text(json.dumps(pull) + "\n")
    append_summary(report, environ)
    write_outputs({**outputs, "report-path": str(report_path)}, environ)
    return report_path
