"""The results table's columns: one definition for the terminal, Markdown and HTML.

Each column is its header, what it means, and its cell over a Record built with
``fmt``; the renderers (``report.table``, ``parscale show --markdown``, the HTML
report) only lay the cells out, so one figure reads the same everywhere. ``detail``
says more than fits in a cell (the interval behind a clipped efficiency, the full
test id); the HTML page shows it on hover, the other outputs leave it out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pytest_parscale import fmt
from pytest_parscale.sizes import format_size
from pytest_parscale.stats import Interval, median

if TYPE_CHECKING:
    from pytest_parscale.results import Record


@dataclass(frozen=True)
class Column:
    """One column of the results table."""

    header: str
    meaning: str
    cell: Callable[[Record], str]
    words: bool = False  # read left to right (names, labels): aligned left
    detail: Callable[[Record], str] | None = None  # more than the cell says, or ""


def efficiency_interval(record: Record) -> Interval:
    """Speedup per worker with the speedup's interval, each end divided by the workers."""
    speedup, workers = record.speedup, record.workers
    return Interval(
        speedup.estimate / workers,
        speedup.low / workers,
        speedup.high / workers,
        speedup.confidence,
    )


def _median_seconds(samples: Sequence[float]) -> str:
    return fmt.seconds(median(samples)) if samples else fmt.NONE


def _workers_detail(record: Record) -> str:
    said = f"{fmt.plural(record.workers, 'worker')} of {record.workers_requested} asked for"
    if record.workers < record.workers_requested:
        said += ", capped at the usable cores"
    if record.oversubscribed:
        said += ", more than the usable cores (oversubscribed)"
    return said


def share_text(record: Record | None) -> str:
    """A record's transport share, ``-`` where it has none (or there is no record)."""
    share = record.transport_share if record is not None else None
    return fmt.clipped_fraction(share.estimate) if share is not None else fmt.NONE


def size_text(record: Record) -> str:
    """A record's item size, ``-`` where the test gave none."""
    return format_size(record.item_size) if record.item_size is not None else fmt.NONE


def _transport_detail(record: Record) -> str:
    share = record.transport_share
    return fmt.clipped_percent(share) if share is not None else ""


def _capacity_detail(record: Record) -> str:
    measured = record.capacity
    if measured is None:
        return "not measured"
    return f"{fmt.capacity_words(measured)} usable cores, the median over its rounds"


TEST = Column(
    "test",
    "the test id without its file",
    lambda record: fmt.short_id(record.nodeid),
    words=True,
    detail=lambda record: record.nodeid,
)
BACKEND = Column("backend", "the executor", lambda record: record.backend, words=True)
WORKERS = Column(
    "workers",
    "workers used / asked for; ! marks more workers than usable cores (oversubscribed)",
    lambda record: fmt.workers(record.workers, record.workers_requested, record.oversubscribed),
    words=True,
    detail=_workers_detail,
)
SIZE = Column(
    "size",
    "bytes per item, where the test said",
    size_text,
    words=True,
)
SERIAL = Column("serial", "median time of the serial rounds", lambda r: _median_seconds(r.serial))
PARALLEL = Column(
    "parallel", "median time of the parallel rounds", lambda r: _median_seconds(r.parallel)
)
SPEEDUP = Column(
    "speedup [CI]",
    "median serial / median parallel time, with its confidence interval",
    lambda record: fmt.speedup_interval(record.speedup),
)
EFFICIENCY = Column(
    "efficiency",
    "speedup per worker, clipped to 0-100% (the raw figure beside it when it strays)",
    lambda record: fmt.clipped_fraction(record.efficiency),
    detail=lambda record: fmt.clipped_percent(efficiency_interval(record)),
)
TRANSPORT = Column(
    "transport share",
    "share of the parallel time spent moving items and results, where measured",
    share_text,
    detail=_transport_detail,
)
CAPACITY = Column(
    "capacity",
    "cores the measurement had, of the usable cores",
    lambda record: fmt.capacity(record.capacity),
    detail=_capacity_detail,
)
VERDICT = Column("verdict", "against the test's own requirements", lambda r: r.verdict, words=True)


def columns(records: Sequence[Record]) -> list[Column]:
    """The columns for these records: capacity once any of them measured it."""
    chosen = [TEST, BACKEND, WORKERS, SIZE, SERIAL, PARALLEL, SPEEDUP, EFFICIENCY, TRANSPORT]
    if any(record.capacity is not None for record in records):
        chosen.append(CAPACITY)
    return [*chosen, VERDICT]


def cells(chosen: Sequence[Column], record: Record) -> list[str]:
    """One row of the table: each column's cell for ``record``."""
    return [column.cell(record) for column in chosen]
