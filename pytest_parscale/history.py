"""Judging a run against a history of runs: the spread between runs, not only within.

One saved run knows only its own rounds' noise; the next CI run lands on another
runner or beside a busy neighbour, and that noise between runs is what raised the
false alarms of issue 14. A history holds N runs, so per test the last K runs'
values give a mean and a spread; the head is a regression when it falls outside
the t prediction interval of that spread (Bencher's model) AND beyond the
threshold, the same rule as regression.judge_change. docs/results-format.md
describes the model. Pure decisions: no pytest, no clock.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_parscale.errors import BaselineError
from pytest_parscale.excuse import capacity_tolerance, excuse_by_capacity, fed_share
from pytest_parscale.moderation import Prior, estimate_prior
from pytest_parscale.regression import (
    Change,
    Judge,
    Note,
    TestChange,
    compare_records,
    engine_mismatch,
    judge_change,
)
from pytest_parscale.results import Record
from pytest_parscale.stats import least_squares, t_cdf, t_quantile
from pytest_parscale.storage import Results, load
from pytest_parscale.thresholds import FailOn

WINDOW = 10  # the last K runs of a test make its history: older machines drift out
MIN_RUNS = 3  # fewer runs give no spread worth the name: the single-run rule applies
# a window saved within less than this saw one state of the machine (crowded_window)
CROWDED = datetime.timedelta(hours=1)
MIN_FIT_RUNS = 4  # a line through the runs keeps n - 2 >= 2 degrees of freedom for its spread


@dataclass(frozen=True)
class Band:
    """Where one new run of a test is expected: a centre, the sd of a new run around
    it (its own scatter and the centre's error) and the degrees of freedom of that sd."""

    centre: float
    scale: float
    freedom: float  # inf when a suite's spreads pooled as one (moderation.Prior)

    def half(self, confidence: float) -> float:
        """Half-width of the t prediction interval at ``confidence``."""
        return t_quantile(1 - (1 - confidence) / 2, self.freedom) * self.scale

    def p_values(self, beyond_worse: float, beyond_better: float) -> tuple[float, float]:
        """(p_value, p_better) of a value lying these distances beyond the thresholds.

        A distance is positive beyond the threshold; the p-value is the chance a new
        run exactly at the threshold lies as far beyond it: 1 - T(distance / scale).
        """

        def tail(distance: float) -> float:
            if self.scale <= 0:
                return 0.0 if distance > 0 else 1.0
            return 1 - t_cdf(distance / self.scale, self.freedom)

        return tail(beyond_worse), tail(beyond_better)


def _band(values: Sequence[float], prior: Prior | None = None) -> Band:
    """The mean model: a new run is one draw from the runs' spread, sd * sqrt(1 + 1/n)
    on n - 1 degrees of freedom (the sampling error of the mean is in the ``1/n``);
    with a ``prior`` the variance is first pooled with the suite's (suite_prior)."""
    count = len(values)
    variance, freedom = statistics.variance(values), float(count - 1)
    if prior is not None:
        variance, freedom = prior.moderate(variance, freedom)
    scale = math.sqrt(variance * (1 + 1 / count))
    return Band(statistics.fmean(values), scale, freedom)


@dataclass(frozen=True)
class CapacityFit:
    """The least-squares line y = intercept + slope * x through the runs, and its
    prediction of one new run at the head's x (docs/paired.md, "History baselines")."""

    slope: float
    intercept: float
    expected: float  # the line at the head's x
    half: float  # half-width of the t prediction interval of one new run there
    scale: float = 0.0  # sd of one new run there (half = t quantile * scale)
    freedom: int = 1


def fit_on_capacity(
    xs: Sequence[float], ys: Sequence[float], x0: float, confidence: float
) -> CapacityFit:
    """Ordinary least squares of ``ys`` on ``xs``, predicting one new run at ``x0``.

    The half-width is t(1 - (1 - c)/2, n - 2) * s * sqrt(1 + 1/n + (x0 - xbar)^2 / Sxx),
    s the residual standard deviation on n - 2 degrees of freedom: the new run's own
    scatter, the error of the line's level and that of its slope, which grows the
    further the head lies from the runs' centre.
    """
    count = len(xs)
    if count != len(ys) or count < 3:
        raise ValueError("need as many x as y, and at least 3 of them")
    line = least_squares(xs, ys)
    spread = math.sqrt(line.residual / (count - 2))
    scale = spread * math.sqrt(1 + 1 / count + (x0 - line.x_mean) ** 2 / line.sxx)
    band = Band(line.at(x0), scale, count - 2)
    return CapacityFit(
        line.slope, line.intercept, band.centre, band.half(confidence), scale, count - 2
    )


def _capacity_shares(
    usable: Sequence[Record], head: Record, speedup_threshold: float
) -> tuple[list[float], float] | None:
    """The runs' and the head's fed shares when a fit on them is warranted, else None.

    Warranted when every run and the head measured its capacity, there are at least
    MIN_FIT_RUNS runs, and the runs' fed shares differ by more than the capacity
    tolerance (max/min - 1): a flat history has nothing to fit, and its spread is
    the plain mean model's.
    """
    shares = [fed_share(run) for run in usable]
    at_head = fed_share(head)
    known = [share for share in shares if share is not None and share > 0]
    if at_head is None or at_head <= 0 or len(known) < len(shares):
        return None
    if len(known) < MIN_FIT_RUNS:
        return None
    if max(known) / min(known) - 1 <= capacity_tolerance(speedup_threshold):
        return None
    return known, at_head


def compare_to_history(
    runs: Sequence[Record],
    head: Record,
    fail_on: FailOn,
    *,
    confidence: float = 0.95,
    window: int = WINDOW,
    prior: Prior | None = None,
) -> TestChange:
    """Judge ``head`` against the last ``window`` of ``runs`` (oldest first) of one test.

    Runs on another kind of engine (embedded vs cluster) are left out, as
    regression.engine_mismatch says; runs of any capacity are kept. With fewer than
    MIN_RUNS left the single-run rule judges the head against the latest run, and a
    note says so; that run may itself be incomparable.

    When the kept runs' capacities vary materially (every one and the head's known,
    at least MIN_FIT_RUNS runs), the test's own sensitivity to capacity is fitted
    (fit_on_capacity: log speedup per worker on log fed share) and the head is judged
    against the line's prediction at its capacity. Inside the runs' range of fed
    shares the capacity is modelled and excuses nothing; outside it the line is
    extrapolated and regression.excuse_by_capacity weighs the head against the run
    of nearest fed share. Otherwise the mean model holds, and the capacity is weighed
    against the latest run's. The transport share always keeps the mean model.
    A ``prior`` (suite_prior: the spread of the suite's tests) moderates the mean
    model's speedup spread; one test alone has none.
    """
    if fail_on.speedup is None or fail_on.overhead is None:
        raise ValueError("fail_on must give both thresholds")
    usable = [run for run in runs if engine_mismatch(run, head) is None][-window:]
    if len(usable) < MIN_RUNS:
        return _single_run(runs, usable, head, fail_on, confidence)
    latest = usable[-1]
    band, reference, notes, workers = _speedup_band(
        usable, head, fail_on.speedup, confidence, prior
    )
    changes = [_speedup_change(band, head, fail_on.speedup, confidence, workers)]
    transport = [s for run in usable if (s := run.sample_transport_share) is not None]
    share = head.sample_transport_share
    if share is not None and len(transport) >= MIN_RUNS:
        changes.append(_overhead_change(_band(transport), share, fail_on.overhead, confidence))
    if latest.workers != head.workers:
        notes.append(Note("workers-differ", (latest.workers, head.workers, "the latest run")))
    status = min((change.status for change in changes), key=lambda status: status.rank)
    test = TestChange(head.nodeid, status, latest, head, tuple(changes), tuple(notes))
    if reference is None:
        return test
    return excuse_by_capacity(test, reference, fail_on.speedup)


def _single_run(
    runs: Sequence[Record],
    usable: Sequence[Record],
    head: Record,
    fail_on: FailOn,
    confidence: float,
) -> TestChange:
    """Fewer than MIN_RUNS comparable runs: the single-run rule against the latest run."""
    latest = runs[-1] if runs else None
    single = compare_records(latest, head, fail_on, confidence=confidence)
    if latest is None:
        return single
    note = Note("history-single", (len(usable), MIN_RUNS))
    return dataclasses.replace(single, notes=(*single.notes, note))


def _speedup_band(
    usable: Sequence[Record],
    head: Record,
    threshold: float,
    confidence: float,
    prior: Prior | None = None,
) -> tuple[Band, Record | None, list[Note], int]:
    """The band of log speedup per worker a new run is expected in, the run whose
    capacity excuse_by_capacity weighs (None: the capacity is modelled), the notes,
    and the worker count of the expected speedup (the latest run's for the mean
    model, the head's for a fit).

    Speedups vary by factors (a slower runner divides them): the band is built on
    their logarithms, so it is symmetric in ratio and never reaches a speedup of 0.
    """
    logs = [math.log(run.speedup_per_worker) for run in usable]
    shares = _capacity_shares(usable, head, threshold)
    if shares is None:
        notes = [Note("history-spread", (len(usable),))]
        if prior is not None:
            notes.append(Note("history-pooled", (prior.tests, prior.variance, prior.freedom)))
        band = _band(logs, prior)
        return band, usable[-1], notes + _unknown_capacity(usable, head), usable[-1].workers
    known, at_head = shares
    fit = fit_on_capacity([math.log(s) for s in known], logs, math.log(at_head), confidence)
    band = Band(fit.expected, fit.scale, fit.freedom)
    if fit.slope < 0:
        # less capacity never raises a speedup: a falling line is noise, and the best
        # line that does not fall is the flat one, the runs' mean and its band
        band = _band(logs)
    assert head.capacity is not None  # _capacity_shares checked it
    fitted = (len(usable), max(fit.slope, 0.0), math.exp(band.centre) * head.workers)
    slack = 1 + capacity_tolerance(threshold)
    if min(known) / slack <= at_head <= max(known) * slack:
        # modelled: nothing left for the capacity to excuse
        return band, None, [Note("history-fit", (*fitted, head.capacity, None))], head.workers
    # extrapolated: the line may not hold that far (an Amdahl curve bends), so the
    # capacity gap from the nearest run may still excuse a regression
    nearest = min(  # the latest of equally near runs
        reversed(list(zip(known, usable, strict=True))),
        key=lambda pair: abs(math.log(pair[0] / at_head)),
    )[1]
    outside = (min(known), max(known), at_head)
    return band, nearest, [Note("history-fit", (*fitted, head.capacity, outside))], head.workers


def judge_on_band(
    metric: str,
    base_value: float,
    head_value: float,
    change: Band,
    threshold: float,
    confidence: float,
) -> Change:
    """A change whose estimate and spread are ``change`` (log of the speedup ratio, or
    the transport share's difference), judged against the threshold: the one place a
    t band becomes a verdict (histories here, paired runs in pairwise.py)."""
    centre, half = change.centre, change.half(confidence)
    if metric == "speedup":
        worse = math.log1p(-threshold) - centre if threshold < 1 else -math.inf
        better = centre - math.log1p(threshold) if math.isfinite(threshold) else -math.inf
        estimate = math.expm1(centre)
        interval = (math.expm1(centre - half), math.expm1(centre + half))
    else:
        worse, better = centre - threshold, -threshold - centre
        estimate, interval = centre, (centre - half, centre + half)
    return judge_change(
        metric,
        base_value,
        head_value,
        estimate,
        interval,
        threshold,
        metric == "speedup",
        change.p_values(worse, better),
        confidence,
    )


def _speedup_change(
    band: Band, head: Record, threshold: float, confidence: float, workers: int
) -> Change:
    """The head's speedup per worker against the band, in relative terms; ``workers``
    turns the expected speedup per worker into the speedup the report shows."""
    value = head.speedup_per_worker
    shift = Band(math.log(value) - band.centre, band.scale, band.freedom)
    expected = math.exp(band.centre) * workers
    return judge_on_band("speedup", expected, value * head.workers, shift, threshold, confidence)


def _overhead_change(band: Band, share: float, threshold: float, confidence: float) -> Change:
    """The head's transport share against the runs' mean and spread, in absolute terms."""
    shift = Band(share - band.centre, band.scale, band.freedom)
    return judge_on_band("overhead", band.centre, share, shift, threshold, confidence)


def _unknown_capacity(usable: Sequence[Record], head: Record) -> list[Note]:
    """A note when capacity is known on one side only, as regression.capacity_unknown."""
    unknown = sum(1 for run in usable if run.capacity is None)
    if head.capacity is None and len(usable) > unknown:
        return [Note("history-unmeasured-in-run")]
    if head.capacity is not None and unknown:
        return [Note("history-unmeasured-in-runs", (unknown, len(usable)))]
    return []


def suite_prior(runs: Sequence[Results], window: int = WINDOW) -> Prior | None:
    """The prior of the between-run variances of log speedup per worker over the tests
    of a history (moderation.estimate_prior), each test on its last ``window`` runs,
    or None with fewer than moderation.MIN_TESTS tests of MIN_RUNS runs.

    Each test's variance depends on its saved runs only, not on the head, so one
    prior serves every test a session judges. A capacity fit keeps its own residual
    spread: the prior is of the mean model's spreads, which capacity widens.
    """
    logs: dict[str, list[float]] = {}
    for run in runs:
        for nodeid, record in run.records.items():
            if record.serial and record.parallel and min(*record.serial, *record.parallel) > 0:
                logs.setdefault(nodeid, []).append(math.log(record.speedup_per_worker))
    kept = [values[-window:] for values in logs.values() if len(values) >= MIN_RUNS]
    return estimate_prior(
        [statistics.variance(values) for values in kept], [len(values) - 1 for values in kept]
    )


_PRIORS: list[tuple[Results, Prior | None]] = []  # the last baseline's, for judge_test


def _prior_of(baseline: Results) -> Prior | None:
    """suite_prior of ``baseline``, computed once per baseline object."""
    if not _PRIORS or _PRIORS[0][0] is not baseline:
        _PRIORS[:] = [(baseline, suite_prior(baseline.runs))]
    return _PRIORS[0][1]


def judge_for(baseline: Results, *, confidence: float = 0.95, pooled: bool = True) -> Judge:
    """How to compare one test against ``baseline``: its history, or the one run it is.

    ``pooled``: a history's tests share their spread's prior (suite_prior), as a run
    of them is judged; False judges each test on its own runs alone.
    """
    if not baseline.runs:
        return lambda base, head, fail_on: compare_records(
            base, head, fail_on, confidence=confidence
        )

    def against_history(base: Record | None, head: Record | None, fail_on: FailOn) -> TestChange:
        runs = (
            []
            if head is None
            else [run.records[head.nodeid] for run in baseline.runs if head.nodeid in run.records]
        )
        if head is None or not runs:
            return compare_records(base, head, fail_on, confidence=confidence)
        return compare_to_history(runs, head, fail_on, confidence=confidence, prior=prior)

    prior = _prior_of(baseline) if pooled else None
    return against_history


def pools(family: str) -> bool:
    """Whether a run judged under ``family`` pools its tests' spreads.

    Pooling raises the noisiest test's own false-alarm rate (benchmarks/CALIBRATION.md:
    2.6% -> 6.2% at the threshold with 5 runs); a family rule's first step absorbs
    that, judging each test alone (``none``) would pass it on to the run.
    """
    return family != "none"


def judge_test(
    baseline: Results,
    head: Record,
    fail_on: FailOn,
    *,
    confidence: float = 0.95,
    pooled: bool = True,
) -> TestChange:
    """The plugin's one call per measured test (--parscale-compare, single file or history)."""
    return judge_for(baseline, confidence=confidence, pooled=pooled)(
        baseline.records.get(head.nodeid), head, fail_on
    )


def judged_against(baseline: Results) -> Note:
    """What the baseline is, as a note for reports and summaries (notewords words it)."""
    if not baseline.runs:
        return Note("against-single", (baseline.path,))
    prior = _prior_of(baseline)
    return Note(
        "against-history",
        (
            baseline.path,
            len(baseline.runs),
            WINDOW,
            MIN_RUNS,
            None if prior is None else prior.tests,
            crowded_window(baseline.runs),
        ),
    )


def crowded_window(runs: Sequence[Results], window: int = WINDOW) -> Note | None:
    """A warning when the window's runs were saved too close together, else None.

    Runs saved minutes apart saw one state of the machine (the same neighbours, the
    same runner): their spread understates the spread between states that a later
    run meets, and the band calls that difference a change (issue 21 measured
    11-16% A/A false alarms for such a history under the point-estimate rule).
    """
    kept = runs[-window:]
    if len(kept) < MIN_RUNS:
        return None
    try:
        times = [datetime.datetime.fromisoformat(run.created) for run in kept]
        span = max(times) - min(times)
    except (TypeError, ValueError):  # a hand-written or naive timestamp: say nothing
        return None
    if span >= CROWDED:
        return None
    return Note(
        "crowded-window",
        (len(kept), span.total_seconds() / 60, CROWDED.total_seconds() / 3600),
    )


def history_files(folder: Path) -> list[Path]:
    """The Action's kept results in ``folder``, oldest first: ci.store numbers them."""
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def load_runs(path: str | os.PathLike[str]) -> tuple[Results, ...]:
    """The runs of a history, oldest first, from a history baseline (``*.jsonl``) or
    the Action's ``history/`` folder of results files; anything else is an error
    naming the path."""
    name = os.fspath(path)
    if Path(name).is_dir():
        files = history_files(Path(name))
        if not files:
            raise BaselineError(name, "holds no results files (*.json): not a history folder")
        return tuple(load(file) for file in files)
    loaded = load(name)
    if not loaded.runs:
        raise BaselineError(
            name,
            "is a single results file; a trend needs a history (*.jsonl) or the "
            "Action's history/ folder",
        )
    return loaded.runs
