"""The exit codes of every ``parscale`` command: one enum, so a CI gate reads one
meaning per number whichever command (compare, show, report, paired, ci) it ran."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """What a ``parscale`` command's exit status says."""

    OK = 0  # no regression (or nothing to judge)
    REGRESSION = 1  # a regression, or a test that failed on one side without a measurement
    USAGE = 2  # bad usage, a bad file, revision or session (argparse's own errors are 2 too)
    INTERRUPTED = 130  # Ctrl-C or SIGTERM (parscale paired removes its worktrees first)
