"""celery.contrib.pytest's fixtures, set up to measure scaling on the project's own app.

examples/conftest.py loads the plugin (``pytest_plugins = ["celery.contrib.pytest"]``:
a project puts that line in its own top-level conftest.py).

What a speedup test of your own tasks needs (docs/engines.md):
- your app: ``celery_session_app`` returns it (tasks declared with ``@app.task`` live
  on it, not on celery.contrib.pytest's test app), with the test transport from
  ``celery_config``;
- worker processes: ``celery_worker_pool`` returns "prefork" (the default "solo" runs
  one task at a time) with ``celery_worker_parameters`` asking for 2 of them;
- results every process reaches: a ``file://`` result backend (``cache+memory://``
  stays inside the child process that stored the result);
- a fast broker poll: kombu's in-memory transport polls every 1 s by default.
"""

from __future__ import annotations

from typing import Any

# celery.contrib.pytest's worker fixtures ping the worker with a task of their own,
# registered on every app once this module is imported: your app needs it too.
import celery.contrib.testing.tasks  # noqa: F401
import pytest
from proj.celery import app


@pytest.fixture(scope="session")
def celery_config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    results = tmp_path_factory.mktemp("celery-results")
    return {
        "broker_url": "memory://",
        "result_backend": f"file://{results}",
        "broker_transport_options": {"polling_interval": 0.01},
    }


@pytest.fixture(scope="session")
def celery_session_app(celery_config: dict[str, Any]) -> Any:
    app.conf.update(celery_config)
    return app


@pytest.fixture(scope="session")
def celery_worker_pool() -> str:
    return "prefork"


@pytest.fixture(scope="session")
def celery_worker_parameters() -> dict[str, Any]:
    return {"concurrency": 2}
