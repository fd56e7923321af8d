"""``ray``: one Ray task per item (or per chunk), as a Ray user writes the map.

Embedded: ``ray.init("local", num_cpus=workers)``, one per (session, workers)
because Ray allows one engine per process (the session closes it before starting
another worker count). With ``--parscale-ray-address`` the driver connects to that
cluster, runs with every CPU the cluster has (``ray.cluster_resources()['CPU']``,
whatever the test asked for) and ``close`` only disconnects it.

Tasks run with ``max_retries=0``: Ray's default retries would hide a crashed worker
inside a slower measurement instead of failing the test.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import socket
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pytest_parscale.backends import _remote
from pytest_parscale.backends.base import qualified_name
from pytest_parscale.errors import MapTimeout, ShippingError, WorkerCrashed

if TYPE_CHECKING:
    from pytest_parscale.config import Settings

# Ray's switch between a loopback-only node ("0") and one reachable from other hosts.
LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"

# Seconds a freshly started cluster may take before its first node offers a CPU.
CONNECT_GRACE = 10.0
# Most seconds a failed map waits for the GCS to mark a dead node dead.
NODE_DEATH_WAIT = 30.0


def check_reachable(address: str, timeout: float) -> None:
    """Fail in ``timeout`` seconds when nothing listens at a ``host:port`` Ray address.

    ``ray.init`` itself waits about a minute for an absent GCS and then exits the
    process; a TCP connect first turns that into a clear error for this backend
    only. ``auto``, ``local`` and addresses without a port are left to Ray.
    """
    target = address.split("://", 1)[-1].rstrip("/")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as error:
        raise RuntimeError(
            f"nothing answers at Ray address {address} within {timeout:g} s "
            f"(--parscale-connect-timeout): {type(error).__name__}: {error}"
        ) from None


class RayExecutor(_remote.RemoteExecutor):
    backend = "ray"

    def __init__(
        self,
        workers: int,
        address: str | None,
        connect_timeout: float = 5.0,
        *,
        adopt: bool = False,
    ) -> None:
        # Ray 2.60 writes ~/.ray/auth_token for a local cluster unless told not to.
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        if address is None:
            # An embedded cluster is one node: keep its traffic on the loopback address
            # instead of the machine's routable one (Ray's default off Windows/macOS).
            os.environ.setdefault(LOOPBACK_ONLY, "0")
        import ray

        self._ray: Any = ray
        self.workers = workers
        self.address = address
        # True: the user's code ran ray.init; used with its CPUs and never shut down
        self.adopted = adopt
        if adopt:
            address = str(ray.get_runtime_context().gcs_address)
        elif ray.is_initialized():
            raise RuntimeError(
                "Ray is already initialised in this process (by a test or fixture); "
                "pytest-parscale needs its own ray.init with num_cpus=workers, or pass "
                "--parscale-ray-address to share a cluster"
            )
        self._remote_functions: dict[Callable[..., Any], Any] = {}
        with _remote.engine_warnings_ignored():
            if address is None:
                ray.init(
                    "local",
                    num_cpus=workers,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.ERROR,
                )
            elif not adopt:
                check_reachable(address, connect_timeout)
                ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        self.cluster: _remote.Cluster | None = None
        if address is not None:
            try:
                members = _remote.polled_members(self._members, CONNECT_GRACE)
                self.cluster = _remote.Cluster("ray", address, "node", members)
            except BaseException:
                self.close()
                raise
            self.workers = self.cluster.workers
        self._call = ray.remote(max_retries=0)(_remote.call)
        self._run_chunk = ray.remote(max_retries=0)(_remote.run_chunk)
        try:
            self.per_task_seconds = _remote.per_task_seconds(self._map_plain, self.workers)
        except BaseException:
            self.close()
            raise

    def _members(self) -> dict[str, int]:
        """CPUs of each alive node, by node id: the cluster's worker slots."""
        return {
            f"{node['NodeID'][:12]} ({node.get('NodeManagerAddress', '?')})": int(
                node.get("Resources", {}).get("CPU", 0)
            )
            for node in self._ray.nodes()
            if node.get("Alive")
        }

    def _await_node_death(self) -> None:
        """Give the GCS time to mark a dead node dead, so the next test sees the cluster as it is.

        A task learns that its node died seconds before the GCS's heartbeat detector
        says so (about 15 s by default); until then ``ray.nodes()`` still lists it.
        """
        if self.cluster is None:
            return
        deadline = time.monotonic() + NODE_DEATH_WAIT
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):  # the head itself may be gone
                if self.cluster.change(self._members()) is not None:
                    return
            time.sleep(0.25)

    @property
    def native(self) -> Any:
        """The ``ray`` module itself: Ray's API is module-level."""
        return self._ray

    def _remote_for(self, fn: Callable[[Any], Any]) -> Any:
        """``ray.remote(fn)``, made once per function so it is exported to workers once."""
        remote = self._remote_functions.get(fn)
        if remote is None:
            self._ship(fn)
            remote = self._ray.remote(max_retries=0)(fn)
            self._remote_functions[fn] = remote
        return remote

    def map(
        self,
        fn: Callable[[Any], Any],
        items: Sequence[Any],
        *,
        chunksize: int | None,
        timeout: float | None,
    ) -> list[Any]:
        ray = self._ray
        if chunksize is None and inspect.isfunction(fn):
            remote = self._remote_for(fn)
            refs = [remote.remote(item) for item in items]
        else:
            # Callable objects and partials cannot be ray.remote'd: ship them once
            # through the object store and call them from a generic task.
            self._ship(fn)
            fn_ref = ray.put(fn)
            if chunksize is None:
                refs = [self._call.remote(fn_ref, item) for item in items]
            else:
                parts = _remote.chunks(items, chunksize)
                refs = [self._run_chunk.remote(fn_ref, part) for part in parts]
        try:
            results: list[Any] = ray.get(refs, timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            self._cancel(refs)
            raise MapTimeout(f"the ray map did not finish within {timeout:g} s") from None
        except (
            ray.exceptions.WorkerCrashedError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.LocalRayletDiedError,
            ray.exceptions.ObjectLostError,
        ) as error:
            self._cancel(refs)
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            self._await_node_death()
            raise WorkerCrashed(
                f"a ray worker died during the map ({type(error).__name__}: {first_line})"
            ) from None
        except ray.exceptions.RayTaskError as error:
            _remote.note_failed_task(error, self._first_failed(refs), chunksize, len(items))
            raise
        return results if chunksize is None else _remote.flatten(results)

    def _first_failed(self, refs: list[Any]) -> int | None:
        """Index of the first finished task that raised (others may still run)."""
        ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0)
        finished = set(ready)
        for index, ref in enumerate(refs):
            if ref in finished:
                try:
                    self._ray.get(ref, timeout=0)
                except Exception:
                    return index
        return None

    def _cancel(self, refs: list[Any]) -> None:
        for ref in refs:
            with contextlib.suppress(Exception):  # already finished or already gone
                self._ray.cancel(ref, force=True)

    def _ship(self, fn: Callable[..., Any]) -> None:
        module = _remote.module_to_ship_by_value(fn)
        if module is not None:
            self._ray.cloudpickle.register_pickle_by_value(module)

    def check_shippable(self, fn: Callable[..., Any]) -> None:
        self._ship(fn)
        try:
            self._ray.cloudpickle.dumps(fn)
        except Exception as error:
            raise ShippingError(
                f"cannot ship {qualified_name(fn)} to 'ray' workers: cloudpickle failed with "
                f"{type(error).__name__}: {error}. Keep unpicklable state (locks, open "
                "files, clients) out of the function and its closure."
            ) from None

    def serializer(self) -> tuple[Callable[[Any], bytes], Callable[[bytes], Any]] | None:
        return self._ray.cloudpickle.dumps, self._ray.cloudpickle.loads

    def describe(self) -> dict[str, Any]:
        found = {
            "ray": self._ray.__version__,
            "python": sys.version.split()[0],
            "engine": "embedded",
            "workers": self.workers,
            "per_task_seconds": self.per_task_seconds,
            "config": {"num_cpus": self.workers},
            **(self.cluster.describe() if self.cluster is not None else {}),
        }
        if self.adopted and self.cluster is not None:
            found["where"] = (
                f"your Ray (initialised by your code, {self.workers} CPUs at "
                f"{self.cluster.address})"
            )
        return found

    def close(self) -> None:
        """``ray.shutdown`` stops a cluster ``ray.init`` started, and only disconnects
        otherwise; a Ray the user's code initialised is left as it is."""
        self._remote_functions.clear()
        if self.adopted:
            return
        with _remote.engine_warnings_ignored():
            self._ray.shutdown()


def start(workers: int, settings: Settings) -> RayExecutor:
    return RayExecutor(workers, settings.ray_address, settings.connect_timeout)


def zero_copy_map(
    executor: RayExecutor, fn: Callable[[Any], Any], items: Sequence[Any], *, timeout: float | None
) -> list[Any]:
    """The zero-copy map (BackendInfo.zero_copy): ``ray.put`` each item and pass the
    references; Ray hands workers ndarrays straight from its shared object store."""
    ray = executor.native
    refs = [ray.put(item) for item in items]
    try:
        return executor.map(fn, refs, chunksize=None, timeout=timeout)
    finally:
        del refs  # the object store frees what no reference holds
