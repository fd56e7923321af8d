"""Which engine a test gets: the one its own fixtures started, adopted, or None.

engines.py holds the facts and refusals about a user's engine (pure); this module
looks at a test's fixtures and hands the session an adopter for the engine found
there (docs/engines.md). Nothing heavy is imported until an engine is adopted.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

from pytest_parscale.engines import (
    CELERY_WORKER_FIXTURES,
    DASK_FIXTURE,
    EngineRefused,
    dask_refusal,
    is_async_test,
    results_problem,
    scheme,
)

if TYPE_CHECKING:
    import pytest

    from pytest_parscale.backends.base import Executor
    from pytest_parscale.markers import MarkSpec
    from pytest_parscale.parametrize import ParscaleParam
    from pytest_parscale.session import Executors, UserEngine


def celery_worker_fixture(fixturenames: Iterable[str]) -> str | None:
    """The celery.contrib.pytest worker fixture among the test's fixtures, if any."""
    names = set(fixturenames)
    return next((name for name in CELERY_WORKER_FIXTURES if name in names), None)


def for_user_worker(spec: MarkSpec, fixturenames: Iterable[str]) -> MarkSpec:
    """The spec of a test on the user's Celery worker: the celery backend only, unless
    its parscale marker names backends (what it maps are the app's tasks)."""
    if spec.parscale.backends is not None or celery_worker_fixture(fixturenames) is None:
        return spec
    only = dataclasses.replace(spec.parscale, backends=("celery",))
    return dataclasses.replace(spec, parscale=only)


def prepare_celery_worker(
    request: pytest.FixtureRequest, fixture: str, measured: bool
) -> str | None:
    """Before a celery.contrib.pytest worker starts: register the transport task on its
    app while the prefork children are not yet forked (a task registered later is
    unknown to them), for a later parscale test on a shared worker too; for a
    ``measured`` (parscale) test, why results of its pool could never come back."""
    from pytest_parscale.backends import celery_user

    session = fixture == "celery_session_worker"
    app = request.getfixturevalue("celery_session_app" if session else "celery_app")
    pool = request.getfixturevalue("celery_worker_pool")
    celery_user.register_transport_task(app)
    if not measured:
        return None
    name = pool if isinstance(pool, str) else getattr(pool, "__module__", str(pool))
    problem = results_problem(
        fixture,
        name.rsplit(".", 1)[-1],
        scheme(app.conf.result_backend),
        scheme(app.conf.broker_url),
    )
    return None if problem is None else f"refused: {problem} (docs/engines.md)"


def user_engine(
    request: pytest.FixtureRequest, param: ParscaleParam, executors: Executors
) -> UserEngine | None:
    """The engine this test's own fixtures started for its backend, or None (embedded)."""
    from pytest_parscale.session import UserEngine

    backend = param.backend
    starts = executors.starts
    if backend == "celery":
        fixture = celery_worker_fixture(request.fixturenames)
        if fixture is None:
            return None
        worker = request.getfixturevalue(fixture)
        speedup = param.spec.speedup is not None

        def adopt_celery() -> Executor:
            from pytest_parscale.backends.celery_user import UserCeleryExecutor

            return UserCeleryExecutor(worker, fixture, speedup=speedup)

        return UserEngine(backend, adopt_celery, starts)
    if backend == "dask":
        if is_async_test(getattr(request, "function", None)):
            raise EngineRefused(dask_refusal("this test is a coroutine (gen_cluster's, say)"))
        handed = request.getfixturevalue(DASK_FIXTURE)
        if handed is None:
            return None

        def adopt_dask() -> Executor:
            from pytest_parscale.backends.dask import DaskExecutor

            return DaskExecutor(param.plan.workers, None, handed=handed)

        return UserEngine(backend, adopt_dask, starts)
    if backend == "ray" and _ray_initialised() and not executors.holds("ray"):

        def adopt_ray() -> Executor:
            from pytest_parscale.backends.ray import RayExecutor

            return RayExecutor(param.plan.workers, None, adopt=True)

        return UserEngine(backend, adopt_ray, starts)
    return None


def _ray_initialised() -> bool:
    """Whether this process has a Ray driver; never imports Ray."""
    ray = sys.modules.get("ray")
    return ray is not None and bool(ray.is_initialized())
