"""What the plugin adds to pytest's start-up, next to what pytest-benchmark adds (issue 13).

Each round runs ``python -m pytest --collect-only -q`` on one small test file three
ways, in a shuffled order: with neither plugin, with pytest-parscale only, with
pytest-benchmark only. A plugin's cost is the per-round difference to the run with
neither, so a slow moment of a shared machine hits both sides of a pair; the medians
of those differences are printed as a Markdown table for benchmarks/RESULTS.md.

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


def collect(folder: Path, flags: list[str], tree: Path) -> float:
    """Wall seconds of one collect-only run in a fresh interpreter, importing ``tree``."""
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    environment = dict(os.environ, PYTHONPATH=str(tree))
    # Users run from cached bytecode, as the installed pytest-benchmark does here:
    # the warm-up run writes it (and pytest's assertion-rewritten copies).
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.perf_counter()
    subprocess.run(
        [*command, *flags, "test_small.py"],
        cwd=folder,
        env=environment,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


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
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        (folder / "test_small.py").write_text(TEST_FILE)
        for name in VARIANTS:  # warm the OS file cache and compile bytecode once
            collect(folder, VARIANTS[name], arguments.tree)
        order = list(VARIANTS)
        for _ in range(arguments.rounds):
            random.shuffle(order)
            for name in order:
                times[name].append(collect(folder, VARIANTS[name], arguments.tree))
    base = statistics.median(times["neither"])
    python = platform.python_version()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {python}")
    print(f"tree: {arguments.tree}")
    print(f"rounds: {arguments.rounds}, each variant once per round in a shuffled order")
    print()
    print(
        "| pytest --collect-only -q, one small file | median "
        "| added (median of paired differences) | ratio |"
    )
    print("|---|---|---|---|")
    print(f"| neither plugin | {base * 1e3:.0f} ms | - | - |")
    for name, label in (("parscale", "pytest-parscale"), ("benchmark", "pytest-benchmark")):
        added = statistics.median(
            with_plugin - alone
            for with_plugin, alone in zip(times[name], times["neither"], strict=True)
        )
        own = statistics.median(times[name])
        print(f"| {label} only | {own * 1e3:.0f} ms | {added * 1e3:+.0f} ms | {own / base:.2f}x |")


if __name__ == "__main__":
    main()
