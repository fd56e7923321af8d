"""Exceptions and warnings of pytest-parscale.

Kept free of pytest imports so the pure modules can raise them; the plugin turns
them into usage errors, skips or test failures.
"""

from __future__ import annotations


class ParscaleError(Exception):
    """Base of every error pytest-parscale raises on purpose."""


class ConfigError(ParscaleError):
    """A bad option, ini key, environment variable or marker argument.

    The message always names the value and where it came from.
    """

    def __init__(self, source: str, value: object, reason: str) -> None:
        self.source = source
        self.value = value
        self.reason = reason
        super().__init__(f"{source}: {value!r} {reason}")


class BackendUnavailable(ParscaleError):
    """A backend's package is missing or its engine could not be started."""


class ShippingError(ParscaleError):
    """A function or item cannot be sent to the backend's workers."""


class ResultMismatch(ParscaleError):
    """The parallel run returned something other than the serial reference."""


class WorkerCrashed(ParscaleError):
    """A worker process died while a measured map was running."""


class MapTimeout(ParscaleError):
    """A measured run did not finish within --parscale-timeout."""


class ParscaleWarning(UserWarning):
    """Undecided verdicts, oversubscription and other things a user should see."""


class BaselineError(ParscaleError):
    """A results file that cannot be read, parsed or understood; names the file and why."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")
