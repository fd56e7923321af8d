"""A check for mypy alone: every built-in backend's ``start`` is a ``Start``.

The registry (base.BACKENDS) loads backends by module name, which mypy cannot
follow; this module names each ``start`` so that mypy checks it returns an
Executor. Nothing imports it, so the registry never imports its backends.
"""

from __future__ import annotations

from pytest_parscale.backends import celery, dask, pool, process, ray, thread
from pytest_parscale.backends.base import Start

TYPED_STARTS: tuple[Start, ...] = (
    pool.start,
    process.start,
    thread.start,
    ray.start,
    dask.start,
    celery.start,
)
