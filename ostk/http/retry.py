"""The retry policy: urllib3's Retry bounded by ``Retry-After`` caps, the deadline and its retry budget."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import urllib3.exceptions
from urllib3.util.retry import Retry

from ostk.http.deadline import Deadline


class BoundedRetry(Retry):
    """urllib3's Retry, but neither a server nor a retry storm can outlast us.

    ``Retry-After`` is capped at ``max_retry_after``; with a deadline, a retry
    happens only if its wait fits in the time left and the shared budget has a
    retry to spare. When a status retry is refused, urllib3 hands back the
    last answer (``raise_on_status=False``), so the caller sees the real 429.
    """

    max_retry_after: float = 30.0
    deadline_of: Callable[[], Deadline | None] | None = None

    @property
    def deadline(self) -> Deadline | None:
        return self.deadline_of() if self.deadline_of is not None else None

    def new(self, **kw: Any) -> BoundedRetry:
        retry = super().new(**kw)
        retry.max_retry_after = self.max_retry_after
        retry.deadline_of = self.deadline_of
        return retry

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        if value is None:
            return None
        return min(value, self.max_retry_after)

    def _wait_before(self, response: Any) -> float:
        if response is not None and self.respect_retry_after_header:
            retry_after = self.get_retry_after(response)
            if retry_after is not None:
                return retry_after
        return self.get_backoff_time()

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Retry:
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        deadline = self.deadline
        if deadline is not None:
            assert isinstance(retry, BoundedRetry)
            wait = retry._wait_before(response)
            if wait >= deadline.remaining() or not deadline.take_retry():
                reason = error or urllib3.exceptions.ResponseError("no time left to retry")
                raise urllib3.exceptions.MaxRetryError(_pool, url or "", reason) from reason
        return retry

    def sleep(self, response: Any = None) -> None:
        wait = self._wait_before(response)
        if self.deadline is not None:
            wait = min(wait, self.deadline.remaining())
        if wait > 0:
            time.sleep(wait)
