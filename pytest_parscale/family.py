"""One family per run: the error of a run's verdicts controlled over all its cases.

A suite compares dozens of cases at once. Each case's p-value (the chance of data
this far beyond the threshold if the change were only at the threshold) is fine for
one case, but over 50 unchanged cases some would cross by chance alone. The run is
the unit of error (docs/measurement.md, "One family per run"):

- ``holm`` (the default): Holm's step-down adjustment; the chance that a run
  calls any case wrongly stays at the per-case level (family-wise error).
- ``bh``: Benjamini-Hochberg; the expected share of wrong calls among the
  called cases stays at that level (false-discovery rate). More power, weaker
  promise: for suites where a few extra suspects are cheap to recheck.
- ``none``: every case at the per-case level, as if it were the only one.

Pure: p-values in, p-values out; no pytest, no records. regression.apply_family
turns adjusted p-values into verdicts.
"""

from __future__ import annotations

from collections.abc import Sequence

RULES = ("holm", "bh", "none")
DEFAULT_RULE = "holm"
RULE_WORDS = {
    "holm": "Holm (family-wise)",
    "bh": "Benjamini-Hochberg (false-discovery rate)",
    "none": "no adjustment",
}


def parse_rule(text: str) -> str:
    """A family rule by name; ValueError naming the choices otherwise."""
    rule = text.strip().lower()
    if rule not in RULES:
        raise ValueError(f"is not one of {', '.join(RULES)}")
    return rule


def adjust(p_values: Sequence[float], rule: str) -> list[float]:
    """Adjusted p-values, in the order given: a case is called when its adjusted p <= alpha.

    Holm: the i-th smallest of m is multiplied by (m - i + 1), then made non-decreasing.
    BH: the i-th smallest is multiplied by m / i, then made non-increasing from the top.
    Both are capped at 1. Adjusted p-values are never below the raw ones, so the
    adjustment only ever withdraws a call, never makes one.
    """
    if rule not in RULES:
        raise ValueError(f"family rule {rule!r} is not one of {', '.join(RULES)}")
    count = len(p_values)
    if rule == "none" or count <= 1:
        return [min(1.0, max(0.0, value)) for value in p_values]
    order = sorted(range(count), key=lambda index: p_values[index])
    adjusted = [0.0] * count
    if rule == "holm":
        running = 0.0
        for rank, index in enumerate(order):
            running = max(running, min(1.0, (count - rank) * p_values[index]))
            adjusted[index] = running
        return adjusted
    running = 1.0
    for rank in range(count - 1, -1, -1):
        index = order[rank]
        running = min(running, count * p_values[index] / (rank + 1))
        adjusted[index] = min(1.0, running)
    return adjusted


def first_step(alpha: float, members: int, rule: str) -> float:
    """The level one case can be judged at before the others' p-values exist.

    A pytest session judges each test as it ends. alpha / m (Bonferroni) is the first
    step of both Holm and BH: whatever it calls, the whole-family rule calls too, so a
    test failed at this level is never withdrawn at the end of the session.
    """
    if rule == "none" or members <= 1:
        return alpha
    return alpha / members
