"""pytest entry point: options, markers, the ``parscale`` fixture and a few hooks.

Thin on purpose: settings live in config.py, markers in markers.py, measuring in
fixture.py and measure.py, executors in backends/. Only what option parsing,
collection and the fixture need is imported here; the reports, the baseline
comparison and storage load when a session ends or --parscale-compare asks for them
(docs/architecture.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_parscale import xdist_support
from pytest_parscale.adoption import for_user_worker
from pytest_parscale.backends.base import BACKENDS
from pytest_parscale.config import OPTIONS, Settings, resolve
from pytest_parscale.engines import CELERY_WORKER_FIXTURES
from pytest_parscale.errors import BaselineError, ConfigError, ParscaleError
from pytest_parscale.machine import xdist_role
from pytest_parscale.markers import MARKER_HELP, check_backends, spec_of
from pytest_parscale.parametrize import ParscaleParam, expand, settings_for_test
from pytest_parscale.session import ParscaleSession
from pytest_parscale.thresholds import FailOn, effective_fail_on

if TYPE_CHECKING:
    from pytest_parscale.fixture import ExecutorSource, Parscale
    from pytest_parscale.storage import Results

session_key = pytest.StashKey[ParscaleSession]()
last_use_key = pytest.StashKey[dict[str, list[tuple[str, int]]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("parscale", "parallel-performance testing (pytest-parscale)")
    for option in OPTIONS:
        dest = "parscale_" + option.name
        if option.flag:
            group.addoption(
                option.cli,
                action="store_const",
                const=True,
                default=None,
                dest=dest,
                help=option.help.replace("%", "%%"),
            )
        else:
            group.addoption(
                option.cli, default=None, dest=dest, help=option.help.replace("%", "%%")
            )
        parser.addini(option.ini, option.help, default="")


def _settings(config: pytest.Config) -> Settings:
    cli = {option.name: config.getoption("parscale_" + option.name) for option in OPTIONS}
    ini = {option.name: str(config.getini(option.ini)) for option in OPTIONS}
    settings = resolve(cli, os.environ, ini)
    if settings.backends is not None:
        check_backends(settings.backends, settings.source_of("backends"))
    return settings


def pytest_configure(config: pytest.Config) -> None:
    for text in MARKER_HELP.values():
        config.addinivalue_line("markers", text)
    try:
        settings = _settings(config)
    except ConfigError as error:
        raise pytest.UsageError(f"pytest-parscale: {error}") from None
    session = ParscaleSession(settings, config.rootpath)
    config.stash[session_key] = session
    role = xdist_role(getattr(config, "workerinput", None), os.environ, config.option)
    if role != "none":
        try:
            xdist_support.setup(config, session, role)
        except ConfigError as error:
            raise pytest.UsageError(f"pytest-parscale: {error}") from None
    _open_baselines(config, session)


def _open_baselines(config: pytest.Config, session: ParscaleSession) -> None:
    """Check --parscale-save and load --parscale-compare now, before anything is measured.

    Under pytest-xdist the controller writes the workers' results merged
    (pytest_parscale/xdist_support.py); every process checks the targets.
    """
    settings = session.settings
    if not (settings.save or settings.compare or settings.html):
        return
    # Storage loads only when a results file or report is asked for.
    from pytest_parscale.storage import check_html_target, check_save_target, load

    checks: list[tuple[str, Callable[[], object]]] = []
    if settings.save and session.writes_results:
        save = settings.save
        checks.append(("save", lambda: check_save_target(save, settings.save_overwrite)))
    if settings.compare:
        compare = settings.compare

        def load_baseline() -> None:
            session.baseline = load(compare)

        checks.append(("compare", load_baseline))
    if settings.html:
        html = settings.html
        checks.append(("html", lambda: check_html_target(html)))
    for name, check in checks:
        try:
            check()
        except BaselineError as error:
            raise pytest.UsageError(
                f"pytest-parscale: {settings.source_of(name)}: {error}"
            ) from None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "parscale" not in metafunc.fixturenames:
        return
    session = metafunc.config.stash[session_key]
    nodeid = metafunc.definition.nodeid
    try:
        spec = spec_of(metafunc.definition, nodeid)
    except ConfigError as error:
        pytest.fail(f"pytest-parscale: {error}", pytrace=False)
    settings = settings_for_test(session.settings, spec, nodeid)
    # A test on the user's own Celery worker measures Celery unless its marker says more.
    spec = for_user_worker(spec, metafunc.fixturenames)
    # The markers are parsed here, once; the spec travels on each ParscaleParam.
    params = [
        pytest.param(param, id=param.id, marks=[pytest.mark.skip(reason=reason)] if reason else [])
        for param, reason in expand(spec, settings, session.usable_cores)
    ]
    metafunc.parametrize("parscale", params, indirect=True)


def _param(item: pytest.Item) -> ParscaleParam | None:
    callspec = getattr(item, "callspec", None)
    param = callspec.params.get("parscale") if callspec is not None else None
    return param if isinstance(param, ParscaleParam) else None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep only the --parscale-only ids, then run parscale tests grouped by engine.

    Ray, for one, can only run one cluster per process: interleaving worker counts
    would restart it per test. Other tests keep their places; the relative order of
    parscale tests within one engine is kept.
    """
    settings = config.stash[session_key].settings
    if settings.only is not None:
        from pytest_parscale.selection import deselect_unlisted

        deselect_unlisted(config, items, settings.only, settings.source_of("only"))
    order = list(BACKENDS)
    slots = [index for index, item in enumerate(items) if _param(item) is not None]
    grouped = sorted(
        (items[index] for index in slots),
        key=lambda item: (order.index(_param(item).backend), _param(item).plan.workers),  # type: ignore[union-attr]
    )
    for index, item in zip(slots, grouped, strict=True):
        items[index] = item


def pytest_collection_finish(session: pytest.Session) -> None:
    """Note each engine's last test so its executor is closed right after it.

    An idle Ray or Celery engine still takes CPU from the measurements that follow.
    """
    last: dict[tuple[str, int], str] = {}
    for item in session.items:
        param = _param(item)
        if param is not None:
            last[param.engine] = item.nodeid
    parscale = session.config.stash[session_key]
    if parscale.baseline is not None:
        parscale.family_members = _comparisons(session.items, parscale.baseline)
    closing: dict[str, list[tuple[str, int]]] = {}
    for engine, nodeid in last.items():
        closing.setdefault(nodeid, []).append(engine)
    session.config.stash[last_use_key] = closing


def _comparisons(items: list[pytest.Item], baseline: Results) -> int:
    """How many comparisons the session's family will hold: one per collected
    parscale test the baseline knows, two with an overhead marker (family.py)."""
    known = set(baseline.records)
    for run in baseline.runs:
        known.update(run.records)
    found = 0
    for item in items:
        param = _param(item)
        if param is not None and item.nodeid in known:
            found += 1 + (param.spec.overhead is not None)
    return found


@pytest.fixture
def parscale_dask_client() -> Any:
    """Override to return your Dask ``Client`` (or ``LocalCluster``): the dask backend then
    measures on it instead of starting its own (docs/engines.md)."""
    return None


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: Any, request: pytest.FixtureRequest
) -> Generator[Any, Any, Any]:
    """Before celery.contrib.pytest starts a worker, prepare its app for parscale tests.

    A refusal takes the fixture function's place for this one call, so pytest
    records and reports it as that fixture's error (raising here, outside the
    fixture, would leave pytest's own bookkeeping of the fixture half done).
    """
    if fixturedef.argname not in CELERY_WORKER_FIXTURES:
        return (yield)
    from pytest_parscale.adoption import prepare_celery_worker

    refusal = prepare_celery_worker(request, fixturedef.argname, "parscale" in request.fixturenames)
    if refusal is None:
        return (yield)

    def refuse(**_: Any) -> Any:
        pytest.fail(refusal, pytrace=False)

    original, fixturedef.func = fixturedef.func, refuse
    try:
        return (yield)
    finally:
        fixturedef.func = original


@pytest.fixture
def parscale(request: pytest.FixtureRequest) -> Generator[Parscale, None, None]:
    """Measure serial against parallel on the backend this test is parametrized with."""
    param = getattr(request, "param", None)
    if not isinstance(param, ParscaleParam):
        raise pytest.UsageError("the parscale fixture is parametrized by pytest-parscale itself")
    # Imported on first use: a run that only collects never pays for measuring.
    from pytest_parscale.fixture import Parscale, Thresholds

    session = request.config.stash[session_key]
    nodeid = request.node.nodeid
    own: FailOn = (param.spec.parscale.settings or {}).get("fail_on", FailOn())
    settings = settings_for_test(session.settings, param.spec, nodeid)
    source: ExecutorSource = session.executors
    refusal = None
    if not settings.disable:
        from pytest_parscale.adoption import user_engine

        try:
            source = user_engine(request, param, session.executors) or source
        except ParscaleError as error:  # the user's engine cannot be measured: say why
            refusal = str(error)
    if refusal is not None:
        pytest.fail(refusal, pytrace=False)
    fixture = Parscale(
        nodeid=nodeid,
        param=param,
        settings=settings,
        executors=source,
        add_record=session.add,
        thresholds=Thresholds(own, effective_fail_on(own, session.settings.fail_on)),
    )
    try:
        if not fixture.disabled:
            try:
                fixture.start()  # start (or reuse) the executor outside the test's own time
            except ParscaleError as error:  # could not start, or the user's engine refused
                refusal = str(error)
            if refusal is not None:
                pytest.fail(refusal, pytrace=False)
        yield fixture
    finally:
        if source is not session.executors:  # let go of the user's engine; it keeps running
            source.discard(param.backend, param.plan.workers)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for name in ("speedup", "overhead"):
        if item.get_closest_marker(name) and "parscale" not in getattr(item, "fixturenames", ()):
            pytest.fail(
                f"{item.nodeid} has @pytest.mark.{name} but does not use the parscale fixture",
                pytrace=False,
            )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    result = yield
    fixture = getattr(item, "funcargs", {}).get("parscale")
    if fixture is not None:
        from pytest_parscale.fixture import Parscale  # loaded already by the fixture

        if not isinstance(fixture, Parscale):
            return result
        fixture.finish()
        _check_baseline(item, fixture)
    return result


def _check_baseline(item: pytest.Item, fixture: Parscale) -> None:
    """Fail the test itself when it regressed against the --parscale-compare baseline."""
    session = item.config.stash[session_key]
    record = fixture.record
    if record is None or session.baseline is None:
        return
    from pytest_parscale.diffreport import failure_message
    from pytest_parscale.history import judge_test, pools
    from pytest_parscale.regression import Status

    change = session.judge(
        judge_test(
            session.baseline,
            record,
            fixture.thresholds.effective,
            confidence=session.settings.confidence,
            pooled=pools(session.settings.family),
        )
    )
    if change.status is Status.REGRESSION:
        pytest.fail(failure_message(change, session.baseline.path), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember a measured test that failed: without a record, comparisons say so."""
    report = yield
    if report.failed and _param(item) is not None:
        lines = [line.strip() for line in report.longreprtext.splitlines() if line.strip()]
        text = f"{report.when}: {lines[-1] if lines else 'failed'}"[:300]
        item.config.stash[session_key].failures.setdefault(item.nodeid, text)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    result = yield
    closing = item.config.stash.get(last_use_key, {}).get(item.nodeid, [])
    executors = item.config.stash[session_key].executors
    for backend, workers in closing:
        executors.discard(backend, workers)
    if "celery_worker" in getattr(item, "fixturenames", ()):  # function-scoped: just ended
        executors.user_celery_worker_ended()
    return result


def _speedup_summary(terminalreporter: Any, session: ParscaleSession) -> None:
    from pytest_parscale.report import notes, sweeps, table

    terminalreporter.section("parscale: speedup summary")
    for line in table(session.records):
        terminalreporter.write_line(line)
    extra = notes(session.records, session.executors.starts) + sweeps(
        session.records, session.machine()
    )
    if extra:
        terminalreporter.write_line("")
        for line in extra:
            terminalreporter.write_line(line)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    session = config.stash.get(session_key, None)
    if session is None or not (session.records or session.failures):
        return
    if session.records:
        _speedup_summary(terminalreporter, session)
    if session.baseline is not None:
        from pytest_parscale.diffreport import family_lines, summary_lines

        session.settle_family()
        terminalreporter.section("parscale: against baseline")
        for line in summary_lines(session.changes, session.baseline, session.usable_cores):
            terminalreporter.write_line(line)
        if session.family is not None:
            for line in family_lines(session.family, session.settings.confidence):
                terminalreporter.write_line(line)
        from pytest_parscale.history import crowded_window
        from pytest_parscale.notewords import note_text

        crowded = crowded_window(session.baseline.runs)
        if crowded is not None:
            terminalreporter.write_line(f"warning: the history {note_text(crowded)}")
        for nodeid in session.called_at_end:
            terminalreporter.write_line(
                f"FAIL: {nodeid} regressed over the session's family (judged at the end: "
                "its own test could only be judged at the first step); the session fails",
                red=True,
            )
    for path in (session.settings.json, session.settings.save):
        if path and session.writes_results:
            terminalreporter.write_line(f"results written to {path}")
    if session.settings.html:
        terminalreporter.write_line(f"HTML report: {session.settings.html}/index.html")


def pytest_sessionfinish(session: pytest.Session) -> None:
    parscale_session = session.config.stash.get(session_key, None)
    if parscale_session is None:
        return
    if parscale_session.baseline is not None:
        parscale_session.settle_family()
        if parscale_session.called_at_end and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    try:
        parscale_session.write_outputs()
    except BaselineError as error:
        session.config.get_terminal_writer().line(f"pytest-parscale: {error}", red=True)
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
    finally:
        parscale_session.executors.close_all()
