"""The ``parscale`` fixture object: payloads, ``map`` and ``measure``.

``map`` is ``measure`` with a serial loop and the backend's map as the two
callables, so both share one engine, one set of verdicts and one record format.
The fixture gets narrow collaborators (where executors come from, where
finished records go) rather than the whole session; the data flow
is in docs/architecture.md.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from pytest_parscale import capacity, deadline
from pytest_parscale import measure as engine
from pytest_parscale.backends import zerocopy
from pytest_parscale.checking import Check, check_lists, check_whole, comparer
from pytest_parscale.engines import task_map_parts
from pytest_parscale.errors import ConfigError, ParscaleWarning, ResultMismatch, ShippingError
from pytest_parscale.machine import usable_cores
from pytest_parscale.parallel import (
    ParallelRunner,
    chunk_advice,
    memory_problem,
    run_serial,
    transport_run,
    zero_copy,
)
from pytest_parscale.parametrize import adopt_cluster
from pytest_parscale.payloads import KINDS, payload
from pytest_parscale.record import build_record, ending, requirements_for, verdict_intervals
from pytest_parscale.sizes import approx_size, format_size
from pytest_parscale.transport import serialisation_cost
from pytest_parscale.verdicts import Verdict

if TYPE_CHECKING:
    from pytest_parscale.backends.base import Executor
    from pytest_parscale.config import Settings
    from pytest_parscale.parametrize import ParscaleParam
    from pytest_parscale.results import Record
    from pytest_parscale.thresholds import FailOn
    from pytest_parscale.transport import SerialisationCost

    Comparer = Callable[[Any, Any], str | None]

__all__ = ["ExecutorSource", "Parscale", "Thresholds", "run_serial"]


class ExecutorSource(Protocol):
    """Where the fixture gets warm executors (session.Executors in the plugin)."""

    def get(self, backend: str, workers: int) -> Executor: ...

    def on_cluster(self, backend: str) -> bool: ...

    def discard(self, backend: str, workers: int) -> None: ...


@dataclass(frozen=True)
class Thresholds:
    """This test's own --parscale-fail-on (from its marker) and the complete set.

    Per metric: marker > CLI > env > ini > default (thresholds.effective_fail_on).
    """

    own: FailOn
    effective: FailOn


class Parscale:
    """What a parscale test sees: where it runs, and how to measure there."""

    def __init__(
        self,
        *,
        nodeid: str,
        param: ParscaleParam,
        settings: Settings,
        executors: ExecutorSource,
        add_record: Callable[[Record], None],
        thresholds: Thresholds,
    ) -> None:
        self.nodeid = nodeid
        self._param = param
        self._spec = param.spec
        self._settings = settings
        self._executors = executors
        self._add_record = add_record
        self.thresholds = thresholds
        self._runner: ParallelRunner | None = None
        self._used: str | None = None
        self.record: Record | None = None
        self._capacity: capacity.Probe | None = None

    # -- what the test reads -------------------------------------------------

    @property
    def backend(self) -> str:
        return self._param.backend

    @property
    def item_size(self) -> int | None:
        return self._param.item_size

    @property
    def workers(self) -> int:
        return self._param.plan.workers

    @property
    def requested_workers(self) -> int:
        return self._param.plan.requested

    @property
    def disabled(self) -> bool:
        return self._settings.disable

    @property
    def executor(self) -> Any:
        """The engine object (Pool, ProcessPoolExecutor, Dask Client...) for ``measure``."""
        return self._live().executor.native

    def payloads(self, count: int, size: int | None = None, kind: str = "bytes") -> list[Any]:
        """``count`` deterministic items of ``kind`` whose pickled size is ``size``
        (default: this test's size); kind is "bytes", "ndarray" or "dataframe"."""
        size = self.item_size if size is None else size
        _check_payloads(self.nodeid, count, size, kind, self._settings)
        assert size is not None  # checked
        return [payload(kind, size, index) for index in range(count)]

    # -- measuring ------------------------------------------------------------

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Iterable[Any],
        *,
        chunksize: int | None = None,
        check: Check = True,
        share: bool = False,
    ) -> list[Any]:
        """Run fn over items serially and on the backend, check, measure, return results.

        ``check`` compares each item's results as ``measure``'s does (README, "Results").
        ``share`` also times the map with the items shipped zero-copy (README, "Zero-copy").
        """
        self._claim("map")
        items = list(items)
        compare = comparer(check, f"{self.nodeid}: parscale.map() check")
        if share and not self.disabled:
            reason = zerocopy.unsupported(self.backend, items)
            if reason is not None:
                pytest.skip(f"share=True: {reason}")
        if chunksize is not None and (isinstance(chunksize, bool) or chunksize < 1):
            raise ConfigError(f"{self.nodeid}: parscale.map() chunksize", chunksize, "is not >= 1")
        if self.disabled:
            return run_serial(fn, items)
        runner = self._live()
        executor = runner.executor
        reference, compare = _map_parts(fn, items, runner, self._settings, compare)
        timeout = self._settings.timeout
        transport = None
        if self._spec.overhead is not None or self.item_size is not None:
            transport = transport_run(runner, reference, items, chunksize, timeout)
        outcome = self._run(
            deadline.bounded(
                functools.partial(run_serial, reference, items), timeout, "the serial reference"
            ),
            runner.map(fn, items, chunksize, timeout, name_items=True),
            transport=transport,
            check=functools.partial(check_lists, compare=compare),
        )
        result = outcome.result
        serializer = executor.serializer()
        cost = None if serializer is None else serialisation_cost(*serializer, items, result)
        record = self._build(
            outcome,
            kind="map",
            item_count=len(items),
            chunksize=executor.effective_chunksize(len(items), chunksize),
            serialisation=cost,
        )
        _with_extras(record, self._publish, runner, fn, items, self._settings, compare, share)
        return list(result)

    def measure(
        self,
        *,
        serial: Callable[[], Any],
        parallel: Callable[[], Any],
        transport: Callable[[], Any] | None = None,
        check: Check = True,
    ) -> Any:
        """Measure any serial/parallel pair; returns the parallel result.

        ``check`` compares the two results: True (by type, README "Results"), False,
        your predicate, or a tolerance ``{"rel": .., "abs": ..}``;
        ``transport`` is needed only by the overhead marker: the same parallel
        dispatch with the work taken out.
        """
        self._claim("measure")
        if self.disabled:
            return serial()
        if self._spec.overhead is not None and transport is None:
            raise ConfigError(
                f"{self.nodeid}: parscale.measure()",
                None,
                "is not a transport callable; @pytest.mark.overhead needs transport=",
            )
        compare = comparer(check, f"{self.nodeid}: parscale.measure() check")
        runner = self._live()
        outcome = self._run(
            deadline.bounded(serial, self._settings.timeout, "the serial callable"),
            lambda: runner(parallel),
            transport=transport,
            check=functools.partial(check_whole, compare=compare),
        )
        self._publish(self._build(outcome, kind="measure", item_count=None, chunksize=None))
        return outcome.result

    # -- internals ------------------------------------------------------------

    def _claim(self, what: str) -> None:
        if self._used is not None:
            raise ConfigError(
                f"{self.nodeid}: parscale.{what}()",
                what,
                f"is a second measurement; parscale.{self._used}() already ran "
                "(one measured call per test)",
            )
        self._used = what

    def start(self) -> None:
        """Start (or reuse) the executor, outside the test's own time."""
        self._live()

    def _live(self) -> ParallelRunner:
        if self._runner is None:
            executor = self._executors.get(self.backend, self.workers)
            if self._executors.on_cluster(self.backend):
                self._param = _on_cluster(self._param, self._settings, executor)
            self._runner = ParallelRunner(executor, self.backend, self.workers, self._discard)
        return self._runner

    def _discard(self) -> None:
        """Drop a broken executor: the next test (or call) gets a fresh one."""
        self._executors.discard(self.backend, self.workers)
        self._runner = None

    @property
    def _probe(self) -> capacity.Probe:
        """How many cores each round actually had (docs/measurement.md)."""
        if self._capacity is None:
            self._capacity = capacity.Probe(usable_cores())
        return self._capacity

    def _quiet_wait(self) -> float:
        """Let a previous engine's exiting processes settle before the warm-up."""
        return capacity.quiet_wait(self._settings.quiet_wait, probe=self._probe)

    def _run(
        self,
        serial: Callable[[], Any],
        parallel: Callable[[], Any],
        *,
        transport: Callable[[], Any] | None,
        check: Callable[[Any, Any], None],
    ) -> engine.Outcome:
        """Interleaved rounds until every bar is decided (sequential.py keeps their level)."""
        requirements = requirements_for(self._param, self._spec)
        confidence = self._settings.confidence

        def decided(samples: engine.Samples) -> bool:
            intervals = verdict_intervals(samples, confidence)
            return all(
                req.judge(intervals[req.metric]) is not Verdict.UNDECIDED for req in requirements
            )

        settings = self._settings
        limits = engine.Limits(settings.min_rounds, settings.max_rounds, settings.max_time)
        runner = self._live()
        mismatch: str | None = None
        try:
            outcome = engine.run(
                serial,
                parallel,
                limits=limits,
                check=check,
                decided=decided,
                transport=transport,
                quiet=self._quiet_wait,
                probe=self._probe,
            )
        except ResultMismatch as error:
            mismatch = f"{error} {runner.where()}"
        if mismatch is not None:
            pytest.fail(mismatch, pytrace=False)
        change = runner.cluster_change()
        if change is not None:
            self._discard()
            pytest.fail(
                f"{change} during the measurement {runner.where()}: "
                "some rounds ran on a different cluster than the one reported, so no "
                "verdict; the next test connects again and uses the cluster as it is then",
                pytrace=False,
            )
        return outcome

    def _build(
        self,
        outcome: engine.Outcome,
        *,
        kind: str,
        item_count: int | None,
        chunksize: int | None,
        serialisation: SerialisationCost | None = None,
    ) -> Record:
        runner = self._runner
        return build_record(
            nodeid=self.nodeid,
            param=self._param,
            outcome=outcome,
            requirements=requirements_for(self._param, self._spec),
            confidence=self._settings.confidence,
            kind=kind,
            item_count=item_count,
            chunksize=chunksize,
            executor=runner.executor.describe() if runner is not None else {},
            strict=self._settings.strict,
            serialisation=serialisation,
            fail_on=str(self.thresholds.own) or None,  # saved: `parscale compare` applies it
            usable=self._probe.cores,
        )

    def _publish(self, record: Record) -> None:
        """Hand the finished record over; it is never changed after this."""
        self.record = record
        self._add_record(record)

    def finish(self) -> None:
        """Called after the test body: turn the verdicts into a failure or a warning."""
        marked = self._spec.speedup is not None or self._spec.overhead is not None
        if self.record is None:
            if marked and not self.disabled and self._used is None:
                pytest.fail(
                    f"{self.nodeid} has a speedup/overhead marker but never called "
                    "parscale.map() or parscale.measure()",
                    pytrace=False,
                )
            return
        failure, warning = ending(self.record, self._settings.strict)
        if failure:
            pytest.fail(failure, pytrace=False)
        if warning:
            warnings.warn(
                ParscaleWarning(f"undecided after {self.record.rounds} rounds: {warning}"),
                stacklevel=1,
            )


def _on_cluster(param: ParscaleParam, settings: Settings, executor: Executor) -> ParscaleParam:
    """The run planned again on the size of the user's cluster (or skipped there)."""
    described = executor.describe()
    where = described.get("where") or f"the {param.backend} cluster at {described.get('engine')}"
    adopted, skip = adopt_cluster(param, settings, executor.workers, where)
    if skip is not None:
        pytest.skip(skip)
    return adopted


def _check_payloads(
    nodeid: str, count: int, size: int | None, kind: str, settings: Settings
) -> None:
    """``parscale.payloads()``'s arguments, and its memory under --parscale-memory-limit."""
    if kind not in KINDS:
        raise ConfigError(f"{nodeid}: parscale.payloads() kind", kind, f"is not one of {KINDS}")
    if size is None:
        raise ConfigError(
            f"{nodeid}: parscale.payloads()",
            size,
            "is not a size: pass size= or give @pytest.mark.parscale(item_sizes=[...])",
        )
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ConfigError(f"{nodeid}: parscale.payloads() count", count, "is not >= 0")
    limit = settings.memory_limit
    if limit is not None and count * size > limit:
        pytest.fail(
            f"parscale.payloads({count}) of {format_size(size)} would take "
            f"{approx_size(count * size)} > {settings.source_of('memory_limit')} "
            f"{approx_size(limit)}",
            pytrace=False,
        )


def _map_parts(
    fn: Callable[[Any], Any],
    items: list[Any],
    runner: ParallelRunner,
    settings: Settings,
    compare: Comparer,
) -> tuple[Callable[[Any], Any], Comparer]:
    """What the serial reference calls (a Celery task's own function) and how results
    compare; the test fails first when fn cannot be shipped or the map would not fit."""
    problem = None
    reference = fn
    try:
        reference, compare = task_map_parts(fn, runner.backend, runner.executor, compare)
        runner.executor.check_shippable(fn)
    except ShippingError as error:
        problem = str(error)
    if problem is None:
        problem = memory_problem(reference, items, settings, runner.where())
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    return reference, compare


def _with_extras(
    record: Record,
    publish: Callable[[Record], None],
    runner: ParallelRunner,
    fn: Callable[[Any], Any],
    items: list[Any],
    settings: Settings,
    compare: Comparer,
    share: bool,
) -> None:
    """Add the zero-copy run (``share``) and the chunk advice to a map's record, then
    publish it; a failed advice or zero-copy run still keeps the measurement."""
    finished = record
    try:
        if share:
            shared = zero_copy(runner, fn, items, record, settings, compare)
            finished = dataclasses.replace(
                finished, executor={**finished.executor, "zero_copy": shared}
            )
        advice = chunk_advice(runner, fn, items, record, settings, compare)
        if advice is not None:
            finished = dataclasses.replace(finished, chunk_advice=advice)
    finally:
        publish(finished)
