"""The zero-copy lines of the summary (report.notes), on synthetic records."""

from __future__ import annotations

import dataclasses

from pytest_parscale.report import crossovers, notes
from pytest_parscale.sizes import format_size
from tests.records import record

SIZES = (1_000, 100_000, 10_000_000)


def sized(size: int, pickled: float, shared: float) -> object:
    base = record(f"test_x.py::test_big[pool-{format_size(size)}]")
    zero_copy = {
        "method": "multiprocessing.shared_memory",
        "rounds": 3,
        "pickle_speedup": pickled,
        "shared_speedup": shared,
        "pickle_transport_share": 0.9,
        "shared_transport_share": 0.25,
    }
    return dataclasses.replace(
        base,
        item_size=size,
        speedup=dataclasses.replace(base.speedup, estimate=pickled),
        executor={**base.executor, "zero_copy": zero_copy},
    )


def test_crossover_both_ways() -> None:
    # Pickled never reaches 1.0; zero-copy crosses it between 100KB and 10MB.
    records = [
        sized(size, 0.3, shared) for size, shared in zip(SIZES, (0.2, 0.6, 1.8), strict=True)
    ]
    lines = crossovers(records)  # type: ignore[arg-type]
    assert any(line.startswith("crossover: test_x.py::test_big on pool (") for line in lines)
    [zero_copy] = [line for line in lines if "on pool zero-copy" in line]
    # a point estimate only (no interval for the zero-copy speedups): said, not hidden
    assert "not determined: near ~" in zero_copy


def test_the_zero_copy_line_says_both_speedups_and_shares() -> None:
    lines = notes([sized(100_000, 0.95, 1.8)], [])  # type: ignore[list-item]
    assert (
        "zero-copy: test_big[pool-100KB]: multiprocessing.shared_memory would give 1.80x "
        "(pickled: 0.95x, 3 rounds each); transport 90% pickled, 25% zero-copy"
    ) in lines
