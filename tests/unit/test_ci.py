"""``parscale ci`` and its GitHub calls (github.py): events, cache keys, outputs,
comments, artifacts and acceptances, without GitHub.

The REST calls go to an injected function; nothing here opens a socket.
"""

from __future__ import annotations

import io
import json
import re
import urllib.error
import zipfile
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from pytest_parscale.action import acceptance, github
from pytest_parscale.action.baseline import Baseline, Head, load_baseline, store
from pytest_parscale.action.command import main as ci_main
from pytest_parscale.action.event import read_event, write_outputs
from pytest_parscale.action.judge import judge
from pytest_parscale.action.options import (
    RunOptions,
    cache_keys,
    cpu_family,
    environment,
    environment_changes,
    environment_key,
    plan,
)
from pytest_parscale.action.steps import comment as ci_comment
from pytest_parscale.action.steps import run as ci_run
from pytest_parscale.action.summary import judgement_markdown
from pytest_parscale.cli import main, parser
from pytest_parscale.errors import BaselineError
from pytest_parscale.results import document, write_atomic
from pytest_parscale.storage import load
from pytest_parscale.thresholds import FailOn
from tests.records import MACHINE, record, scaled


def pull_request_env(tmp_path: Path, *, fork: bool = False) -> dict[str, str]:
    event = tmp_path / "event.json"
    head = "someone/widgets" if fork else "octo/widgets"
    event.write_text(
        json.dumps(
            {
                "pull_request": {
                    "number": 12,
                    "head": {"sha": "abc", "repo": {"full_name": head}},
                    "base": {"ref": "release/1.x"},
                }
            }
        )
    )
    return {
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_BASE_REF": "release/1.x",
        "GITHUB_REPOSITORY": "octo/widgets",
        "GITHUB_RUN_ID": "55",
        "GITHUB_RUN_ATTEMPT": "2",
        "RUNNER_OS": "Linux",
        "RUNNER_TEMP": str(tmp_path),
    }


def test_a_pull_request_is_judged_against_its_base_branch(tmp_path: Path) -> None:
    event = read_event(pull_request_env(tmp_path))
    assert (event.branch, event.pull_request, event.head_sha) == ("release/1.x", 12, "abc")
    assert not event.from_fork
    assert not event.stores_baseline
    assert read_event(pull_request_env(tmp_path, fork=True)).from_fork


def test_a_push_to_a_branch_stores_its_baseline_a_tag_does_not() -> None:
    branch = read_event({"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main"})
    assert branch.branch == "main"
    assert branch.stores_baseline
    tag = read_event({"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/tags/v1"})
    assert tag.branch is None
    assert not tag.stores_baseline


def test_cache_keys_restore_by_branch_prefix_and_save_per_run(tmp_path: Path) -> None:
    env = pull_request_env(tmp_path)
    keys = cache_keys(read_event(env), "py3.12, fast", env, "Linux-py3.12-2c-abcd1234")
    assert keys == {
        "restore-prefix": "pytest-parscale-v1-Linux-py3.12_fast-release/1.x-Linux-py3.12-2c-abcd1234-",
        "restore-fallback": "pytest-parscale-v1-Linux-py3.12_fast-release/1.x-",
        "save-key": "pytest-parscale-v1-Linux-py3.12_fast-release/1.x-Linux-py3.12-2c-abcd1234-55-2",
    }
    assert keys["save-key"].startswith(keys["restore-prefix"])
    assert keys["restore-prefix"].startswith(keys["restore-fallback"])


def test_plan_writes_its_outputs_to_github_output(tmp_path: Path) -> None:
    env = pull_request_env(tmp_path)
    env["GITHUB_OUTPUT"] = str(tmp_path / "out.txt")
    write_outputs(plan("k", env), env)
    written = dict(line.split("=", 1) for line in Path(env["GITHUB_OUTPUT"]).read_text().split())
    assert written["baseline-dir"] == str(tmp_path / "pytest-parscale" / "baseline")
    assert written["branch"] == "release/1.x"


def test_an_output_must_be_one_line() -> None:
    with pytest.raises(ValueError, match="one line"):
        write_outputs({"verdict": "pass\nevil=1"}, {"GITHUB_OUTPUT": "/nonexistent"})


def test_marker_keeps_html_comments_closed() -> None:
    assert github.marker("a --> <b>") == "<!-- pytest-parscale:a_b_ -->"


def test_a_long_report_is_cut_at_a_line_with_a_note() -> None:
    body = github.comment_body("row\n" * 30_000, "default")
    assert len(body) < 65_536
    assert body.endswith("_Report truncated; the full report is in the job summary._\n")


def http_error(url: str, code: int) -> urllib.error.HTTPError:
    return urllib.error.HTTPError(url, code, "refused", Message(), io.BytesIO())


class FakeGitHub:
    """Answers the comment endpoints from a dict; records every request.

    ``login`` None plays GITHUB_TOKEN (``GET /user`` refused, comments by the bot);
    a name plays a personal token. ``authors`` says who wrote a listed comment.
    """

    def __init__(
        self, comments: dict[int, str], head_sha: str = "abc", login: str | None = None
    ) -> None:
        self.comments = comments
        self.head_sha = head_sha
        self.login = login
        self.authors: dict[int, str] = {}
        self.seen: list[tuple[str, str]] = []

    def __call__(self, request: github.Request, token: str) -> Any:
        assert token == "t0ken"
        self.seen.append((request.method, request.url))
        if request.url.endswith("/user"):
            if self.login is None:
                raise http_error(request.url, 403)
            return {"login": self.login}
        if request.method == "GET" and "/pulls/" in request.url:
            return {"head": {"sha": self.head_sha}}
        if request.method == "GET":
            page = int(request.url.rsplit("page=", 1)[1])
            me = self.login or github.GITHUB_ACTIONS_BOT
            items = [
                {"id": key, "user": {"login": self.authors.get(key, me)}, "body": body}
                for key, body in self.comments.items()
            ]
            return items[(page - 1) * 100 : page * 100]
        assert request.body is not None
        if request.method == "PATCH":
            self.comments[int(request.url.rsplit("/", 1)[1])] = request.body["body"]
            return {}
        number = max(self.comments, default=0) + 1
        self.comments[number] = request.body["body"]
        return {"id": number}


def upsert(fake: FakeGitHub, body: str, key: str = "default", **extra: Any) -> str:
    return github.upsert_comment(
        repository="octo/widgets",
        number=12,
        body=body,
        key=key,
        token="t0ken",
        api_url="https://api.example",
        send=fake,
        **extra,
    )


def test_the_comment_is_created_then_updated_in_place_past_the_first_page() -> None:
    others = {number: "someone else" for number in range(1, 151)}
    fake = FakeGitHub(others)
    fake.authors = {number: "someone" for number in others}
    assert upsert(fake, github.comment_body("first", "default")) == "created comment 151"
    assert upsert(fake, github.comment_body("second", "default")) == "updated comment 151"
    assert fake.comments[151] == "<!-- pytest-parscale:default -->\nsecond"
    assert len(fake.comments) == 151
    assert fake.seen[-1] == ("PATCH", "https://api.example/repos/octo/widgets/issues/comments/151")


def test_a_matrix_job_with_another_key_gets_its_own_comment() -> None:
    fake = FakeGitHub({1: github.comment_body("py3.11", "py3.11")})
    assert (
        upsert(fake, github.comment_body("py3.12", "py3.12"), key="py3.12") == "created comment 2"
    )


def test_workflow_run_comment_refuses_a_pull_request_at_another_commit() -> None:
    fake = FakeGitHub({}, head_sha="abc")
    with pytest.raises(ValueError, match="not at commit def"):
        upsert(fake, "body", expect_head_sha="def")
    assert fake.comments == {}
    assert upsert(fake, "body", expect_head_sha="abc") == "created comment 1"


def test_a_read_only_token_warns_instead_of_failing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def forbidden(request: github.Request, token: str) -> Any:
        raise urllib.error.HTTPError(request.url, 403, "Forbidden", Message(), io.BytesIO())

    report = tmp_path / "report.md"
    report.write_text("### report\n")
    env = {**pull_request_env(tmp_path), "GITHUB_TOKEN": "t0ken"}
    assert ci_comment(str(report), "default", env, send=forbidden) == 0
    assert "::warning::pytest-parscale: could not comment on pull request 12: HTTP 403" in (
        capsys.readouterr().out
    )


def test_run_reports_a_bad_cached_baseline_as_no_baseline(tmp_path: Path) -> None:
    head = tmp_path / "head.json"
    write_atomic(head, document([record()], dict(MACHINE), [], None))
    (tmp_path / "baseline").mkdir()
    (tmp_path / "baseline" / "results.json").write_text("{")
    options = RunOptions(
        results_file=str(head), baseline_dir=tmp_path / "baseline", out_dir=tmp_path / "out"
    )
    outcome = ci_run(options, {"GITHUB_OUTPUT": str(tmp_path / "o.txt")})
    assert (outcome.verdict, outcome.exit_code) == ("no-baseline", 0)
    assert "the cached baseline was unusable" in outcome.report


@pytest.mark.parametrize(
    ("options", "why"),
    [
        ("", "has no measurement: do the pytest-args select tests using parscale?"),
        ("--parscale-min-rounds=zero", "does not exist"),
    ],
)
def test_run_fails_with_verdict_error_without_measurements(
    tmp_path: Path, options: str, why: str
) -> None:
    (tmp_path / "test_nothing.py").write_text("def test_plain():\n    assert True\n")
    run_options = RunOptions(
        pytest_args=f"{tmp_path} -q -p no:cacheprovider {options}",
        baseline_dir=tmp_path / "baseline",
        out_dir=tmp_path / "out",
    )
    outcome = ci_run(run_options, {"GITHUB_OUTPUT": str(tmp_path / "o.txt")})
    assert outcome.verdict == "error"
    assert outcome.exit_code == 1
    assert outcome.outputs["results-path"] == ""
    assert why in re.sub(r"\\(.)", r"\1", outcome.report)


def test_the_cli_runs_the_ci_step_and_gates_on_a_regression(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, head = tmp_path / "baseline" / "results.json", tmp_path / "head.json"
    write_atomic(base, document([record()], dict(MACHINE), [], None))
    write_atomic(head, document([scaled(record(), 0.5)], dict(MACHINE), [], None))
    for name in ("GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "o.txt"))
    argv = ["ci", "run", "--results-file", str(head)]
    argv += ["--baseline-dir", str(base.parent), "--out-dir", str(tmp_path / "out")]
    assert main([*argv, "--fail-on", ""]) == 1  # an empty input means the default thresholds
    assert "verdict=regression\n" in (tmp_path / "o.txt").read_text()
    assert main([*argv, "--fail-on", "speedup:60%"]) == 0


def test_workflow_run_comment_reads_the_number_from_the_artifact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report, pull = tmp_path / "report.md", tmp_path / "pull-request.json"
    report.write_text("### report\n")
    pull.write_text(json.dumps({"number": 12, "head_sha": "abc"}))
    fake = FakeGitHub({}, head_sha="abc")
    env = {"GITHUB_EVENT_NAME": "workflow_run", "GITHUB_REPOSITORY": "octo/widgets"}
    env["GITHUB_TOKEN"] = "t0ken"

    head, baseline = tmp_path / "head.json", tmp_path / "baseline"
    write_atomic(head, document([scaled(record(), 0.5)], dict(MACHINE), [], None))
    write_atomic(baseline / "results.json", document([record()], dict(MACHINE), [], None))
    judge_again = ["--results", str(head), "--baseline-dir", str(baseline)]

    def comment(*extra: str) -> int:
        argv = ["ci", "comment", *judge_again, "--pr-file", str(pull), *extra]
        return ci_main(parser().parse_args(argv), env, send=fake)

    assert comment("--expect-head-sha", "abc") == 0
    assert list(fake.comments) == [1]
    assert fake.comments[1].startswith("<!-- pytest-parscale:default -->\n### :x: pytest-parscale")
    assert comment("--expect-head-sha", "new") == 0  # the PR moved on: a notice only
    assert "::notice::pytest-parscale: pull request 12 is not at commit new" in (
        capsys.readouterr().out
    )
    posted = ["ci", "comment", "--report", str(report), "--pr-file", str(pull)]
    with pytest.raises(BaselineError, match="must judge --results itself"):
        ci_main(parser().parse_args(posted), env, send=fake)  # never the artifact's Markdown
    pull.write_text(json.dumps({"number": "12; rm -rf /"}))
    assert main(["ci", "comment", *judge_again, "--pr-file", str(pull)]) == 2


def test_a_missing_results_file_is_an_error_naming_it(tmp_path: Path) -> None:
    options = RunOptions(
        results_file=str(tmp_path / "nope.json"),
        baseline_dir=tmp_path / "baseline",
        out_dir=tmp_path / "out",
    )
    outcome = ci_run(options, {"GITHUB_OUTPUT": str(tmp_path / "o.txt")})
    assert (outcome.verdict, outcome.exit_code) == ("error", 1)
    assert "nope.json: does not exist" in re.sub(r"\\(.)", r"\1", outcome.report)


def test_a_push_whose_pytest_failed_keeps_the_old_baseline(tmp_path: Path) -> None:
    (tmp_path / "test_half.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.parscale(backends=['thread'], workers=2)\n"
        "def test_measured(parscale):\n    parscale.map(abs, [1, -2, 3, -4])\n\n"
        "def test_broken():\n    assert False\n"
    )
    options = RunOptions(
        pytest_args=f"{tmp_path} -q -p no:cacheprovider --parscale-min-rounds=3 "
        "--parscale-max-time=1",
        baseline_dir=tmp_path / "baseline",
        out_dir=tmp_path / "out",
    )
    push = {"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main"}
    outcome = ci_run(options, {**push, "GITHUB_OUTPUT": str(tmp_path / "o.txt")})
    assert (outcome.verdict, outcome.exit_code) == ("no-baseline", 1)
    assert outcome.outputs["save-baseline"] == "false"
    assert not (tmp_path / "baseline").exists()
    assert "pytest exited with code 1: failing tests fail this job" in outcome.report
    assert "stored as the baseline" not in outcome.report


def test_a_personal_token_edits_only_its_own_login_s_comment() -> None:
    tag = github.comment_body("theirs", "default")
    fake = FakeGitHub({1: tag, 2: tag}, login="parscale-bot")
    fake.authors = {1: "mallory", 2: "parscale-bot"}
    assert upsert(fake, github.comment_body("ours", "default")) == "updated comment 2"
    assert fake.comments[1] == tag
    bot = FakeGitHub({1: tag})  # GITHUB_TOKEN: /user refused, the bot's comment is ours
    bot.authors = {1: "github-actions[bot]"}
    assert upsert(bot, github.comment_body("ours", "default")) == "updated comment 1"
    planted = FakeGitHub({1: tag})
    planted.authors = {1: "mallory"}
    assert upsert(planted, github.comment_body("ours", "default")) == "created comment 2"
    assert planted.comments[1] == tag


def test_an_app_token_named_by_comment_author_never_edits_the_actions_bot_s_comment() -> None:
    tag = github.comment_body("theirs", "default")
    app = FakeGitHub({1: tag, 2: tag})  # an App's token: GET /user refused, as GITHUB_TOKEN's
    app.authors = {1: github.GITHUB_ACTIONS_BOT, 2: "parscale-app[bot]"}
    assert upsert(app, github.comment_body("ours", "default"), author="parscale-app[bot]") == (
        "updated comment 2"
    )
    assert app.comments[1] == tag
    first = FakeGitHub({1: tag})
    first.authors = {1: github.GITHUB_ACTIONS_BOT}
    assert upsert(first, "x", author="parscale-app[bot]") == "created comment 2"
    assert first.comments[1] == tag


def test_md_keeps_www_autolinks_inert() -> None:
    from pytest_parscale.markdown import md

    for text in ("see www.evil.example/x", "WWW.evil.example", "(www.a.b)"):
        escaped = md(text)
        assert re.search(r"(?<![\\\w])www\.", escaped, re.I) is None, escaped
        assert re.sub(r"\\(.)|&#8203;", r"\1", escaped) == text  # reads the same


def test_a_merge_queue_run_judges_against_its_base_branch(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    queue = {"base_ref": "refs/heads/main", "head_ref": "gh-readonly-queue/main/pr-3-abc"}
    event.write_text(json.dumps({"merge_group": {**queue, "head_sha": "abc"}}))
    env = {
        "GITHUB_EVENT_NAME": "merge_group",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REF": "refs/heads/gh-readonly-queue/main/pr-3-abc",
    }
    read = read_event(env)
    assert (read.branch, read.head_sha, read.merge_queue) == ("main", "abc", True)
    assert not read.stores_baseline


def test_the_environment_identity_and_what_changed() -> None:
    assert cpu_family("Intel(R) Xeon(R) CPU E5-2673 v4 @ 2.30GHz") == "Intel Xeon E5-2673 v4"
    assert cpu_family("AMD EPYC 7763 64-Core Processor") == "AMD EPYC 7763"
    base = {**MACHINE, "platform": "Linux-6.5-x86_64", "python": "3.11.7", "start_method": "fork"}
    env = environment(base)
    assert env == {
        "os": "Linux",
        "cpu": cpu_family(MACHINE["cpu_model"]),
        "cores": "2",
        "python": "3.11",
    }
    assert environment_changes(base, {**base, "python": "3.11.9"}) == []  # same minor
    head = {**base, "python": "3.12.1", "usable_cores": 4, "start_method": "spawn"}
    assert environment_changes(base, head) == [
        "usable cores 2 -> 4",
        "Python 3.11 -> 3.12",
        "start method fork -> spawn",
    ]
    assert environment_key(env) != environment_key(environment(head))


def zip_of(files: dict[str, bytes]) -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return data.getvalue()


class Artifacts:
    """The artifact list and download endpoints."""

    def __init__(self, listed: list[dict[str, Any]], archive: bytes = b"") -> None:
        self.listed, self.archive = listed, archive

    def __call__(self, request: github.Request, token: str) -> Any:
        if "/actions/artifacts?" in request.url:
            assert "name=pytest-parscale-baseline-k" in request.url
            return {"total_count": len(self.listed), "artifacts": self.listed}
        if "/actions/runs/" in request.url:  # every listed run is a push of this repository
            own = {"id": 1}
            return {
                "event": "push",
                "head_branch": "main",
                "path": "",
                "repository": own,
                "head_repository": own,
            }
        assert request.raw
        return self.archive


def artifact(run: int, branch: str = "main", expired: bool = False) -> dict[str, Any]:
    return {
        "name": "pytest-parscale-baseline-k",
        "expired": expired,
        "created_at": f"2026-11-{run:02d}T00:00:00Z",
        "archive_download_url": f"https://dl/{run}",
        "workflow_run": {
            "id": run,
            "head_branch": branch,
            "repository_id": 1,
            "head_repository_id": 1,
        },
    }


def fetch(send: Any, target: Path) -> tuple[str, str]:
    return github.fetch_baseline(
        repository="octo/widgets",
        branch="main",
        baseline_key="k",
        target=target,
        wanted=("results.json", "provenance.json"),
        token="t",
        api_url="https://api",
        send=send,
    )


def test_the_baseline_artifact_tells_an_eviction_from_a_first_run(tmp_path: Path) -> None:
    assert fetch(Artifacts([]), tmp_path / "a") == ("none", "first-run")
    assert fetch(Artifacts([artifact(1, "other")]), tmp_path / "a") == ("none", "first-run")
    assert fetch(Artifacts([artifact(1, expired=True)]), tmp_path / "a") == ("none", "evicted")
    archive = zip_of({"results.json": b"{}", "../../evil": b"x", "provenance.json": b"{}"})
    send = Artifacts([artifact(1), artifact(3), artifact(2, expired=True)], archive)
    seen: list[str] = []

    def spy(request: github.Request, token: str) -> Any:
        seen.append(request.url)
        return send(request, token)

    assert fetch(spy, tmp_path / "b") == ("artifact", "restored")
    assert seen[-1] == "https://dl/3"  # the newest live one
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["provenance.json", "results.json"]
    assert not (tmp_path / "evil").exists()


def test_an_artifact_whose_run_was_deleted_is_skipped_for_the_next(tmp_path: Path) -> None:
    send = Artifacts([artifact(1), artifact(3)], zip_of({"results.json": b"{}"}))
    seen: list[str] = []

    def deleted_run(request: github.Request, token: str) -> Any:
        seen.append(request.url)
        if request.url.endswith("/actions/runs/3"):
            raise http_error(request.url, 404)
        return send(request, token)

    assert fetch(deleted_run, tmp_path / "b") == ("artifact", "restored")
    assert seen[-1] == "https://dl/1"


def test_a_missing_baseline_passes_warns_or_fails_by_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    head = load(write_head(tmp_path))
    none = Baseline(None, "none", "", None)
    for policy, gate, level in (
        ("pass", False, None),
        ("warn", False, "warning"),
        ("fail", True, "error"),
    ):
        options = RunOptions(on_missing_baseline=policy, baseline_history="evicted")
        judged = judge(head, none, options, "main", stores=False)
        assert (judged.verdict, judged.gate) == ("no-baseline", gate)
        assert "was stored before but is gone" in judgement_markdown(judged)[2]
        out = capsys.readouterr().out
        assert (f"::{level}::" in out) if level else out == ""
    stored = judge(head, none, RunOptions(on_missing_baseline="fail"), "main", stores=True)
    assert not stored.gate  # the run that stores the first baseline never fails for lacking one


def write_head(tmp_path: Path) -> Path:
    path = tmp_path / "head.json"
    write_atomic(path, document([record()], dict(MACHINE), [], None))
    return path


def test_without_a_confirmer_every_flag_stands_judged_by_the_single_baseline(
    tmp_path: Path,
) -> None:
    head = load(write_head(tmp_path))
    write_atomic(
        tmp_path / "b" / "results.json", document([scaled(record(), 2.0)], dict(MACHINE), [], None)
    )
    baseline = load_baseline(tmp_path / "b", "cache")
    judged = judge(head, baseline, RunOptions(), "main", stores=False)
    assert judged.flagged == [record().nodeid]
    assert (judged.verdict, judged.regressions, judged.gate) == ("regression", 1, True)
    assert (judged.source, judged.confirmation) == ("single", None)
    assert "**Verdict from** a single baseline" in "\n".join(judgement_markdown(judged))


def test_a_python_change_is_warned_in_the_summary_a_core_change_once(tmp_path: Path) -> None:
    head = load(write_head(tmp_path))
    machine = {**MACHINE, "python": "3.12.1", "usable_cores": 4}
    write_atomic(tmp_path / "b" / "results.json", document([record()], machine, [], None))
    judged = judge(head, load_baseline(tmp_path / "b", "cache"), RunOptions(), "main", False)
    text = "\n".join(judgement_markdown(judged))
    assert "different environments: Python 3.12 -> 3.11" in text
    assert "usable cores 4 -> 2" not in text  # said once, by the report's machine warning
    assert "different usable cores (baseline 4, head 2)" in text


def test_the_history_keeps_the_last_runs_oldest_first(tmp_path: Path) -> None:
    event = read_event({"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main"})
    for index in range(4):
        path = tmp_path / f"h{index}.json"
        write_atomic(path, document([scaled(record(), 1 + index)], dict(MACHINE), [], None))
        head = Head(load(path), path, 0)
        store(head, tmp_path / "b", event, {}, keep=3)
    names = sorted(p.name for p in (tmp_path / "b" / "history").iterdir())
    assert names == ["000002-unknown.json", "000003-unknown.json", "000004-unknown.json"]
    history = load_baseline(tmp_path / "b", "cache").history
    assert [round(run.records[record().nodeid].speedup.estimate) for run in history] == [4, 6, 8]


class Acceptances:
    """A pull request's acceptance endpoints: the pull, its events, comments and runs."""

    def __init__(self, labelled_at: str = "2026-12-02T00:00:00Z") -> None:
        self.comments: list[dict[str, Any]] = []
        self.labelled_at = labelled_at
        self.permissions = {"lead": "admin", "dev": "write", "maint": "maintain", "ro": "read"}

    def __call__(self, request: github.Request, token: str) -> Any:
        url = request.url
        if url.endswith("/user"):
            raise http_error(url, 403)
        if url.endswith("/pulls/3"):
            head = {"sha": "abcdef1234567890"}
            return {"head": head, "user": {"login": "author"}, "labels": [{"name": "x"}]}
        if "/permission" in url:
            level = self.permissions.get(url.split("/collaborators/")[1].split("/")[0])
            if level is None:
                raise http_error(url, 404)
            return {"permission": "write" if level == "maintain" else level, "role_name": level}
        if "/actions/runs?head_sha=abcdef1234567890" in url:
            return {"workflow_runs": [{"created_at": "2026-12-01T00:00:00Z"}]}
        if "/events" in url:
            label = {"name": github.ACCEPT_LABEL}
            events = [{"event": "labeled", "actor": {"login": "lead"}, "label": {"name": "x"}}]
            events.append(
                {
                    "event": "labeled",
                    "actor": {"login": "maint"},
                    "label": label,
                    "created_at": self.labelled_at,
                }
            )
            return events if "page=1" in url else []
        return self.comments if "page=1" in url else []


def test_the_label_accepts_only_if_given_after_the_head_commit_was_pushed() -> None:
    env = {"GITHUB_TOKEN": "t"}
    label = [github.ACCEPT_LABEL]
    after = acceptance.acceptance("o/r", 3, env, Acceptances(), labels=label)
    assert after.label_by == "maint"
    before = Acceptances(labelled_at="2026-11-30T00:00:00Z")
    assert acceptance.acceptance("o/r", 3, env, before, labels=label).label_by is None
    assert acceptance.acceptance("o/r", 3, env, Acceptances(), labels=["x"]).label_by is None
    assert acceptance.acceptance("o/r", 3, env, Acceptances()).label_by is None  # API: x only


def test_acks_count_for_the_head_commit_from_people_who_can_push_never_the_author() -> None:
    api = Acceptances()

    def ack(login: str, body: str) -> None:
        api.comments.append({"user": {"login": login}, "body": body})

    ack("lead", "ok\nparscale-ack: a @abcdef1")
    ack("maint", "  parscale-ack: `d[x] y` @ABCDEF1234567890")
    ack("dev", "parscale-ack: stale @1234567")  # another commit
    ack("dev", "parscale-ack: bare")  # no commit
    ack("ro", "parscale-ack: b @abcdef1")  # read-only
    ack("stranger", "parscale-ack: c @abcdef1")  # no access at all
    ack("author", "parscale-ack: e @abcdef1")
    api.permissions["author"] = "admin"  # an admin's own pull request still needs another
    ack(github.GITHUB_ACTIONS_BOT, "parscale-ack: f @abcdef1")
    api.permissions[github.GITHUB_ACTIONS_BOT] = "write"
    found = acceptance.acceptance("o/r", 3, {"GITHUB_TOKEN": "t"}, api, head_sha="abcdef1234567890")
    assert found.tests == {"a": "lead", "d[x] y": "maint"}
    assert acceptance.acceptance("o/r", 3, {}, api, head_sha="999999999").tests == {}


def test_an_ack_line_names_its_test_and_commit() -> None:
    assert acceptance.parse_ack("parscale-ack: t.py::x[a b] @abc1234") == (
        "t.py::x[a b]",
        "abc1234",
    )
    assert acceptance.parse_ack("parscale-ack: `t.py::x`") == ("t.py::x", "")
    assert acceptance.parse_ack("parscale-ack: @abc1234") is None
    assert acceptance.parse_ack("said parscale-ack: x @abc1234") is None


def test_an_accepted_regression_is_reported_and_passes(tmp_path: Path) -> None:
    head = load(write_head(tmp_path))
    write_atomic(
        tmp_path / "b" / "results.json", document([scaled(record(), 2.0)], dict(MACHINE), [], None)
    )
    baseline = load_baseline(tmp_path / "b", "cache")
    judged = judge(head, baseline, RunOptions(acceptance=github.Acceptance("@lead")), "main", False)
    assert (judged.verdict, judged.regressions, judged.gate) == ("regression", 1, False)
    assert "added by @&#8203;lead" in "\n".join(judgement_markdown(judged))  # named, never pinged


def test_only_acknowledged_regressions_pass(tmp_path: Path) -> None:
    head = load(write_head(tmp_path))
    write_atomic(
        tmp_path / "b" / "results.json", document([scaled(record(), 2.0)], dict(MACHINE), [], None)
    )
    baseline = load_baseline(tmp_path / "b", "cache")
    acked = github.Acceptance(tests={record().nodeid: "lead"})
    judged = judge(head, baseline, RunOptions(acceptance=acked), "main", False)
    assert (judged.regressions, judged.gate) == (1, False)
    other = github.Acceptance(tests={"t.py::else": "lead"})
    assert judge(head, baseline, RunOptions(acceptance=other), "main", False).gate
    text = github.Acceptance("lead", {"a": "b"}).to_json()
    assert github.Acceptance.from_json(text) == github.Acceptance("lead", {"a": "b"})
    assert github.Acceptance.from_json("") == github.Acceptance()


def test_the_summary_names_the_commit_where_a_test_s_scaling_changed(tmp_path: Path) -> None:
    event = read_event({"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main"})
    factors = [1.0] * 5 + [0.7] * 2  # the step comes with the sixth stored run
    for index, factor in enumerate(factors):
        path = tmp_path / f"h{index}.json"
        git = {"commit": f"{index}" * 40, "dirty": False}
        write_atomic(path, document([scaled(record(), factor)], dict(MACHINE), [], git))
        store(Head(load(path), path, 0), tmp_path / "b", event, {}, keep=20)
    head_path = tmp_path / "head.json"
    write_atomic(head_path, document([scaled(record(), 0.7)], dict(MACHINE), [], None))
    head = load(head_path)
    baseline = load_baseline(tmp_path / "b", "cache")
    lines = judgement_markdown(judge(head, baseline, RunOptions(), "main", stores=False))
    said = [line for line in lines if "scaling changed" in line]
    assert said == [f"- `{record().nodeid}`: scaling changed at 5555555: 2.00x -> 1.40x"]
    wide = RunOptions(fail_on=FailOn(speedup=0.40, overhead=0.05))  # a 30% step is under 40%
    lines = judgement_markdown(judge(head, baseline, wide, "main", stores=False))
    assert not [line for line in lines if "scaling changed" in line]


def test_the_screen_judges_the_run_as_one_family_and_says_so(tmp_path: Path) -> None:
    """20 tests, one of them barely beyond the threshold: called alone, withdrawn by
    Holm over the run (uncertain, so the paired confirmation still decides it)."""
    from pytest_parscale.action.judge import judge
    from pytest_parscale.regression import Status, compare_records

    noisy = (1.0, 1.03, 0.97, 1.02, 0.98, 1.01, 0.99, 1.0)
    ids = [f"t.py::test_{index}" for index in range(20)]
    base = [record(nodeid, serial=[2 * v for v in noisy], parallel=noisy[::-1]) for nodeid in ids]
    head = [scaled(base[0], 0.855), *base[1:]]
    alone = compare_records(base[0], head[0])  # p 0.0105: called alone, not over 20 tests
    assert alone.status is Status.REGRESSION
    assert 0.025 / 20 < alone.changes[0].p_value <= 0.025
    folder = tmp_path / "baseline"
    write_atomic(folder / "results.json", document(base, dict(MACHINE), [], None))
    path = tmp_path / "head.json"
    write_atomic(path, document(head, dict(MACHINE), [], None))
    baseline = load_baseline(folder, "cache")
    judged = judge(load(path), baseline, RunOptions(), "main", False)
    assert judged.flagged == []
    assert ids[0] in judged.unresolved
    summary = "\n".join(judgement_markdown(judged))
    assert "family: 20 tests (20 comparisons), Holm (family-wise)" in summary
    assert f"family: {ids[0]} speedup: regression -> uncertain" in summary
    alone = judge(load(path), baseline, RunOptions(family="none"), "main", False)
    assert alone.flagged == [ids[0]]
