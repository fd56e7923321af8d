"""When a paired run looks, and when a test stops getting sessions.

A suite-scale paired run met two walls (benchmarks/SUITE_SCALE.md): a 25% drop with
a per-pair spread of ~0.18 needs 25-40 pairs under the run's family, and the run
spent its pairs on 48 unchanged tests that no number of pairs would ever call. Two
rules fix the split of the time, not the level:

- **Looks on a fixed schedule**, the minimum pairs and then each ~1.5 times the
  last (3, 5, 8, 12, 18, 27, 41, 62, 93...), up to the cap. Each look spends its
  share of the error (pairwise.look_confidence): the k-th the same whatever the cap,
  the last what is left, so a hard case can go on to 120 pairs (10 looks) at the
  level a look at every pair up to 10 had.
- **A test stops when its call is out of reach.** After a look, a test that is
  decided (regression, improvement, unchanged) or whose worst plausible change
  (the far end of a one-sided ``1 - REACH`` interval) would still not be called a
  regression at the cap, with the spread it shows, gets no more sessions; later
  sessions run only the open tests (``--parscale-only``). Stopping a test only
  ever withdraws a chance to call it, so the run's false-alarm level is kept; what
  it costs is power, simulated in benchmarks/calibration_cross.py.

Pure: numbers in, numbers out; no pytest, no clock.
"""

from __future__ import annotations

import math

from pytest_parscale.stats import t_quantile

GROWTH = 1.5  # each look after the first at about this many times the pairs of the last
REACH = 0.1  # one-sided: a test stops once its change is 90% sure to fall short of a call


def looks(min_pairs: int, max_pairs: int) -> tuple[int, ...]:
    """The pair counts a run capped at ``max_pairs`` looks at: ``min_pairs``, then
    each about GROWTH times the last (at least one more), the cap the last."""
    if min_pairs < 2 or max_pairs < min_pairs:
        raise ValueError(f"need 2 <= min_pairs <= max_pairs, got {min_pairs}, {max_pairs}")
    found = [min_pairs]
    while found[-1] < max_pairs:
        found.append(min(max_pairs, max(found[-1] + 1, math.ceil(found[-1] * GROWTH))))
    return tuple(found)


def out_of_reach(
    worse: float,
    spread: float,
    pairs: int,
    *,
    max_pairs: int,
    level: float,
    reach: float = REACH,
) -> bool:
    """True when a test cannot plausibly be called a regression by ``max_pairs``.

    ``worse`` is how far the mean per-pair difference lies beyond the threshold on
    the worse side (negative: short of it), ``spread`` the sd of the differences over
    ``pairs`` pairs, ``level`` the one-sided error a call at the cap is made at (the
    last look's share at the family's first step). A call at the cap needs
    ``worse > t(1 - level, N - 1) * spread / sqrt(N)``; the test is out of reach when
    even the upper end of ``worse``'s one-sided ``1 - reach`` interval falls short
    of that, assuming its spread holds.
    """
    if pairs < 2 or pairs >= max_pairs or not 0 < reach < 0.5:
        return False
    if spread <= 0:
        return worse <= 0
    upper = worse + t_quantile(1 - reach, pairs - 1) * spread / math.sqrt(pairs)
    needed = t_quantile(1 - level, max_pairs - 1) * spread / math.sqrt(max_pairs)
    return upper < needed
