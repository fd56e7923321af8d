"""What the plugin adds to pytest's start-up, next to what pytest-benchmark adds (issue 13).

Each round runs ``python -m pytest --collect-only -q`` on one small test file three
ways, in a shuffled order: with neither plugin, with pytest-parscale only, with
pytest-benchmark only. A plugin's cost is the per-round difference to the run with
neither, so a slow moment of a shared machine hits both sides of a pair. Wall time
and CPU time (user + system of the child, which waiting for a busy machine barely
moves) are both printed as Markdown tables for benchmarks/RESULTS.md.

    python benchmarks/startup.py              # 20 rounds
    python benchmarks/startup.py --rounds 40 --tree ../other-checkout   # before/after
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TEST_FILE = """
def test_one():
    assert 1 + 1 == 2


def test_two():
    assert "a" * 2 == "aa"


class TestThree:
    def test_three(self):
        assert [1, 2][::-1] == [2, 1]
"""

# Both plugins are installed; each variant switches off what it does not measure.
VARIANTS = {
    "neither": ["-p", "no:parscale", "-p", "no:benchmark"],
    "parscale": ["-p", "no:benchmark"],
    "benchmark": ["-p", "no:parscale"],
}


def collect(folder: Path, flags: list[str], tree: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one collect-only run in a fresh interpreter.

    CPU time is what the run itself costs; wall time adds waiting for a busy machine.
    """
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    environment = dict(os.environ, PYTHONPATH=str(tree))
    # Users run from cached bytecode, as the installed pytest-benchmark does here:
    # the warm-up run writes it (and pytest's assertion-rewritten copies).
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.perf_counter()
    process = subprocess.Popen(
        [*command, *flags, "test_small.py"], cwd=folder, env=environment, stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(flags)}: pytest exited with {process.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def table(times: dict[str, list[float]], what: str) -> list[str]:
    """Medians per variant and, per plugin, the median of its paired differences."""
    base = statistics.median(times["neither"])
    lines = [
        f"| {what} of `pytest --collect-only -q`, one small file | median "
        "| added (median of paired differences) | ratio |",
        "|---|---|---|---|",
        f"| neither plugin | {base * 1e3:.0f} ms | - | - |",
    ]
    for name, label in (("parscale", "pytest-parscale"), ("benchmark", "pytest-benchmark")):
        added = statistics.median(
            with_plugin - alone
            for with_plugin, alone in zip(times[name], times["neither"], strict=True)
        )
        own = statistics.median(times[name])
        lines.append(
            f"| {label} only | {own * 1e3:.0f} ms | {added * 1e3:+.0f} ms | {own / base:.2f}x |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=20, help="paired rounds (>= 10)")
    parser.add_argument(
        "--tree",
        type=Path,
        default=ROOT,
        help="checkout whose pytest_parscale is measured (default: this one), for before/after",
    )
    arguments = parser.parse_args()
    if arguments.rounds < 10:
        parser.error(f"--rounds {arguments.rounds} is fewer than 10")
    load = os.getloadavg()
    wall: dict[str, list[float]] = {name: [] for name in VARIANTS}
    cpu: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        (folder / "test_small.py").write_text(TEST_FILE)
        for name in VARIANTS:  # warm the OS file cache and compile bytecode once
            collect(folder, VARIANTS[name], arguments.tree)
        order = list(VARIANTS)
        for _ in range(arguments.rounds):
            random.shuffle(order)
            for name in order:
                seconds, cpu_seconds = collect(folder, VARIANTS[name], arguments.tree)
                wall[name].append(seconds)
                cpu[name].append(cpu_seconds)
    python = platform.python_version()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {python}")
    print(f"load average before/after: {load} / {os.getloadavg()}")
    print(f"tree: {arguments.tree}")
    print(f"rounds: {arguments.rounds}, each variant once per round in a shuffled order")
    for what, times in (("wall time", wall), ("CPU time", cpu)):
        print()
        print("\n".join(table(times, what)))


if __name__ == "__main__":
    main()
