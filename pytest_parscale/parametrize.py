"""Which runs a parscale test expands to: backends x worker counts x item sizes.

Everything about a run's workers is decided here, at collection, so the fixture
trusts its parameter and the session can group tests by engine before any starts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pytest_parscale.backends.base import BACKENDS, cluster_address, default_backends
from pytest_parscale.config import Settings
from pytest_parscale.markers import NO_MARKS, MarkSpec
from pytest_parscale.sizes import format_size


@dataclass(frozen=True)
class WorkerPlan:
    """How many workers a test runs with, and how its speedup bar moves with that."""

    requested: int
    workers: int
    scale: float
    skip_reason: str | None = None
    oversubscribed: bool = False


def plan_workers(requested: int, usable: int, policy: str) -> WorkerPlan:
    """Apply the undersized-machine policy (``--parscale-undersized``, docs/architecture.md).

    ``scale`` runs at the usable cores and keeps the efficiency asked for (the bar
    becomes ``min * W / requested``); ``skip`` skips; ``strict`` runs the requested
    count on fewer cores (oversubscribed) and keeps the full bar.
    """
    if requested <= usable:
        return WorkerPlan(requested, requested, 1.0)
    return _undersized(
        requested,
        usable,
        policy,
        f"undersized machine: {requested} workers asked, {usable} usable cores",
        strict=WorkerPlan(requested, requested, 1.0, oversubscribed=True),
    )


def plan_cluster(requested: int, cluster: int, policy: str, where: str) -> WorkerPlan:
    """The same policy for a cluster the user started: it runs with every worker it has.

    Fewer workers than asked is an undersized machine (``scale`` lowers the bar to
    the same efficiency, ``skip`` skips); ``strict`` cannot add workers to a cluster,
    so it keeps the full bar. More workers than asked keeps the bar: the speedup
    and efficiency are reported at the cluster's size. ``where`` names the cluster.
    """
    if requested <= cluster:
        return WorkerPlan(requested, cluster, 1.0)
    return _undersized(
        requested,
        cluster,
        policy,
        f"undersized cluster: {requested} workers asked, {where} has {cluster}",
        strict=WorkerPlan(requested, cluster, 1.0),
    )


def _undersized(
    requested: int, available: int, policy: str, shortfall: str, *, strict: WorkerPlan
) -> WorkerPlan:
    """The undersized policy once fewer workers are available than asked, machine or
    cluster alike; only what ``strict`` runs differs between them."""
    if policy == "skip":
        return WorkerPlan(requested, available, 1.0, shortfall)
    if policy == "strict":
        return strict
    if available < 2:
        return WorkerPlan(requested, available, 1.0, f"{shortfall}; cannot scale below 2")
    return WorkerPlan(requested, available, available / requested)


@dataclass(frozen=True)
class ParscaleParam:
    """One run of a parscale test, with the test's markers parsed once at collection."""

    backend: str
    item_size: int | None
    plan: WorkerPlan
    sweep: bool = False
    # False for the counts of a sweep at which the markers' bars do not apply
    judged: bool = True
    spec: MarkSpec = NO_MARKS

    @property
    def id(self) -> str:
        parts = [self.backend]
        if self.item_size is not None:
            parts.append(format_size(self.item_size))
        if self.sweep:
            parts.append(f"w{self.plan.requested}")
        return "-".join(parts)

    @property
    def engine(self) -> tuple[str, int]:
        """The executor this run needs: (backend, workers)."""
        return (self.backend, self.plan.workers)


def requested_workers(spec: MarkSpec, settings: Settings, default: int) -> int:
    """Outside a sweep: the markers' count, else a single --parscale-workers, else ``default``."""
    single = settings.workers[0] if settings.workers and len(settings.workers) == 1 else None
    return spec.workers or single or default


def adopt_cluster(
    param: ParscaleParam, settings: Settings, size: int, where: str
) -> tuple[ParscaleParam, str | None]:
    """The run re-planned for a cluster of ``size`` workers the user started; or a skip reason.

    The marker's (or the command line's) worker count is what the bar was written
    for; a smaller cluster moves the bar like an undersized machine does. A sweep
    runs on a cluster only at the cluster's size, and is judged there.
    """
    if param.sweep:
        if param.plan.requested != size:
            return param, f"{where} has {size} workers; a sweep runs on a cluster only at its size"
        return dataclasses.replace(param, judged=True), None
    asked = requested_workers(param.spec, settings, size)
    plan = plan_cluster(asked, size, settings.undersized, where)
    return dataclasses.replace(param, plan=plan), plan.skip_reason


def settings_for_test(settings: Settings, spec: MarkSpec, nodeid: str) -> Settings:
    """Session settings with this test's @pytest.mark.parscale overrides applied."""
    if not spec.parscale.settings:
        return settings
    return settings.override(spec.parscale.settings, f"@pytest.mark.parscale on {nodeid}")


def select_backends(spec: MarkSpec, settings: Settings) -> list[str]:
    """The marker's backends, narrowed by --parscale-backends; else the selection or all."""
    selected = settings.backends
    if spec.parscale.backends is None:
        return list(selected or default_backends())
    return [name for name in spec.parscale.backends if selected is None or name in selected]


def expand(
    spec: MarkSpec, settings: Settings, usable: int
) -> list[tuple[ParscaleParam, str | None]]:
    """Every run of the test, each with a skip reason or None.

    A sweep (``workers=[...]`` on the marker, or a list on the command line) runs each
    count; counts above the usable cores only with --parscale-oversubscribe. In a
    sweep the speedup/overhead bars apply at the markers' ``workers``, else at the
    largest count that runs.
    """
    sizes: tuple[int | None, ...] = spec.parscale.item_sizes or settings.item_sizes or (None,)
    counts = spec.parscale.sweep
    if counts is None and settings.workers is not None and len(settings.workers) > 1:
        counts = settings.workers
    plans: list[tuple[WorkerPlan, bool, str | None]] = []
    if counts is None:
        plan = plan_workers(requested_workers(spec, settings, usable), usable, settings.undersized)
        plans.append((plan, True, plan.skip_reason))
    else:
        runnable = [count for count in counts if count <= usable or settings.oversubscribe]
        bar = spec.workers or (max(runnable) if runnable else None)
        for count in counts:
            reason = None
            if count > usable and not settings.oversubscribe:
                reason = (
                    f"{count} workers > {usable} usable cores: opt in with "
                    "--parscale-oversubscribe to run it oversubscribed"
                )
            plan = WorkerPlan(count, count, 1.0, oversubscribed=count > usable)
            plans.append((plan, count == bar, reason))
    runs = []
    for backend in select_backends(spec, settings):
        missing = BACKENDS[backend].missing_reason()
        # This machine's cores do not bound a cluster: the fixture plans again with
        # the cluster's own size once it has connected.
        on_cluster = cluster_address(backend, settings) is not None
        for plan, judged, reason in plans:
            for size in sizes:
                param = ParscaleParam(backend, size, plan, counts is not None, judged, spec)
                runs.append((param, missing or (None if on_cluster else reason)))
    return runs
