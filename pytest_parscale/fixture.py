"""The ``parscale`` fixture object: payloads, ``map`` and ``measure``.

``map`` is ``measure`` with a serial loop and the backend's map as the two
callables, so both share one engine, one set of verdicts and one record format.
"""

from __future__ import annotations

import dataclasses
import functools
import pickle
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from pytest_parscale import deadline
from pytest_parscale import measure as engine
from pytest_parscale.backends import zerocopy
from pytest_parscale.checking import Check, check_lists, check_whole, comparer
from pytest_parscale.errors import (
    ConfigError,
    MapTimeout,
    ParscaleWarning,
    ResultMismatch,
    ShippingError,
    WorkerCrashed,
)
from pytest_parscale.parametrize import plan_cluster
from pytest_parscale.payloads import KINDS, payload
from pytest_parscale.regression import still_uncertain
from pytest_parscale.report import describe_run, requirement_line
from pytest_parscale.results import ChunkAdvice, Projection, Record, RequirementResult
from pytest_parscale.sizes import approx_size, format_size
from pytest_parscale.stats import Interval, amdahl_speedup, karp_flatt, median, ratio_of_medians_ci
from pytest_parscale.thresholds import FailOn, effective_fail_on
from pytest_parscale.transport import (
    TransportStub,
    first_unshippable,
    mean_payload,
    serialisation_cost,
)
from pytest_parscale.verdicts import Requirement, Verdict, combine

if TYPE_CHECKING:
    from pytest_parscale.backends.base import Executor
    from pytest_parscale.config import Settings
    from pytest_parscale.markers import MarkSpec
    from pytest_parscale.parametrize import ParscaleParam
    from pytest_parscale.session import ParscaleSession


def run_serial(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """The serial reference: a plain loop in the test process.

    ``list(map(...))`` keeps the loop itself as cheap as a hand-written one; when fn
    raises, a second pass finds the index so the failure can name the item.
    """
    try:
        return list(map(fn, items))
    except Exception as error:
        for index, item in enumerate(items):
            try:
                fn(item)
            except Exception:
                _annotate(error, f"parscale: fn raised on item {index} (serial reference)")
                raise
        raise


def _annotate(error: BaseException, note: str) -> None:
    add_note = getattr(error, "add_note", None)
    if add_note is not None:
        add_note(note)


class Parscale:
    """What a parscale test sees: where it runs, and how to measure there."""

    def __init__(
        self,
        *,
        nodeid: str,
        param: ParscaleParam,
        spec: MarkSpec,
        settings: Settings,
        session: ParscaleSession,
    ) -> None:
        self.nodeid = nodeid
        self.backend = param.backend
        self.item_size = param.item_size
        self.workers = param.plan.workers
        self.requested_workers = param.plan.requested
        self._plan = param.plan
        self._judged = param.judged
        self._sweep = param.sweep
        self._spec = spec
        self._settings = settings
        self._session = session
        self._executor: Executor | None = None
        self._used: str | None = None
        self.record: Record | None = None

    # -- what the test reads -------------------------------------------------

    @property
    def disabled(self) -> bool:
        return self._settings.disable

    @property
    def executor(self) -> Any:
        """The engine object (Pool, ProcessPoolExecutor, Dask Client...) for ``measure``."""
        return self._live_executor().native

    def payloads(self, count: int, size: int | None = None, kind: str = "bytes") -> list[Any]:
        """``count`` deterministic items of ``kind`` whose pickled size is ``size``
        (default: this test's size); kind is "bytes", "ndarray" or "dataframe"."""
        if kind not in KINDS:
            raise ConfigError(
                f"{self.nodeid}: parscale.payloads() kind", kind, f"is not one of {KINDS}"
            )
        size = self.item_size if size is None else size
        if size is None:
            raise ConfigError(
                f"{self.nodeid}: parscale.payloads()",
                size,
                "is not a size: pass size= or give @pytest.mark.parscale(item_sizes=[...])",
            )
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ConfigError(f"{self.nodeid}: parscale.payloads() count", count, "is not >= 0")
        limit = self._settings.memory_limit
        if limit is not None and count * size > limit:
            pytest.fail(
                f"parscale.payloads({count}) of {format_size(size)} would take "
                f"{approx_size(count * size)} > {self._settings.source_of('memory_limit')} "
                f"{approx_size(limit)}",
                pytrace=False,
            )
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
        executor = self._live_executor()
        problem = None
        try:
            executor.check_shippable(fn)
        except ShippingError as error:
            problem = str(error)
        if problem is None:
            problem = self._memory_problem(fn, items)
        if problem is not None:
            pytest.fail(problem, pytrace=False)
        timeout = self._settings.timeout

        def parallel() -> list[Any]:
            results: list[Any] = self._run_parallel(
                lambda: executor.map(fn, items, chunksize=chunksize, timeout=timeout), items
            )
            return results

        transport = None
        if self._spec.overhead is not None or self.item_size is not None:
            transport = self._transport_run(executor, fn, items, chunksize, timeout)
        result = self._measure(
            deadline.bounded(
                functools.partial(run_serial, fn, items), timeout, "the serial reference"
            ),
            parallel,
            transport=transport,
            check=functools.partial(check_lists, compare=compare),
            kind="map",
            item_count=len(items),
            chunksize=executor.effective_chunksize(len(items), chunksize),
        )
        record = self.record
        assert record is not None
        serializer = executor.serializer()
        if serializer is not None:
            cost = serialisation_cost(*serializer, items, result)
            record.executor["serialisation"] = dataclasses.asdict(cost)
        if share:
            record.executor["zero_copy"] = self._zero_copy(executor, fn, items, record, compare)
        advice = self._chunk_advice(executor, fn, items, record, compare)
        if advice is not None:
            record.chunk_advice = advice
        return list(result)

    def _memory_problem(self, fn: Callable[[Any], Any], items: list[Any]) -> str | None:
        """Refuse a map whose items and results would not fit --parscale-memory-limit.

        The test process holds the items, the serial results and the parallel
        results at once; results are estimated from fn on the first item, before any
        worker sends a byte back.
        """
        limit = self._settings.memory_limit
        if limit is None or not items:
            return None
        item_bytes = mean_payload(pickle.dumps, items) * len(items)
        result_bytes = len(pickle.dumps(run_serial(fn, items[:1])[0])) * len(items)
        needed = item_bytes + 2 * result_bytes
        if needed <= limit:
            return None
        return (
            f"this map would hold about {approx_size(needed)} in the test process "
            f"({approx_size(item_bytes)} of items, and twice {approx_size(result_bytes)} of "
            f"results estimated from item 0) > {self._settings.source_of('memory_limit')} "
            f"{approx_size(limit)} ({self.backend}, {self.workers} workers)"
        )

    def _zero_copy(
        self,
        executor: Executor,
        fn: Callable[[Any], Any],
        items: list[Any],
        record: Record,
        compare: Callable[[Any, Any], str | None],
    ) -> dict[str, Any]:
        """The pickled map and the zero-copy one, interleaved on the same warm executor
        (one task per item for both), as speedups over this test's serial median."""
        timeout = self._settings.timeout

        def pickled() -> Any:
            return self._run_parallel(
                lambda: executor.map(fn, items, chunksize=record.chunksize, timeout=timeout)
            )

        def shared() -> Any:
            return self._run_parallel(
                lambda: zerocopy.shared_map(executor, fn, items, timeout=timeout), items
            )

        transport = None
        if record.transport_share is not None:  # the pickled map's share was measured
            stub = self._transport_stub(executor, fn, items)

            def transport() -> Any:
                return self._run_parallel(
                    lambda: zerocopy.shared_map(executor, stub, items, timeout=timeout)
                )

        rounds = max(3, min(self._settings.min_rounds, 5))
        outcome = engine.run(
            pickled,
            shared,
            transport=transport,
            limits=engine.Limits(rounds, rounds, self._settings.max_time),
            check=functools.partial(check_lists, compare=compare),
            decided=lambda samples: False,
        )
        samples = outcome.samples
        serial_median = median(record.serial)
        found: dict[str, Any] = {
            "method": zerocopy.METHODS[self.backend],
            "rounds": len(samples.parallel),
            "pickle_speedup": serial_median / median(samples.serial),
            "shared_speedup": serial_median / median(samples.parallel),
        }
        if record.transport_share is not None and samples.transport:
            found["pickle_transport_share"] = record.transport_share.estimate
            found["shared_transport_share"] = median(samples.transport) / median(samples.parallel)
        return found

    def _chunk_advice(
        self,
        executor: Executor,
        fn: Callable[[Any], Any],
        items: list[Any],
        record: Record,
        compare: Callable[[Any, Any], str | None],
    ) -> ChunkAdvice | None:
        """When transport dominates, time the seed's chunksize rule against the one used.

        The rule is ``len(items) // (4 * workers)``; both maps are interleaved for a
        few rounds on the same warm executor and reported with their speedups.
        """
        share = record.transport_share
        suggested = max(1, len(items) // (4 * self.workers))
        used = record.chunksize
        honours = executor.effective_chunksize(len(items), suggested) == suggested
        struggling = record.speedup.estimate < 1 or (share is not None and share.estimate > 0.5)
        if not struggling or not honours or used == suggested:
            return None
        timeout = self._settings.timeout

        def with_chunks(size: int | None) -> Callable[[], Any]:
            return lambda: self._run_parallel(
                lambda: executor.map(fn, items, chunksize=size, timeout=timeout)
            )

        rounds = min(self._settings.min_rounds, 3)
        outcome = engine.run(
            with_chunks(used if used else None),
            with_chunks(suggested),
            limits=engine.Limits(rounds, rounds, self._settings.max_time),
            check=functools.partial(check_lists, compare=compare),
            decided=lambda samples: False,
        )
        serial_median = median(record.serial)
        current = serial_median / median(outcome.samples.serial)
        better = serial_median / median(outcome.samples.parallel)
        return ChunkAdvice(used, suggested, current, better, better > current * 1.1)

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
        compare_results = comparer(check, f"{self.nodeid}: parscale.measure() check")
        if self.disabled:
            return serial()
        if self._spec.overhead is not None and transport is None:
            raise ConfigError(
                f"{self.nodeid}: parscale.measure()",
                None,
                "is not a transport callable; @pytest.mark.overhead needs transport=",
            )
        self._live_executor()

        return self._measure(
            deadline.bounded(serial, self._settings.timeout, "the serial callable"),
            lambda: self._run_parallel(parallel),
            transport=transport,
            check=functools.partial(check_whole, compare=compare_results),
            kind="measure",
            item_count=None,
            chunksize=None,
        )

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

    def _live_executor(self) -> Executor:
        if self._executor is None:
            executors = self._session.executors
            executor = executors.get(self.backend, self.workers)
            if executors.on_cluster(self.backend):
                self._adopt_cluster(executor)
            self._executor = executor
        return self._executor

    def _adopt_cluster(self, executor: Executor) -> None:
        """Run with the size of the cluster the user started, not this machine's cores.

        The marker's (or the command line's) worker count is what the bar was written
        for; a smaller cluster moves the bar like an undersized machine does.
        """
        size = executor.workers
        where = f"the {self.backend} cluster at {executor.describe().get('engine')}"
        if self._sweep:
            if self.requested_workers != size:
                pytest.skip(
                    f"{where} has {size} workers; a sweep runs on a cluster only at its size"
                )
            self._judged = True
            return
        settings = self._settings
        single = settings.workers[0] if settings.workers and len(settings.workers) == 1 else None
        asked = self._spec.workers or single or size
        plan = plan_cluster(asked, size, settings.undersized, where)
        if plan.skip_reason is not None:
            pytest.skip(plan.skip_reason)
        self._plan = plan
        self.workers = plan.workers
        self.requested_workers = plan.requested

    def _run_parallel(self, run: Callable[[], Any], items: Sequence[Any] = ()) -> Any:
        """Run one parallel pass; a broken executor is replaced and the test fails.

        When the pass fails the way serialisation fails, the items are checked with
        the backend's serialiser so the message names the item that cannot travel.
        """
        try:
            return run()
        except (WorkerCrashed, MapTimeout) as error:
            message, replace = f"{error} ({self.backend}, {self.workers} workers)", True
            change = self._cluster_change()
            if change is not None:
                message += f"; {change}"
        except (TypeError, AttributeError, pickle.PicklingError, ShippingError) as error:
            stuck = self._unshippable(items)
            if stuck is not None:
                message = stuck
            elif isinstance(error, ShippingError):
                message = f"{error} ({self.backend}, {self.workers} workers)"
            else:
                _annotate(error, f"parscale: raised in a {self.backend!r} worker")
                raise
            replace = False
        except Exception as error:
            _annotate(error, f"parscale: raised in a {self.backend!r} worker")
            raise
        if replace:
            self._session.executors.discard(self.backend, self.workers)
            self._executor = None
        pytest.fail(message, pytrace=False)

    def _cluster_change(self) -> str | None:
        """Who left or joined the user's cluster since we connected, or None."""
        executor = self._executor
        if executor is None:
            return None
        try:
            return executor.cluster_changes()
        except Exception as error:  # the cluster itself may be gone
            return f"the {self.backend} cluster did not list its members ({error})"

    def _unshippable(self, items: Sequence[Any]) -> str | None:
        serializer = self._executor.serializer() if self._executor is not None else None
        if serializer is None:
            return None
        found = first_unshippable(serializer[0], items)
        if found is None:
            return None
        index, error = found
        return (
            f"item {index} ({type(items[index]).__name__}) cannot be shipped to "
            f"{self.backend!r} workers: {error}. Send what it refers to instead "
            "(a path, the bytes, the parameters) and open it in the worker."
        )

    def _transport_run(
        self,
        executor: Executor,
        fn: Callable[[Any], Any],
        items: list[Any],
        chunksize: int | None,
        timeout: float,
    ) -> Callable[[], Any]:
        """The same map with fn replaced by a stub returning results of the same size."""
        stub = self._transport_stub(executor, fn, items)
        return lambda: self._run_parallel(
            lambda: executor.map(stub, items, chunksize=chunksize, timeout=timeout)
        )

    def _transport_stub(
        self, executor: Executor, fn: Callable[[Any], Any], items: list[Any]
    ) -> TransportStub:
        """A function that does no work and returns results as large as fn's."""
        serializer = executor.serializer()
        sample = items[:: max(1, len(items) // 64)][:64]
        dumps = serializer[0] if serializer else pickle.dumps
        result_bytes = mean_payload(dumps, run_serial(fn, sample)) - len(dumps(b""))
        return TransportStub(max(0, int(result_bytes)))

    def _requirements(self) -> list[Requirement]:
        found: list[Requirement] = []
        if not self._judged:
            return found
        speedup = self._spec.speedup
        if speedup is not None and (
            speedup.from_size is None
            or self.item_size is None
            or self.item_size >= speedup.from_size
        ):
            found.append(Requirement("speedup", speedup.min * self._plan.scale, speedup.min, True))
        if self._spec.overhead is not None:
            maximum = self._spec.overhead.max
            found.append(Requirement("overhead", maximum, maximum, False))
        return found

    def _intervals(self, samples: engine.Samples) -> dict[str, Interval]:
        confidence = self._settings.confidence
        found = {
            "speedup": ratio_of_medians_ci(samples.serial, samples.parallel, confidence=confidence)
        }
        if samples.transport:
            found["overhead"] = ratio_of_medians_ci(
                samples.transport, samples.parallel, confidence=confidence
            )
        return found

    def baseline_thresholds(self) -> tuple[FailOn, FailOn]:
        """This test's own --parscale-fail-on (from its marker) and the complete set.

        Per metric: marker > CLI > env > ini > default.
        """
        own: FailOn = (self._spec.parscale.settings or {}).get("fail_on", FailOn())
        return own, effective_fail_on(own, self._session.settings.fail_on)

    def _baseline_unsettled(self) -> Callable[[engine.Samples], bool]:
        """Whether the change against --parscale-compare's record is still uncertain.

        An uncertain change (beyond the threshold, interval still containing "no
        change") earns more rounds within the time budget, as an undecided verdict does.
        """
        baseline = self._session.baseline
        base = baseline.records.get(self.nodeid) if baseline is not None else None
        if base is None:
            return lambda samples: False
        thresholds = self.baseline_thresholds()[1]
        confidence = self._settings.confidence

        def unsettled(samples: engine.Samples) -> bool:
            return still_uncertain(
                base,
                samples.serial,
                samples.parallel,
                samples.transport,
                self.workers,
                thresholds,
                confidence=confidence,
            )

        return unsettled

    def _measure(
        self,
        serial: Callable[[], Any],
        parallel: Callable[[], Any],
        *,
        transport: Callable[[], Any] | None,
        check: Callable[[Any, Any], None],
        kind: str,
        item_count: int | None,
        chunksize: int | None,
    ) -> Any:
        requirements = self._requirements()

        unsettled = self._baseline_unsettled()

        def decided(samples: engine.Samples) -> bool:
            intervals = self._intervals(samples)
            return all(
                req.judge(intervals[req.metric]) is not Verdict.UNDECIDED for req in requirements
            ) and not unsettled(samples)

        settings = self._settings
        limits = engine.Limits(settings.min_rounds, settings.max_rounds, settings.max_time)
        mismatch: str | None = None
        try:
            outcome = engine.run(
                serial, parallel, limits=limits, check=check, decided=decided, transport=transport
            )
        except ResultMismatch as error:
            mismatch = f"{error} ({self.backend}, {self.workers} workers)"
        if mismatch is not None:
            pytest.fail(mismatch, pytrace=False)
        change = self._cluster_change()
        if change is not None:
            self._session.executors.discard(self.backend, self.workers)
            self._executor = None
            pytest.fail(
                f"{change} during the measurement ({self.backend}, {self.workers} workers): "
                "some rounds ran on a different cluster than the one reported, so no "
                "verdict; the next test connects again and uses the cluster as it is then",
                pytrace=False,
            )
        self.record = self._record(outcome, requirements, kind, item_count, chunksize)
        self._session.add(self.record)
        return outcome.result

    def _record(
        self,
        outcome: engine.Outcome,
        requirements: list[Requirement],
        kind: str,
        item_count: int | None,
        chunksize: int | None,
    ) -> Record:
        samples = outcome.samples
        intervals = self._intervals(samples)
        speedup = intervals["speedup"]
        serial_fraction = None
        projection = None
        if self.workers >= 2 and speedup.estimate > 0:
            serial_fraction = karp_flatt(speedup.estimate, self.workers)
            if self.requested_workers > self.workers:
                projection = Projection(
                    self.requested_workers,
                    amdahl_speedup(serial_fraction, self.requested_workers),
                    serial_fraction,
                    self.workers,
                )
        judged = [
            RequirementResult(
                req.metric, req.threshold, req.declared, req.judge(intervals[req.metric]).value
            )
            for req in requirements
        ]
        executor = self._executor
        details = executor.describe() if executor is not None else {}
        return Record(
            nodeid=self.nodeid,
            backend=self.backend,
            kind=kind,
            workers_requested=self.requested_workers,
            workers=self.workers,
            oversubscribed=self._plan.oversubscribed,
            item_size=self.item_size,
            item_count=item_count,
            chunksize=chunksize,
            serial=samples.serial,
            parallel=samples.parallel,
            transport=samples.transport,
            speedup=speedup,
            transport_share=intervals.get("overhead"),
            efficiency=speedup.estimate / self.workers,
            karp_flatt=serial_fraction,
            projection=projection,
            requirements=judged,
            verdict=combine(Verdict(result.verdict) for result in judged).value,
            rounds=samples.rounds,
            elapsed=outcome.elapsed,
            warmup_seconds=outcome.warmup_seconds,
            stop_reason=outcome.stop_reason,
            executor=details,
        )

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
        record = self.record
        where = describe_run(record)
        failed = [r for r in record.requirements if r.verdict == Verdict.FAIL.value]
        open_ = [r for r in record.requirements if r.verdict == Verdict.UNDECIDED.value]
        if failed:
            pytest.fail(
                "\n".join(requirement_line(record, r, where) for r in failed), pytrace=False
            )
        if open_:
            text = "; ".join(requirement_line(record, r, where) for r in open_)
            if self._settings.strict:
                pytest.fail(f"undecided under --parscale-strict: {text}", pytrace=False)
            record.warnings.append(text)
            warnings.warn(
                ParscaleWarning(f"undecided after {record.rounds} rounds: {text}"), stacklevel=1
            )
