"""pytest-xdist: measured tests never run at the same time, and one results file.

Two measurements running at once on different workers would each take the other's
cores, so each would measure less speedup than there is. Every test using the
``parscale`` fixture holds an exclusive lock on one file of the session (``flock``)
from its setup to its teardown, so measured tests run one at a time whichever
worker has them; other tests keep running on the other workers meanwhile (README,
"pytest-xdist"). ``xdist_group``/``--dist loadgroup`` would do the grouping
instead, but with pytest 9.2 xdist 3.8 cannot rename node ids for it any more.

Each worker sends its results document to the controller (``workeroutput``); the
controller merges them and writes the results file(s) once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_parscale.errors import ConfigError

if TYPE_CHECKING:
    from pytest_parscale.session import ParscaleSession

LOCK_KEY = "parscale_lock"
RESULTS_KEY = "parscale_results"


def check_dist(option: Any) -> None:
    """``--dist each`` runs every test on every worker: the same test measured N times."""
    dist = getattr(option, "dist", "no")
    if dist == "each":
        raise ConfigError(
            "--dist",
            dist,
            "would measure every parscale test once per xdist worker: use load, "
            "loadscope, loadfile, loadgroup or worksteal",
        )


def setup(config: pytest.Config, session: ParscaleSession, role: str) -> None:
    """Called by plugin.py's pytest_configure under xdist (role "controller" or "worker")."""
    if role == "controller":
        check_dist(config.option)
    config.pluginmanager.register(XdistSupport(config, session, role), "parscale-xdist")


def merge(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """One results document from the workers' (same machine, same run)."""
    merged = dict(documents[0])
    merged["results"] = [record for document in documents for record in document["results"]]
    merged["engines"] = [engine for document in documents for engine in document["engines"]]
    errors = [error for document in documents for error in document.get("errors", ())]
    if errors:
        merged["errors"] = errors
    return merged


class XdistSupport:
    """Hooks registered only when pytest-xdist distributes this run."""

    def __init__(self, config: pytest.Config, session: ParscaleSession, role: str) -> None:
        self.config = config
        self.session = session
        self.role = role
        self.documents: list[dict[str, Any]] = []
        self.lock_path: str | None = None
        if role == "controller":
            handle, self.lock_path = tempfile.mkstemp(prefix="parscale-xdist-", suffix=".lock")
            os.close(handle)
        else:
            self.lock_path = getattr(config, "workerinput", {}).get(LOCK_KEY)

    # -- controller ---------------------------------------------------------------

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[LOCK_KEY] = self.lock_path

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        text = getattr(node, "workeroutput", {}).get(RESULTS_KEY)
        if text:
            self.documents.append(json.loads(text))

    # -- both -----------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)  # before plugin.py writes the outputs
    def pytest_sessionfinish(self) -> None:
        session = self.session
        if self.role == "worker":
            session.writes_results = False
            if session.records or session.failures:
                output = getattr(self.config, "workeroutput", None)
                if output is not None:
                    output[RESULTS_KEY] = json.dumps(session.results())
            return
        if self.lock_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.lock_path)
        if self.documents:
            # The controller measured nothing itself: its document is the workers'.
            session._results = merge(self.documents)
            session.writes_results = True
        else:
            session.writes_results = False

    # -- worker ---------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        if self.lock_path is None or "parscale" not in getattr(item, "fixturenames", ()):
            return (yield)
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return (yield)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
