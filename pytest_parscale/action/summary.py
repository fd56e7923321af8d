"""The Action's Markdown, built from the decision (decision.py) alone: every heading
and note of the job summary and the pull-request comment; and the report's files
(report.md, pull-request.json, the summary and the step outputs)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_parscale.action.decision import (
    Compared,
    Judgement,
    NoBaseline,
    NoResults,
    RunVerdict,
)
from pytest_parscale.action.event import Event, append_summary, write_outputs
from pytest_parscale.action.github import ACCEPT_LABEL, ACK_PREFIX
from pytest_parscale.action.trend import trend_markdown
from pytest_parscale.diffreport import family_lines, markdown_heading, markdown_sections
from pytest_parscale.history import MIN_RUNS, WINDOW
from pytest_parscale.markdown import code, md
from pytest_parscale.regression import Status
from pytest_parscale.show import show_markdown

if TYPE_CHECKING:
    from pytest_parscale.action.baseline import Baseline
    from pytest_parscale.action.confirm import Confirmation


def judgement_markdown(judged: Judgement) -> list[str]:
    """The verdict's Markdown: heading first, then every reason the decision holds."""
    if judged.no_results is not None:
        return _no_results_lines(judged.no_results)
    if judged.missing is not None:
        return _missing_lines(judged.missing, judged.gate)
    assert judged.compared is not None
    return _compared_lines(judged, judged.compared)


def run_report(judged: Judgement, pytest_code: int, replaced: bool, fork: bool) -> str:
    """The ``run`` step's report: the verdict, then what the step did besides.

    ``replaced``: these results became the branch's baseline; ``fork``: a fork's pull
    request, so no comment was written.
    """
    lines = judgement_markdown(judged)
    if pytest_code not in (0, 5):  # 5: nothing collected, reported as no measurement
        lines += ["", f"> :x: pytest exited with code {pytest_code}: failing tests fail this job."]
    if replaced and judged.verdict is not RunVerdict.NO_BASELINE:
        lines += ["", "These results replace the baseline of this branch."]
    if fork:
        lines += [
            "",
            "_No pull-request comment: the token of a fork's pull request cannot write. "
            "Use the workflow_run pattern of the pytest-parscale docs._",
        ]
    return "\n".join(lines) + "\n"


def rebuilt_report(judged: Judgement, branch: str | None = None, environment: str = "") -> str:
    """The trusted comment job's report: judged again there, without a paired run,
    against the baseline it restored by its own ``branch`` and ``environment``."""
    lines = judgement_markdown(judged)
    if judged.flagged or judged.unresolved:
        lines += [
            "",
            "_Judged again here without a paired confirmation (this job never runs the pull "
            "request's code); the gate job's summary says which flags a paired run confirmed "
            "and which unresolved tests it measured as regressions._",
        ]
    restored = f"branch {md(branch)}" if branch else "no branch"
    keyed = f", environment `{md(environment)}`" if environment else ""
    lines += ["", f"_Baseline restored by this trusted job: {restored}{keyed}._"]
    return "\n".join(lines) + "\n"


def _compared_lines(judged: Judgement, compared: Compared) -> list[str]:
    changes = compared.changes
    promoted = len(compared.promoted)
    if judged.flagged and not judged.regressions:  # (a promoted test is a regression)
        heading = (
            f"### :white_check_mark: pytest-parscale: OK: {len(judged.flagged)} test(s) "
            "flagged against the baseline, none confirmed by a paired run on this runner"
        )
    else:
        heading = markdown_heading(changes)
    titles = {}
    if judged.regressions < len(judged.flagged) + promoted:
        # the table lists what the baseline flagged; the lists above say what stands
        titles[Status.REGRESSION] = "Flagged against the baseline"
    lines = [heading, *verdict_source_lines(judged)]
    lines += _acceptance_lines(compared, judged.regressions)
    lines += ["", _compared_with(compared.baseline, compared.branch)]
    if compared.environment:
        differ = md("; ".join(compared.environment))
        lines += ["", f"> :warning: baseline and head ran in different environments: {differ}"]
    notes = {nodeid: [_promoted_note(status)] for nodeid, status in compared.promoted.items()}
    base, head = compared.base, compared.head
    lines += markdown_sections(changes, base, head, compared.fail_on, titles=titles, notes=notes)
    lines += ["", *(f"_{md(line)}_" for line in family_lines(compared.family, 0.95))]
    trend = trend_markdown(compared.baseline.history, head, compared.fail_on)
    return [*lines, "", *trend] if trend else lines


def _promoted_note(status: Status) -> str:
    said = "uncertain" if status is Status.UNCERTAIN else "not judged (incomparable)"
    return (
        f"{said} against the baseline; the paired run of base and head on this runner "
        "measured a regression"
    )


def _acceptance_lines(compared: Compared, regressions: int) -> list[str]:
    """Who accepted the regressions: the label, or maintainers' ack comments."""
    lines = []
    if compared.label_by is not None:
        lines += [
            "",
            f"> :ballot_box_with_check: Accepted: the pull request carries the label "
            f"`{ACCEPT_LABEL}`, added by {md(compared.label_by)}. The regressions below "
            "are reported and this run passes; the thresholds are unchanged.",
        ]
    if compared.acked:
        lines += ["", f"Acknowledged regressions (`{ACK_PREFIX}` comments):", ""]
        lines += [f"- {code(nodeid)} by {md(who)}" for nodeid, who in compared.acked]
        if len(compared.acked) < regressions:
            lines += ["", f"{regressions - len(compared.acked)} regression(s) not acknowledged."]
    return lines


def _compared_with(baseline: Baseline, branch: str | None) -> str:
    where = f"branch {md(branch)}" if branch else "the baseline"
    age = "" if baseline.age is None else f", measured {duration(baseline.age)} ago"
    commit = (
        f" at commit `{baseline.commit[:12]}`"
        if re.fullmatch(r"[0-9a-f]+", baseline.commit)
        else ""
    )
    return f"Compared with the latest results of {where}{commit} (from the {baseline.source}{age})."


def missing_reason(missing: NoBaseline) -> str:
    """Why there is no baseline, as a clause (the summary and the runner's annotation)."""
    where = f"branch {md(missing.branch)}" if missing.branch else "this run"
    if missing.history == "evicted":
        return f"the baseline of {where} was stored before but is gone (evicted or expired)"
    if missing.history == "first-run":
        return f"no baseline was ever stored for {where}"
    return f"no baseline for {where} was found (a first run, or an evicted cache)"


def _missing_lines(missing: NoBaseline, gate: bool) -> list[str]:
    why = missing_reason(missing)
    mark = ":x:" if gate else ":warning:" if missing.policy == "warn" else ":information_source:"
    if missing.stores:
        then = "These results are stored as the baseline."
    else:
        then = "A push to the base branch (or a run of the baseline workflow) stores one."
    judged = "this run fails (on-missing-baseline: fail)" if gate else "this run passes"
    lines = [
        f"### {mark} pytest-parscale: no baseline to compare with",
        "",
        f"{why[0].upper()}{why[1:]}. Nothing was compared, so {judged}. {then}",
    ]
    if missing.problem:
        lines += ["", f"> :warning: the cached baseline was unusable: {md(missing.problem)}"]
    return [*lines, "", show_markdown(missing.head).rstrip("\n")]


def _no_results_lines(found: NoResults) -> list[str]:
    exited = "" if found.results_file else f" pytest exited with code {found.pytest_code}."
    return ["### :x: pytest-parscale: no results to judge", "", f"{md(found.problem)}.{exited}"]


def verdict_source_lines(judged: Judgement) -> list[str]:
    """The summary's account of what made the verdict, and of every flag's fate."""
    confirmation = judged.confirmation
    if judged.source == "history":
        said = (
            f"the history of {judged.history_runs} runs of this branch (each test against "
            f"the spread between its last {WINDOW} runs at most, fitted on the machine "
            f"capacity where theirs varies; the single-run rule where "
            f"fewer than {MIN_RUNS} are comparable)"
        )
    elif judged.source == "paired":
        assert confirmation is not None
        said = (
            f"a paired confirmation: base `{confirmation.base[:12]}` and head "
            f"`{confirmation.head[:12]}` measured alternately on this runner, for the tests "
            "the baseline flagged or could not resolve"
        )
    else:
        said = "a single baseline (the latest results of the branch)"
    lines = ["", f"**Verdict from** {said}."]
    return lines if confirmation is None else [*lines, *_confirmation_lines(confirmation)]


def _confirmation_lines(confirmation: Confirmation) -> list[str]:
    lines: list[str] = []
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
            "Unresolved against the baseline (uncertain or not compared), measured by the "
            "paired run (a regression there fails the job; nothing else does):",
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
