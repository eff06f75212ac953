"""Bounded exponential backoff for transient failures: retried without end, never skipped.

Only what :func:`is_retryable` calls transient is retried; anything else propagates at once,
so that the caller can isolate the one record that causes it (ADR 0005).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from services.common.logging import get_logger
from services.common.retry_policy import is_refused_by_acl, is_transient
from services.screening.metrics import ScreeningMetrics
from services.screening.screener import LedgerContentionError

log = get_logger(__name__)
T = TypeVar("T")


def is_retryable(exc: BaseException) -> bool:
    """A database or broker failure that may pass (:mod:`services.common.retry_policy`), or a
    ledger that kept changing under a settle: waiting and trying again is the cure."""
    return is_transient(exc) or isinstance(exc, LedgerContentionError)


#: Longest one attempt may take before it is abandoned and retried (a batch transaction or a
#: batch's acknowledgements take well under a second; a broker restart can take tens).
ATTEMPT_TIMEOUT_S = 60.0


class StoppingError(Exception):
    """Shutdown was requested while a transient failure was being retried."""


async def retry_transient(
    operation: Callable[[], Awaitable[T]],
    *,
    stage: str,
    metrics: ScreeningMetrics,
    stopping: Callable[[], bool],
    max_delay: float = 5.0,
    attempt_timeout: float = ATTEMPT_TIMEOUT_S,
) -> T:
    """Run ``operation`` until it succeeds; transient errors back off up to ``max_delay``.

    Each attempt is bounded by ``attempt_timeout``: after a PostgreSQL restart an attempt was
    seen to hang in the connection pool with no error at all, which stalled the partition; a
    bounded attempt turns that into a ``TimeoutError`` and a fresh try.
    """
    delay = 0.05
    while True:
        try:
            return await asyncio.wait_for(operation(), timeout=attempt_timeout)
        except Exception as exc:
            if not is_retryable(exc):
                raise
            metrics.transient_errors.labels(stage).inc()
            if stopping():
                raise StoppingError(stage) from exc
            if is_refused_by_acl(exc):  # an operator must grant it: say so, loudly
                log.error(
                    "not authorised by the cluster's ACLs; retrying until access is granted",
                    stage=stage,
                    error=repr(exc),
                    delay_s=delay,
                )
            else:
                log.warning(
                    "transient failure; retrying", stage=stage, error=repr(exc), delay_s=delay
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
