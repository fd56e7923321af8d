"""What a machine capacity difference excuses, when a comparison's two sides differ.

A head measured while other processes held some of the cores is slower for a reason
that has nothing to do with its code; a head that leaves cores idle lets others take
them and reads busier by its own doing. These rules say which verdicts a material
capacity difference can explain (docs/results-format.md, "Machine capacity"). Pure:
records in, notes and statuses out.
"""

from __future__ import annotations

import dataclasses
import math

from pytest_parscale.changes import Note, Status, TestChange
from pytest_parscale.results import Record
from pytest_parscale.thresholds import DEFAULT_FAIL_ON

# a capacity change smaller than this is never material, however tight the speedup
# threshold: a guard against the probe's own noise, a judgement not yet checked
# against measured figures (docs/results-format.md, "Machine capacity")
CAPACITY_FLOOR = 0.05


def excuse_by_capacity(test: TestChange, reference: Record, speedup_threshold: float) -> TestChange:
    """Apply a material capacity difference only to the verdict it could explain.

    A busier head can explain a regression as large as its loss of capacity: a map
    fed ``r`` of the cores it had loses at most about ``1 - r`` of its speedup (less
    when transport-bound), plus the threshold's slack. Such a regression is not
    judged (INCOMPARABLE, reason "capacity") only when the loss is external and the
    whole interval of the drop lies within what the lost cores explain
    (:func:`capacity_excuse`); otherwise it stands, with a note. A quieter head can
    explain an improvement and hide a loss: the verdict stands with a note
    (docs/results-format.md).
    """
    head = test.head
    why = capacity_mismatch(reference, head, speedup_threshold) if head is not None else None
    if why is None or head is None:
        return test
    # capacity_mismatch said something: both sides measured their capacity
    assert reference.capacity is not None
    assert head.capacity is not None
    sides = (reference.capacity, head.capacity)
    before, after = fed_share(reference) or 0.0, fed_share(head) or 0.0
    if after < before and test.status is Status.REGRESSION:
        refused = capacity_excuse(test, reference, head, speedup_threshold)
        if refused is None:
            return dataclasses.replace(
                test, status=Status.INCOMPARABLE, notes=(*test.notes, why), reason="capacity"
            )
        note = Note("capacity-judged", (*sides, refused))
    elif after < before:
        note = Note("capacity-busier-stands", sides)
    else:
        note = Note("capacity-quieter-stands", sides)
    return dataclasses.replace(test, notes=(*test.notes, note))


def capacity_excuse(
    test: TestChange, reference: Record, head: Record, speedup_threshold: float
) -> Note | None:
    """None when a busier head's capacity excuses its regression, else why it does not.

    Two conditions (issue 21): the loss is external, so this process tree used no
    fewer cores than in the reference (a head that leaves a core idle lets a
    neighbour take it, and the machine reads busier by the code's own doing); and the
    whole interval of the speedup's drop lies within what the lost cores explain.
    """
    before, after = fed_share(reference) or 0.0, fed_share(head) or 0.0
    slack = capacity_tolerance(speedup_threshold)
    explained = (after / before if before else 0.0) * (1 - slack) - 1  # the worst change
    speedup = next((c for c in test.changes if c.metric == "speedup"), None)
    if speedup is None or speedup.status is not Status.REGRESSION:
        return None  # not the speedup: a capacity loss explains any transport share
    own_before, own_after = _own(reference), _own(head)
    if own_before is None or own_after is None:
        return Note("own-unmeasured")
    if own_after < own_before * (1 - slack):
        return Note("own-fell", (own_before, own_after))
    if speedup.low < explained:
        return Note("beyond-capacity", (explained,))
    return None


def _own(record: Record) -> float | None:
    return None if record.capacity is None else record.capacity.own


def fed_share(record: Record) -> float | None:
    """The share of its workers the machine could feed: min(cores, workers) / workers.

    Cores beyond the worker count do not speed a map up, so 3.0 of 4 cores for 2
    workers is as good as 4.0 of 4; None when the capacity was not measured.
    """
    if record.capacity is None:
        return None
    return min(record.capacity.cores, record.workers) / record.workers


def capacity_tolerance(speedup_threshold: float) -> float:
    """The relative change of fed share that is material (docs/results-format.md).

    For work whose speedup scales with cores, a capacity change this large could
    alone move the speedup past the threshold; an off speedup threshold falls back
    to the default one, and CAPACITY_FLOOR keeps the probe's own noise out.
    """
    if not math.isfinite(speedup_threshold):
        speedup_threshold = DEFAULT_FAIL_ON.speedup or CAPACITY_FLOOR
    return max(CAPACITY_FLOOR, speedup_threshold)


def capacity_mismatch(base: Record, head: Record, speedup_threshold: float) -> Note | None:
    """Why the capacities of two runs differ materially, or None.

    Normalising the speedup to the capacity would be sound only for work whose
    speedup scales with cores, and transport-bound work does not, so no figure is
    adjusted: excuse_by_capacity decides which verdicts the difference can explain.
    When either side has no capacity this says nothing.
    """
    before, after = fed_share(base), fed_share(head)
    if before is None or after is None or before == after:
        return None
    tolerance = capacity_tolerance(speedup_threshold)
    if tolerance >= 1:
        return None
    low, high = sorted((before, after))
    if high > 0 and low / high >= 1 - tolerance:
        return None
    kept = after / before if before else None
    facts = (base.capacity, head.capacity, after < before, head.workers, kept, tolerance)
    return Note("capacity-differs", facts)


def capacity_unknown(base: Record, head: Record) -> list[Note]:
    """A note when only one side measured its capacity: compared as before, but say so."""
    if (base.capacity is None) == (head.capacity is None):
        return []
    if base.capacity is None:
        return [Note("capacity-unmeasured-in-baseline", (head.capacity,))]
    return [Note("capacity-unmeasured-in-run", (base.capacity,))]
