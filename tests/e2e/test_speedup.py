"""End to end on real processes: the speedup marker on pool, process and thread."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_parscale.stats import serial_fraction
from tests.e2e.conftest import FAST, ORPHAN_CHECK


def test_cpu_bound_scales_on_processes_and_threads_show_the_gil(
    workloads: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    orphans = tmp_path / "orphans.txt"
    monkeypatch.setenv("PARSCALE_ORPHANS_FILE", str(orphans))
    workloads.makeconftest(ORPHAN_CHECK)
    workloads.makepyfile(
        test_cpu="""
        import pytest
        from workloads import cpu_work

        # min=0.5 against a true ~1.6x: a busy 2-core machine cannot make this
        # undecided or failed (issue 15); how well it scales is benchmarks/' job.
        @pytest.mark.speedup(min=0.5, workers=2)
        @pytest.mark.parscale(backends=["pool", "process"])
        def test_scales(parscale):
            results = parscale.map(cpu_work, [150_000] * 16)
            assert results == [cpu_work(150_000)] * 16
            assert parscale.workers == 2

        @pytest.mark.parscale(backends=["thread"], workers=2)
        def test_gil(parscale):
            parscale.map(cpu_work, [150_000] * 16)
        """
    )
    results = tmp_path / "results.json"
    result = workloads.runpytest_subprocess(*FAST, f"--parscale-json={results}")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "*parscale: speedup summary*",
            "test*backend*workers*serial*parallel*speedup [[]CI[]]*eff*verdict",
            "test_scales[[]pool[]]*pool*2/2*pass",
            "test_scales[[]process[]]*process*2/2*pass",
            "test_gil[[]thread[]]*thread*2/2*pass",
            "engine: pool with 2 workers started once in*",
        ]
    )
    document = json.loads(results.read_text())
    assert document["schema_version"] == 2
    by_backend = {record["backend"]: record for record in document["results"]}
    # The GIL's cost is a performance claim for benchmarks/: a live bound here flaked
    # (1.32x against < 1.2 on a loaded 2-core machine), so only the record is checked.
    assert by_backend["thread"]["speedup"]["estimate"] > 0
    assert len(by_backend["pool"]["samples"]["serial"]) == by_backend["pool"]["rounds"] >= 3
    assert document["machine"]["usable_cores"] >= 1
    assert orphans.read_text() == ""


def test_tiny_items_with_chunksize_one_fail_with_a_readable_message(
    workloads: pytest.Pytester,
) -> None:
    workloads.makepyfile(
        test_tiny="""
        import pytest
        from workloads import checksum

        @pytest.mark.speedup(min=1.3, workers=2)
        @pytest.mark.parscale(backends=["pool"])
        def test_tiny(parscale):
            items = parscale.payloads(count=2000, size=10)
            parscale.map(checksum, items, chunksize=1)
        """
    )
    result = workloads.runpytest_subprocess(*FAST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["speedup 0.0*x [[]0.0*, 0.0*[]] < required 1.30x (pool, 2 workers)"]
    )


def test_undersized_machine_scales_the_bar_and_projects(workloads: pytest.Pytester) -> None:
    workloads.makepyfile(
        test_big="""
        import pytest
        from workloads import cpu_work

        @pytest.mark.speedup(min=2.6, workers=512)
        @pytest.mark.parscale(backends=["pool"])
        def test_big(parscale):
            assert parscale.requested_workers == 512
            parscale.map(cpu_work, [150_000] * 16)
        """
    )
    result = workloads.runpytest_subprocess(*FAST, "--parscale-json=out.json")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 1
    record = json.loads((workloads.path / "out.json").read_text())["results"][0]
    # Below 1x (or above 2x on 2 workers, noise) there is no serial fraction to project
    # from: the summary says why instead. Which case the live run is, the rule decides.
    if serial_fraction(record["speedup"]["estimate"], 2).value is not None:
        expected = "projection (Amdahl, not measured): test_big[[]pool[]] ~*x at 512 workers from Karp-Flatt*"
    else:
        expected = "no projection (Amdahl): test_big[[]pool[]] at 512 workers: no serial fraction*"
    result.stdout.fnmatch_lines([expected])
    requirement = record["requirements"][0]
    assert requirement["declared"] == 2.6
    assert requirement["threshold"] == pytest.approx(2.6 * record["workers"] / 512)
    if serial_fraction(record["speedup"]["estimate"], 2).value is None:
        assert record["projection"] is None  # nothing to project from: said above
    else:
        assert record["projection"]["workers"] == 512


def test_undersized_skip_policy(workloads: pytest.Pytester) -> None:
    workloads.makepyfile(
        test_big="""
        import pytest

        @pytest.mark.speedup(min=2, workers=512)
        @pytest.mark.parscale(backends=["pool"])
        def test_big(parscale):
            raise AssertionError("must not run")
        """
    )
    result = workloads.runpytest_subprocess(*FAST, "--parscale-undersized=skip", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*undersized machine: 512 workers asked, * usable cores*"])


def test_disable_runs_the_function_once_without_measuring(workloads: pytest.Pytester) -> None:
    workloads.makepyfile(
        test_off="""
        import pytest
        from workloads import checksum

        @pytest.mark.speedup(min=100)
        @pytest.mark.parscale(backends=["pool"], item_sizes=["1KB"])
        def test_off(parscale):
            assert parscale.map(checksum, parscale.payloads(3)) == [sum(p) for p in parscale.payloads(3)]
        """
    )
    result = workloads.runpytest_subprocess(*FAST, "--parscale-disable")
    result.assert_outcomes(passed=1)
    assert "speedup summary" not in result.stdout.str()


def test_measure_takes_any_serial_parallel_pair(workloads: pytest.Pytester) -> None:
    workloads.makepyfile(
        test_pair="""
        import pytest
        from workloads import cpu_work

        def total(n_jobs, pool=None):
            chunks = [150_000] * 16
            if n_jobs == 1:
                return sum(map(cpu_work, chunks))
            return sum(pool.map(cpu_work, chunks))

        # min=0.5 against a true ~1.6x: undecided at 1.3 on a loaded machine (issue 15)
        @pytest.mark.speedup(min=0.5, workers=2)
        @pytest.mark.parscale(backends=["pool"])
        def test_n_jobs(parscale):
            pool = parscale.executor  # the live multiprocessing.Pool
            result = parscale.measure(
                serial=lambda: total(1), parallel=lambda: total(parscale.workers, pool)
            )
            assert result == total(1)

        @pytest.mark.parscale(backends=["thread"])
        def test_mismatch(parscale):
            parscale.measure(serial=lambda: 1, parallel=lambda: 2)

        @pytest.mark.overhead(max=0.5)
        @pytest.mark.parscale(backends=["thread"])
        def test_overhead_needs_transport(parscale):
            parscale.measure(serial=lambda: 1, parallel=lambda: 1)
        """
    )
    result = workloads.runpytest_subprocess(*FAST)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*serial and parallel results differ: serial 1 != parallel 2 (thread, * workers)",
            "*@pytest.mark.overhead needs transport=*",
            "test_n_jobs[[]pool[]]*pool*2/2*pass",
        ]
    )
