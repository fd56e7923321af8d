"""Bad markers, options and functions: clear errors naming the value and its source."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import FAST, skip_unless_installed


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        (
            "speedup(min=-1)",
            "*test_bad.py::test_it: @pytest.mark.speedup argument min: -1 must be a finite number > 0",
        ),
        (
            "speedup(min=2, workers=0)",
            "*@pytest.mark.speedup argument workers: 0 must be at least 1 worker",
        ),
        ("speedup(min='fast')", "*@pytest.mark.speedup argument min: 'fast' is not a number"),
        (
            "parscale(backends=['pool', 'rayy'])",
            "*@pytest.mark.parscale argument backends: 'rayy' is not a backend*",
        ),
        (
            "parscale(item_sizes=['1QB'])",
            "*@pytest.mark.parscale argument item_sizes: '1QB' is not an item size*",
        ),
        (
            "overhead(max=2)",
            "*@pytest.mark.overhead argument max: 2 must be a fraction between 0 and 1",
        ),
    ],
)
def test_bad_marker_fails_collection_naming_test_marker_and_value(
    pytester: pytest.Pytester, marker: str, message: str
) -> None:
    pytester.makepyfile(
        test_bad=f"""
        import pytest

        @pytest.mark.{marker}
        def test_it(parscale):
            pass
        """
    )
    result = pytester.runpytest_subprocess(*FAST)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([message])


@pytest.mark.parametrize(
    ("args", "env", "ini", "message"),
    [
        (
            ["--parscale-max-time=soon"],
            {},
            "",
            "*command-line option --parscale-max-time: 'soon' is not a number",
        ),
        (
            [],
            {"PARSCALE_UNDERSIZED": "grow"},
            "",
            "*environment variable PARSCALE_UNDERSIZED: 'grow' is not one of*",
        ),
        (
            [],
            {},
            "parscale_max_rounds = zero",
            "*ini key parscale_max_rounds: 'zero' is not a whole number",
        ),
        (
            ["--parscale-backends=pool,rayy"],
            {},
            "",
            "*--parscale-backends: 'rayy' is not a backend*",
        ),
        (
            ["--parscale-fail-on=speedup:abc"],
            {},
            "",
            "*command-line option --parscale-fail-on: 'speedup:abc' gives speedup 'abc'*",
        ),
        (
            [],
            {"PARSCALE_MEMORY_LIMIT": "lots"},
            "",
            "*environment variable PARSCALE_MEMORY_LIMIT: 'lots' is not an item size*",
        ),
        (
            ["--parscale-connect-timeout=0"],
            {},
            "",
            "*command-line option --parscale-connect-timeout: '0' must be a finite number > 0",
        ),
        (
            ["--parscale-compare=missing.json"],
            {},
            "",
            "*command-line option --parscale-compare: missing.json: does not exist",
        ),
        (
            [],
            {},
            "parscale_save = .",
            "*ini key parscale_save: .: is a directory; --parscale-save needs a file path",
        ),
        (
            ["--parscale-html=test_ok.py"],
            {},
            "",
            "*command-line option --parscale-html: test_ok.py: is a file; --parscale-html needs*",
        ),
    ],
)
def test_bad_option_is_a_usage_error_naming_its_source(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    ini: str,
    message: str,
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    result = pytester.runpytest_subprocess(*FAST, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_marker_without_the_fixture_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_nofixture="""
        import pytest

        @pytest.mark.speedup(min=2)
        def test_it():
            pass
        """
    )
    result = pytester.runpytest_subprocess(*FAST)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*has @pytest.mark.speedup but does not use the parscale fixture"])


def test_marked_test_that_never_measures_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_never="""
        import pytest

        @pytest.mark.speedup(min=2)
        @pytest.mark.parscale(backends=["thread"])
        def test_it(parscale):
            pass
        """
    )
    result = pytester.runpytest_subprocess(*FAST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*never called parscale.map() or parscale.measure()"])


def test_unshippable_functions_name_the_function_and_the_remedy(workloads: pytest.Pytester) -> None:
    workloads.makepyfile(
        test_ship="""
        import pytest

        @pytest.mark.parscale(backends=["pool", "process"])
        def test_lambda(parscale):
            parscale.map(lambda item: item, [1, 2, 3])

        @pytest.mark.parscale(backends=["pool"])
        def test_local(parscale):
            def double(item):
                return item * 2
            parscale.map(double, [1, 2, 3])

        @pytest.mark.parscale(backends=["thread"])
        def test_thread_takes_lambdas(parscale):
            assert parscale.map(lambda item: item + 1, [1, 2]) == [2, 3]
        """
    )
    result = workloads.runpytest_subprocess(*FAST)
    result.assert_outcomes(failed=3, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*cannot ship test_ship.test_lambda.<locals>.<lambda> to 'pool' workers: it is a lambda or a function defined inside another function*Define the function at module level*",
            "*cannot ship test_ship.test_local.<locals>.double to 'pool' workers*",
            "*cannot ship test_ship.test_lambda.<locals>.<lambda> to 'process' workers*",
        ]
    )


def test_exception_in_fn_keeps_the_original_and_names_the_item(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_raise="""
        import pytest

        def invert(x):
            return 1 / x

        @pytest.mark.parscale(backends=["pool"])
        def test_it(parscale):
            parscale.map(invert, [3, 2, 1, 0, 5])
        """
    )
    result = pytester.runpytest_subprocess(*FAST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*ZeroDivisionError: division by zero",
            "*parscale: fn raised on item 3 (serial reference)",
        ]
    )


def test_parallel_result_differing_from_serial_names_the_index(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_nondeterministic="""
        import os
        import pytest

        def which_process(item):
            return (item, os.getpid())

        @pytest.mark.parscale(backends=["pool"])
        def test_it(parscale):
            parscale.map(which_process, [1, 2, 3])
        """
    )
    result = pytester.runpytest_subprocess(*FAST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*result 0 differs: serial (1, *) != parallel (1, *) (pool, * workers)"]
    )


def test_second_measurement_in_one_test_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_twice="""
        import pytest

        @pytest.mark.parscale(backends=["thread"])
        def test_it(parscale):
            parscale.map(abs, [1, -2])
            parscale.map(abs, [1, -2])
        """
    )
    result = pytester.runpytest_subprocess(*FAST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*is a second measurement; parscale.map() already ran (one measured call per test)"]
    )


def test_unshippable_item_is_named_with_the_remedy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_items="""
        import pytest

        def name_of(item):
            return str(item)

        @pytest.mark.parscale(backends=["pool", "process"])
        def test_it(parscale, tmp_path):
            with open(tmp_path / "data.txt", "w") as handle:
                parscale.map(name_of, ["a", "b", handle])
        """
    )
    result = pytester.runpytest_subprocess(*FAST)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*item 2 (TextIOWrapper) cannot be shipped to 'pool' workers: TypeError: cannot pickle '_io.TextIOWrapper' object. Send what it refers to instead*",
            "*item 2 (TextIOWrapper) cannot be shipped to 'process' workers*",
        ]
    )


def test_memory_limit_refuses_a_map_before_it_runs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_memory="""
        import pytest

        def inflate(item):
            return bytes(1_000_000)

        @pytest.mark.parscale(backends=["pool"], memory_limit="50MB")
        def test_results_too_big(parscale):
            parscale.map(inflate, list(range(100)))

        @pytest.mark.parscale(backends=["pool"], item_sizes=["1MB"])
        def test_payloads_too_big(parscale):
            parscale.payloads(count=200)

        @pytest.mark.parscale(backends=["pool"], memory_limit="50MB")
        def test_fits(parscale):
            assert parscale.map(abs, [-1, 2]) == [1, 2]
        """
    )
    result = pytester.runpytest_subprocess(*FAST, "--parscale-memory-limit=100MB")
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*this map would hold about 200MB in the test process (*of items, and twice 100MB of results estimated from item 0) > @pytest.mark.parscale on test_memory.py::test_results_too_big[[]pool[]] 50MB (pool, * workers)",
            "*parscale.payloads(200) of 1MB would take 200MB > command-line option --parscale-memory-limit 100MB",
        ]
    )


def test_help_lists_every_option_and_marker(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "parallel-performance testing (pytest-parscale):",
            "*--parscale-fail-on=PARSCALE_FAIL_ON",
            "*speedup:10%,overhead:5pp)",
            "*parscale_max_time*",
        ]
    )
    markers = pytester.runpytest_subprocess("--markers")
    markers.stdout.fnmatch_lines(
        [
            "@pytest.mark.speedup(min, workers=None, *",
            "@pytest.mark.overhead(max, *",
            "@pytest.mark.parscale(*",
        ]
    )


def test_unreachable_engines_fail_their_tests_fast_and_others_still_run(
    pytester: pytest.Pytester,
) -> None:
    """Nobody listens on port 1: each engine's test errors with the address and cause."""
    skip_unless_installed("ray", "dask", "celery")
    pytester.makepyfile(
        test_unreachable="""
        import pytest

        @pytest.mark.parscale(backends=["ray", "dask", "celery", "thread"], workers=2)
        def test_it(parscale):
            assert parscale.map(abs, [1, -2]) == [1, 2]
        """
    )
    started = time.monotonic()
    result = pytester.runpytest_subprocess(
        *FAST,
        "--parscale-connect-timeout=2",
        "--parscale-ray-address=127.0.0.1:1",
        "--parscale-dask-scheduler=tcp://127.0.0.1:1",
        "--parscale-celery-broker=amqp://127.0.0.1:1//",
        f"--parscale-celery-backend=file://{pytester.path}/results",
        timeout=120,
    )
    elapsed = time.monotonic() - started
    result.assert_outcomes(passed=1, errors=3)
    for pattern in (
        "*could not start backend 'ray' with 2 workers: nothing answers at Ray address "
        "127.0.0.1:1 within 2 s (--parscale-connect-timeout): ConnectionRefusedError*",
        "*could not start backend 'dask' with 2 workers: no Dask scheduler answered at "
        "tcp://127.0.0.1:1 within 2 s (--parscale-connect-timeout)*",
        "*could not start backend 'celery' with 2 workers: cannot reach the Celery broker "
        "amqp://127.0.0.1:1// within 2 s (--parscale-connect-timeout)*",
    ):
        result.stdout.fnmatch_lines([pattern])
    print(f"unreachable engines: whole session {elapsed:.1f} s")
    assert elapsed < 40
