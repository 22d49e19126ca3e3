"""The overall time budget of a command's remote calls, and the shared retry budget."""
from __future__ import annotations

import contextlib
import contextvars
import math
import threading
import time
from collections.abc import Iterator

from ostk.errors import RequestTimeout


class Deadline:
    """An overall time budget for a command's remote calls.

    Every session built with it (``build_session(settings, deadline=d)``) cuts
    each request's timeouts to what remains, stops retrying when a retry (or
    the ``Retry-After`` wait before it) would not fit, and draws every retry
    from one budget shared by the whole run. It also remembers how long each
    host took, so the error can name the slow one. Thread-safe.

    Example::

        deadline = Deadline(60, "the review's remote calls")
    """

    def __init__(self, seconds: float, what: str, *, retry_budget: int = 10) -> None:
        if not seconds > 0 or not math.isfinite(seconds):
            raise ValueError(f"a deadline needs a positive number of seconds, not {seconds!r}")
        #: The budget, in seconds.
        self.seconds = float(seconds)
        #: What the budget is for, for messages ("ostk recheck").
        self.what = what
        self._ends = time.monotonic() + self.seconds
        self._retries_left = retry_budget
        self._spent: dict[str, float] = {}
        self._lock = threading.Lock()
        self._finished = False

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self._ends - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    @property
    def finished(self) -> bool:
        """True once the command that set it (:func:`use_deadline`) is over."""
        return self._finished

    def finish(self) -> None:
        self._finished = True

    def take_retry(self) -> bool:
        """Spend one retry from the shared budget; False when none is left."""
        with self._lock:
            if self._retries_left <= 0:
                return False
            self._retries_left -= 1
            return True

    def record(self, host: str, seconds: float) -> None:
        """Account ``seconds`` spent waiting on ``host``."""
        with self._lock:
            self._spent[host] = self._spent.get(host, 0.0) + seconds

    def slowest(self) -> str | None:
        """The host that took most of the time so far, if any."""
        with self._lock:
            return max(self._spent, key=self._spent.__getitem__) if self._spent else None

    def error(self, what: str, host: str) -> RequestTimeout:
        """The error for running out of time while doing ``what`` with ``host``."""
        slow = self.slowest() or host
        return RequestTimeout(
            f"{what}: gave up, {slow} is too slow: {self.what} ran past its "
            f"{self.seconds:g} s deadline (raise it with --timeout)"
        )


_deadline: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("ostk_deadline", default=None)


def current_deadline() -> Deadline | None:
    """The deadline set by :func:`use_deadline` (the CLI's ``--timeout``), if any."""
    return _deadline.get()


@contextlib.contextmanager
def use_deadline(deadline: Deadline | None) -> Iterator[Deadline | None]:
    """Make ``deadline`` the default of every session inside the block.

    Sessions built inside it keep it for calls from other threads; once the
    block ends it is finished, so a session cached across commands (in one
    process) never carries a spent deadline into the next one.
    """
    token = _deadline.set(deadline)
    try:
        yield deadline
    finally:
        _deadline.reset(token)
        if deadline is not None:
            deadline.finish()
