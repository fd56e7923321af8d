"""``map(..., share=True)``: the zero-copy variant measured beside the pickled map.

Behaviour only (recorded, reported, skipped with a reason, nothing left in
/dev/shm); the speedups themselves are figures for benchmarks/, never a bar here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pytest_parscale.storage import load
from tests.e2e.conftest import FAST, skip_unless_installed

SUITE = """
import pytest


def total(vector):
    return float(vector.sum())


def size_of(item):
    return len(item)


@pytest.mark.parscale(backends={backends}, workers=2)
def test_arrays(parscale):
    vectors = parscale.payloads(8, size=200_000, kind="ndarray")
    assert parscale.map(total, vectors, share=True) == [float(v.sum()) for v in vectors]


@pytest.mark.parscale(backends=["pool", "process"], workers=2)
def test_bytes(parscale):
    assert parscale.map(size_of, parscale.payloads(8, size=50_000), share=True) == [50_000] * 8


@pytest.mark.parscale(backends=["pool"], workers=2, item_sizes=["100KB"])
def test_transport_both_ways(parscale):
    parscale.map(total, parscale.payloads(8, kind="ndarray"), share=True)


@pytest.mark.parscale(backends=["pool"], workers=2)
def test_unsharable_items_skip(parscale):
    parscale.map(size_of, [[1, 2]] * 4, share=True)
"""


def _backends() -> list[str]:
    found = []
    for backend in ["pool", "process", "thread", "ray", "dask", "celery"]:
        try:
            skip_unless_installed(backend)
        except pytest.skip.Exception:
            continue
        found.append(backend)
    return found


def _ours() -> set[str]:
    return {path.name for path in Path("/dev/shm").glob("parscale_*")}


def test_zero_copy_is_measured_reported_and_skipped_where_it_has_no_path(
    pytester: pytest.Pytester,
) -> None:
    backends = _backends()
    before = _ours()
    pytester.makepyfile(test_share=SUITE.format(backends=backends))
    result = pytester.runpytest_subprocess(
        *FAST, "-rA", "--parscale-json=results.json", timeout=600
    )
    shipping = [b for b in backends if b not in ("thread", "celery")]
    skipped = len(backends) - len(shipping) + 1
    result.assert_outcomes(passed=len(shipping) + 3, skipped=skipped)
    load(Path(pytester.path, "results.json"))  # valid against the schema
    document = json.loads(Path(pytester.path, "results.json").read_text())
    methods = {
        "pool": "multiprocessing.shared_memory",
        "process": "multiprocessing.shared_memory",
        "ray": "ray.put object references",
        "dask": "client.scatter",
    }
    by_id = {record["nodeid"].split("::")[-1]: record for record in document["results"]}
    for backend in shipping:
        zero_copy = by_id[f"test_arrays[{backend}]"]["executor"]["zero_copy"]
        assert zero_copy["method"] == methods[backend]
        assert zero_copy["rounds"] >= 3
        for key in ("pickle_speedup", "shared_speedup"):
            assert math.isfinite(zero_copy[key])
            assert zero_copy[key] > 0
        result.stdout.fnmatch_lines(
            [f"zero-copy: test_arrays?{backend}?: {methods[backend]} would give *x (pickled: *x*"]
        )
    sized = by_id["test_transport_both_ways[pool-100KB]"]["executor"]["zero_copy"]
    for key in ("pickle_transport_share", "shared_transport_share"):
        assert 0 < sized[key] < 10
    result.stdout.fnmatch_lines(
        ["zero-copy: test_transport_both_ways?pool-100KB?: *; transport * pickled, * zero-copy"]
    )
    if "thread" in backends:
        result.stdout.fnmatch_lines(["SKIPPED*share=True: the thread backend's workers already*"])
    if "celery" in backends:
        result.stdout.fnmatch_lines(["SKIPPED*share=True: Celery sends every argument*"])
    result.stdout.fnmatch_lines(["SKIPPED*share=True: item 0 is a list: shared memory ships*"])
    assert _ours() <= before


# Raises only in the zero-copy variant, on a worker: the serial and pickled maps see
# ordinary arrays, the shared one read-only views of the segment.
FAILING = """
import pytest


def explode_on_views(vector):
    if not vector.flags.writeable and vector[0] == 3.0:
        raise ValueError("item three, on a shared view")
    return float(vector.sum())


@pytest.mark.parscale(backends=["{backend}"], workers=2)
def test_fails_inside_the_shared_map(parscale):
    parscale.map(explode_on_views, parscale.payloads(8, size=100_000, kind="ndarray"), share=True)
"""


@pytest.mark.parametrize("backend", ["pool", "process"])
def test_a_failing_shared_map_leaves_nothing_in_dev_shm(
    pytester: pytest.Pytester, backend: str
) -> None:
    before = _ours()
    pytester.makepyfile(test_failing=FAILING.replace("{backend}", backend))
    result = pytester.runpytest_subprocess(*FAST, "-rA", timeout=300)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*ValueError: item three, on a shared view*"])
    assert _ours() <= before


def explode_on_views(vector: object) -> float:
    raise ValueError("every item, on a shared view")


@pytest.mark.parametrize("failure", [ValueError, KeyboardInterrupt])
def test_the_segment_is_unlinked_as_the_map_fails_not_at_exit(
    monkeypatch: pytest.MonkeyPatch, failure: type[BaseException]
) -> None:
    """try/finally frees it at once, before the session-end sweep could."""
    import numpy

    from pytest_parscale.backends import pool, zerocopy

    executor = pool.PoolExecutor(2, None)
    before = _ours()
    try:
        items = [numpy.arange(1000.0) for _ in range(4)]
        if failure is KeyboardInterrupt:  # Ctrl-C while the workers run

            def interrupted(*args: object, **kwargs: object) -> list[object]:
                assert _ours() - before, "the segment should exist while the map runs"
                raise KeyboardInterrupt

            monkeypatch.setattr(executor, "map", interrupted)
        with pytest.raises(failure):
            zerocopy.shared_map(executor, explode_on_views, items, timeout=60)
        assert _ours() <= before
        assert not zerocopy._live
    finally:
        executor.close()
