"""The serial reference under ``--parscale-timeout``, as the parallel map already is.

The serial run happens in the test process, so nothing outside can cancel it: a
``SIGALRM`` timer interrupts the main thread where it is and raises SerialTimeout
there, carrying the stack it was at. What cannot be bounded (README, "Timeouts"):
``os._exit`` in the test process, a C call that never returns to the interpreter
(a SIGALRM handler runs between bytecodes), a serial run in a thread other than
the main one, and platforms without SIGALRM (Windows), where it runs unbounded.
"""

from __future__ import annotations

import signal
import threading
import time
import traceback
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")


class SerialTimeout(BaseException):
    """The serial reference outlived --parscale-timeout.

    A BaseException, like pytest's own outcomes: an ``except Exception`` in the
    code under test must not swallow it and carry on unbounded.
    """


def bounded(run: Callable[[], T], timeout: float | None, what: str) -> Callable[[], T]:
    """``run``, failing with SerialTimeout after ``timeout`` seconds (None: unbounded)."""
    if timeout is None or not hasattr(signal, "setitimer"):
        return run

    def guarded() -> T:
        if threading.current_thread() is not threading.main_thread():
            return run()
        return _with_alarm(run, timeout, what)

    return guarded


def _with_alarm(run: Callable[[], T], timeout: float, what: str) -> T:
    def expired(signum: int, frame: FrameType | None) -> Any:
        stack = "".join(traceback.format_stack(frame)) if frame is not None else ""
        raise SerialTimeout(
            f"{what} did not finish within --parscale-timeout={timeout:g} s; it was at:\n{stack}"
        )

    started = time.monotonic()
    previous_handler = signal.signal(signal.SIGALRM, expired)
    previous_delay, _ = signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return run()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay > 0:  # someone else's alarm (pytest-timeout): give it back
            remaining = previous_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(remaining, 0.001))
