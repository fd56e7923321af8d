"""Runs action.yml's composite steps locally, the way the Actions runner would.

Enough of the runner for our own action and no more: ``${{ }}`` expressions over
inputs, github, runner and steps contexts (literals, ``==``, ``!=``, ``&&``, ``||``,
``!``, parentheses, status functions, ``contains`` and the ``.*.`` object filter), ``run`` steps through ``bash -eo pipefail``
with the step's env and working directory, GITHUB_OUTPUT parsed into step outputs,
and the ``uses`` steps faked: setup-python is skipped, actions/cache restore/save
copy folders to and from a local cache folder with GitHub's prefix-match rule
(restore-keys tried in order), and upload-artifact copies a folder to a local
artifacts folder, as ``NAME@RUN_ID``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
COMMENT_ACTION = ROOT / "comment" / "action.yml"
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||!|\(|\)|,)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_.*-]*))"
)


def load_action(path: Path = ACTION) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


class Expression:
    """A tiny evaluator for the GitHub expression subset action.yml uses."""

    def __init__(self, text: str, contexts: Mapping[str, Any]) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = text.strip()
        while position < len(text):
            found = _TOKEN.match(text, position)
            if not found or found.end() == position:
                raise ValueError(f"cannot parse expression {text!r} at {position}")
            kind = found.lastgroup
            assert kind is not None
            self.tokens.append((kind, found.group(kind)))
            position = found.end()
        self.contexts = contexts
        self.index = 0

    def value(self) -> Any:
        result = self._or()
        if self.index != len(self.tokens):
            raise ValueError(f"trailing tokens in expression: {self.tokens[self.index :]}")
        return result

    def _peek(self) -> str | None:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else None

    def _or(self) -> Any:
        left = self._and()
        while self._peek() == "||":
            self.index += 1
            right = self._and()
            left = left if truthy(left) else right
        return left

    def _and(self) -> Any:
        left = self._not()
        while self._peek() == "&&":
            self.index += 1
            right = self._not()
            left = right if truthy(left) else left
        return left

    def _not(self) -> Any:
        if self._peek() == "!":
            self.index += 1
            return not truthy(self._not())
        return self._compare()

    def _compare(self) -> Any:
        left = self._primary()
        operator = self._peek()
        if operator in ("==", "!="):
            self.index += 1
            right = self._primary()
            same = str(left).lower() == str(right).lower()
            return same if operator == "==" else not same
        return left

    def _primary(self) -> Any:
        kind, text = self.tokens[self.index]
        self.index += 1
        if text == "(":
            inner = self._or()
            self.index += 1  # ")"
            return inner
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text)
        if text in ("true", "false"):
            return text == "true"
        if self._peek() == "(" and text == "contains":
            self.index += 1
            haystack = self._or()
            self.index += 1  # ","
            needle = self._or()
            self.index += 1  # ")"
            if isinstance(haystack, list):
                return any(str(item).lower() == str(needle).lower() for item in haystack)
            return str(needle).lower() in str(haystack).lower()
        if self._peek() == "(":
            self.index += 2  # "(" ")": status functions take no argument
            return self.contexts["__status__"][text]
        value: Any = self.contexts
        for part in text.split("."):
            if part == "*":  # object filter: the list itself, mapped by the next parts
                value = value if isinstance(value, list) else []
            elif isinstance(value, list):
                value = [item.get(part, "") for item in value if isinstance(item, Mapping)]
            else:
                value = value.get(part, "") if isinstance(value, Mapping) else ""
        return value


def truthy(value: Any) -> bool:
    return value not in (None, "", False, 0, 0.0)


def evaluate(text: str, contexts: Mapping[str, Any]) -> str:
    """A string with every ``${{ expr }}`` replaced by its value."""

    def replace(found: re.Match[str]) -> str:
        value = Expression(found.group(1), contexts).value()
        return ("true" if value else "false") if isinstance(value, bool) else str(value)

    return re.sub(r"\$\{\{(.*?)\}\}", replace, text)


def condition(text: str, contexts: Mapping[str, Any]) -> bool:
    inner = re.fullmatch(r"\s*\$\{\{(.*)\}\}\s*", text)
    return truthy(Expression(inner.group(1) if inner else text, contexts).value())


def read_outputs(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT's ``name=value`` and ``name<<DELIM`` forms."""
    outputs: dict[str, str] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    index = 0
    while index < len(lines):
        line = lines[index]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, index + 1)
            outputs[name] = "\n".join(lines[index + 1 : end])
            index = end + 1
            continue
        name, value = line.split("=", 1)
        outputs[name] = value
        index += 1
    return outputs


@dataclass
class StepRun:
    name: str
    skipped: bool
    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""


@dataclass
class ActionRun:
    steps: list[StepRun] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return any(step.exit_code for step in self.steps)

    def log(self) -> str:
        return "\n".join(
            f"--- {step.name} (exit {step.exit_code}, skipped {step.skipped})\n"
            f"{step.stdout}{step.stderr}"
            for step in self.steps
        )


@dataclass
class FakeRunner:
    """One job's environment: the runner's variables, a workspace, a local cache."""

    workspace: Path
    temp: Path
    cache: Path
    env: dict[str, str]
    github: dict[str, Any]

    def run_action(self, inputs: Mapping[str, str], path: Path = ACTION) -> ActionRun:
        action = load_action(path)
        given = {name: spec.get("default", "") for name, spec in action.get("inputs", {}).items()}
        contexts: dict[str, Any] = {
            "github": {**self.github, "action_path": str(path.parent)},
            "runner": {"os": self.env["RUNNER_OS"], "temp": str(self.temp)},
            "steps": {},
        }
        # input defaults may be expressions themselves (github-token: ${{ github.token }})
        contexts["inputs"] = {
            name: evaluate(str(value), contexts) for name, value in {**given, **inputs}.items()
        }
        done = ActionRun()
        failed = False
        for number, step in enumerate(action["runs"]["steps"]):
            name = step.get("name", f"step {number}")
            status = {"success": not failed, "failure": failed, "always": True, "cancelled": False}
            if "if" in step:
                text = str(step["if"])
                wanted = condition(text, {**contexts, "__status__": status})
                if not re.search(r"\b(success|failure|always|cancelled)\(", text):
                    wanted = wanted and not failed  # GitHub adds success() when none is named
            else:
                wanted = not failed  # no `if` means success()
            if not wanted:
                done.steps.append(StepRun(name, skipped=True))
                continue
            result = self._step(step, contexts)
            result.name = name
            done.steps.append(result)
            failed = failed or result.exit_code != 0
        done.outputs = {
            name: evaluate(str(spec["value"]), contexts)
            for name, spec in action.get("outputs", {}).items()
        }
        return done

    def _step(self, step: Mapping[str, Any], contexts: dict[str, Any]) -> StepRun:
        with_ = {k: evaluate(str(v), contexts) for k, v in (step.get("with") or {}).items()}
        outputs: dict[str, str] = {}
        if "uses" in step:
            result = self._uses(str(step["uses"]), with_, outputs)
        else:
            output_file = self.temp / f"output-{len(contexts['steps'])}"
            output_file.write_text("")
            env = {**self.env, "GITHUB_OUTPUT": str(output_file)}
            env.update({k: evaluate(str(v), contexts) for k, v in (step.get("env") or {}).items()})
            directory = evaluate(str(step.get("working-directory", ".")), contexts)
            assert step.get("shell") == "bash", "composite run steps must say their shell"
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=self.workspace / directory,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            result = StepRun("", False, done.returncode, done.stdout, done.stderr)
            outputs = read_outputs(output_file)
        if "id" in step:
            contexts["steps"][step["id"]] = {"outputs": outputs}
        return result

    def _uses(self, uses: str, with_: Mapping[str, str], outputs: dict[str, str]) -> StepRun:
        action = uses.split("@", 1)[0]
        if action == "actions/setup-python":
            return StepRun("", False, stdout="(setup-python skipped in the fake runner)")
        if action == "actions/cache/restore":
            target = Path(with_["path"])
            candidates = [self.cache / with_["key"]] if (self.cache / with_["key"]).exists() else []
            for prefix in with_.get("restore-keys", "").split("\n"):
                if prefix.strip():
                    found = [p for p in self.cache.iterdir() if p.name.startswith(prefix.strip())]
                    candidates += sorted(found, key=lambda p: p.stat().st_mtime_ns, reverse=True)
            outputs["cache-matched-key"] = ""
            if candidates:
                shutil.copytree(candidates[0], target, dirs_exist_ok=True)
                outputs["cache-matched-key"] = candidates[0].name
            outputs["cache-hit"] = str(bool(candidates) and candidates[0].name == with_["key"])
            return StepRun("", False, stdout=f"restored {outputs.get('cache-matched-key')}")
        if action == "actions/cache/save":
            key = self.cache / with_["key"]
            if key.exists():
                return StepRun("", False, 1, stderr=f"cache key {key.name} already exists")
            shutil.copytree(with_["path"], key)
            os.utime(key)  # GitHub restores the newest entry by creation time
            return StepRun("", False, stdout=f"saved {key.name}")
        if action == "actions/upload-artifact":
            artifacts = self.cache.parent / "artifacts"
            target = artifacts / f"{with_['name']}@{self.env.get('GITHUB_RUN_ID', '0')}"
            shutil.copytree(with_["path"], target)
            return StepRun("", False, stdout=f"uploaded {target.name}")
        raise AssertionError(f"the fake runner does not know {uses}")
