"""A worker sweep end to end: skipped counts, the scaling sentences, the HTML report."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import FAST


def test_sweep_reports_what_could_and_could_not_be_fitted(workloads: pytest.Pytester) -> None:
    workloads.makepyfile(
        test_sweep="""
        import pytest
        from workloads import cpu_work

        @pytest.mark.parscale(backends=["pool"], workers=[1, 2, 512])
        def test_sweep(parscale):
            parscale.map(cpu_work, [100_000] * 8)
        """
    )
    result = workloads.runpytest_subprocess(*FAST, "-v", "-rs", "--parscale-html=report")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*test_sweep[[]pool-w1[]] PASSED*",
            "*test_sweep[[]pool-w2[]] PASSED*",
            "*test_sweep[[]pool-w512[]] SKIPPED*",
            "scaling: test_sweep.py::test_sweep[[]pool[]] on pool (workers 1, 2):",
            "*No USL fit: it needs at least 4 distinct worker counts within the usable cores*",
            "HTML report: report/index.html",
            "*512 workers > * usable cores: opt in with --parscale-oversubscribe*",
        ]
    )
    page = (workloads.path / "report" / "index.html").read_text()
    assert "test_sweep[pool-w2]" in page
    assert "<table" in page
