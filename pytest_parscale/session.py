"""Session state: live executors (one per backend and worker count) and records."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_parscale.backends.base import BACKENDS, EngineStart, cluster_address
from pytest_parscale.errors import BackendUnavailable, ParscaleError
from pytest_parscale.machine import fingerprint, git_state, usable_cores

if TYPE_CHECKING:
    from pytest_parscale.backends.base import Executor
    from pytest_parscale.config import Settings
    from pytest_parscale.family import Family
    from pytest_parscale.regression import TestChange
    from pytest_parscale.results import Record
    from pytest_parscale.storage import Results


class Executors:
    """Starts each (backend, workers) executor at most once and closes them all.

    A broken executor (hung or crashed worker) is discarded and the next test gets a
    fresh one; a start that failed is not retried, so every test that needs it
    fails fast with the same cause.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._live: dict[tuple[str, int], Executor] = {}
        self._failed: dict[tuple[str, int], str] = {}
        self.starts: list[EngineStart] = []

    def on_cluster(self, backend: str) -> bool:
        """True when the user named a running engine for ``backend`` (an address)."""
        return cluster_address(backend, self._settings) is not None

    def holds(self, backend: str) -> bool:
        """Whether an engine of ``backend`` this session started is live."""
        return any(key[0] == backend for key in self._live)

    def _key(self, backend: str, workers: int) -> tuple[str, int]:
        # A cluster has the size it has: one connection serves every worker count.
        return (backend, 0) if self.on_cluster(backend) else (backend, workers)

    def get(self, backend: str, workers: int) -> Executor:
        key = self._key(backend, workers)
        if key in self._live:
            executor = self._live[key]
            if getattr(executor, "alive", lambda: True)():
                return executor
            self.discard(backend, workers)  # it stopped by itself: start another
        if key in self._failed:
            raise BackendUnavailable(self._failed[key])
        info = BACKENDS[backend]
        if info.exclusive:
            self.close_backend(backend)
        started = time.perf_counter()
        try:
            executor = info.start(workers, self._settings)
        except (Exception, SystemExit) as error:  # ray.init exits when its GCS never answers
            reason = f"could not start backend {backend!r} with {workers} workers: {error}"
            self._failed[key] = reason
            raise BackendUnavailable(reason) from error
        seconds = time.perf_counter() - started
        self._live[key] = executor
        self.starts.append(EngineStart(backend, executor.workers, seconds, executor.describe()))
        return executor

    def discard(self, backend: str, workers: int) -> None:
        executor = self._live.pop(self._key(backend, workers), None)
        if executor is not None:
            executor.close()

    def user_celery_worker_ended(self) -> None:
        """Close the embedded Celery worker after a user's ``celery_worker`` ended.

        celery.contrib.pytest ends its worker with a flag that every worker loop of
        the process obeys for a moment; ours may have seen it and not yet begun to
        stop, and a map on it would then fail as a crash. A fresh start is certain.
        """
        if not self.on_cluster("celery"):
            self.close_backend("celery")

    def close_backend(self, backend: str) -> None:
        for key in [key for key in self._live if key[0] == backend]:
            self.discard(*key)

    def close_all(self) -> None:
        errors = []
        for key in list(self._live):
            try:
                self.discard(*key)
            except Exception as error:  # keep closing the others
                errors.append(f"{key[0]}: {error}")
        if errors:
            raise BackendUnavailable("closing executors failed: " + "; ".join(errors))


class UserEngine:
    """An engine the test's own fixtures started (pytest_parscale/engines.py), as the
    fixture's executor source: adopted once per test, never started or stopped.

    Adopting is cheap (a few no-op tasks time the per-task cost) and per test, so a
    function-scoped worker or client that is gone after its test is never reused.
    Each distinct engine is listed once among the session's engines.
    """

    def __init__(self, backend: str, adopt: Callable[[], Executor], starts: list[EngineStart]):
        self.backend = backend
        self._adopt = adopt
        self._starts = starts
        self._executor: Executor | None = None

    def get(self, backend: str, workers: int) -> Executor:
        if self._executor is None:
            started = time.perf_counter()
            try:
                executor = self._adopt()
            except ParscaleError:  # a refusal names what to change: keep its words
                raise
            except Exception as error:
                raise BackendUnavailable(
                    f"could not use the {backend} engine your fixtures started: "
                    f"{type(error).__name__}: {error}"
                ) from error
            seconds = time.perf_counter() - started
            details = executor.describe()
            same = (details.get("engine"), details.get("config"))
            if not any(
                (s.details.get("engine"), s.details.get("config")) == same for s in self._starts
            ):
                self._starts.append(EngineStart(backend, executor.workers, seconds, details))
            self._executor = executor
        return self._executor

    def on_cluster(self, backend: str) -> bool:
        return True  # it has the size it has: the fixture re-plans on it

    def discard(self, backend: str, workers: int) -> None:
        """Let go of the engine (a client we opened on it is closed); it keeps running."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.close()


class ParscaleSession:
    """What one pytest session measured, and the executors it measured with."""

    def __init__(self, settings: Settings, rootdir: Path | None = None) -> None:
        self.settings = settings
        self.usable_cores = usable_cores()
        self.executors = Executors(settings)
        self.records: list[Record] = []
        self._machine: dict[str, Any] | None = None
        self._results: dict[str, Any] | None = None
        self.rootdir = rootdir
        self.baseline: Results | None = None  # loaded at startup by --parscale-compare
        self.changes: list[TestChange] = []  # each measured test against the baseline
        self.writes_results = True  # False on xdist workers and controllers
        # one family per run (family.py): the comparisons expected at collection, each
        # test's comparison before any family rule, and what the whole family said
        self.failures: dict[str, str] = {}  # measured tests that failed: the first line
        self.family_members = 0
        self.judged: list[TestChange] = []
        self.family: Family | None = None
        self.called_at_end: list[str] = []

    def errors(self) -> dict[str, str]:
        """Measured tests that failed without leaving a record (item 7 of issue 21)."""
        recorded = {record.nodeid for record in self.records}
        return {nodeid: text for nodeid, text in self.failures.items() if nodeid not in recorded}

    def judge(self, change: TestChange) -> TestChange:
        """A test's comparison as the session can judge it when the test ends: at the
        family's first step over the comparisons collected (family.judge_first_step)."""
        from pytest_parscale.family import judge_first_step

        self.judged.append(change)
        members = max(self.family_members, len(change.changes), 1)
        settings = self.settings
        judged = judge_first_step(change, members, settings.family, settings.confidence)
        self.changes.append(judged)
        return judged

    def settle_family(self) -> None:
        """Judge the session's comparisons as one family, once, at the end.

        A test the whole family calls a regression but its first step did not (Holm
        and BH call more than alpha / m) lands in ``called_at_end``: it passed as a
        test, and fails the session.
        """
        if self.family is not None or self.baseline is None:
            return
        from pytest_parscale.family import apply_family
        from pytest_parscale.regression import errored

        early = {test.nodeid for test in self.changes if test.status.value == "regression"}
        final, self.family = apply_family(
            self.judged, self.settings.family, self.settings.confidence
        )
        errors = self.errors()
        for nodeid in errors:  # measured in the baseline, failed here without a record
            failed = errored(self.baseline.records.get(nodeid), None, {}, errors)
            if failed is not None:
                final.insert(0, failed)
        self.changes = final
        self.called_at_end = [
            test.nodeid
            for test in final
            if test.status.value == "regression" and test.nodeid not in early
        ]

    def machine(self) -> dict[str, Any]:
        if self._machine is None:
            self._machine = fingerprint()
        return self._machine

    def add(self, record: Record) -> None:
        self.records.append(record)
        self._results = None

    def results(self) -> dict[str, Any]:
        """The results document; built once the records stop changing (git is a subprocess)."""
        if self._results is None:
            engines = [
                {
                    "backend": s.backend,
                    "workers": s.workers,
                    "start_seconds": s.seconds,
                    **s.details,
                }
                for s in self.executors.starts
            ]
            from pytest_parscale.results import document

            git = git_state(self.rootdir) if self.rootdir is not None else None
            errors = self.errors()
            self._results = document(self.records, self.machine(), engines, git, errors)
        return self._results

    def write_outputs(self) -> None:
        """The results file(s) and the HTML report, all from one results document."""
        writes = self.writes_results and (self.settings.json or self.settings.save)
        if not writes and not self.settings.html:
            return
        results = self.results()
        if writes and self.settings.save:
            from pytest_parscale.storage import save

            save(self.settings.save, results, overwrite=self.settings.save_overwrite)
        if writes and self.settings.json:
            from pytest_parscale.results import write_atomic

            write_atomic(Path(self.settings.json), results)
        if self.settings.html and self.records:
            from pytest_parscale.html import write_html_report
            from pytest_parscale.storage import from_document

            compared = self.changes if self.baseline is not None else None
            write_html_report(
                from_document(results, "this run"), self.settings.html, changes=compared
            )
