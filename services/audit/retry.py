"""Retrying database work through outages: bounded exponential backoff, never giving up.

A batch that cannot be written is retried until it is (its offsets stay uncommitted meanwhile),
so an outage delays records but never loses or duplicates them. Errors that retrying cannot fix
(a record the database refuses) are told apart, so that one bad record cannot stall the stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from services.common.logging import get_logger
from services.common.retry_policy import is_transient_database_error

log = get_logger(__name__)

T = TypeVar("T")


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same work later may succeed: the policy both services share."""
    return is_transient_database_error(exc)


@dataclass(frozen=True)
class Backoff:
    """Delays of ``initial * 2**n`` seconds, capped at ``maximum``."""

    initial: float = 0.2
    maximum: float = 5.0

    def delay(self, attempt: int) -> float:
        return float(min(self.maximum, self.initial * (2 ** min(attempt, 30))))


async def retry_transient(
    work: Callable[[], Awaitable[T]],
    *,
    backoff: Backoff,
    what: str,
    on_retry: Callable[[BaseException], None] | None = None,
) -> T:
    """Run ``work`` until it succeeds; transient errors wait and retry, others propagate."""
    attempt = 0
    while True:
        try:
            return await work()
        except Exception as exc:
            if not is_transient(exc):
                raise
            delay = backoff.delay(attempt)
            log.warning(
                "database unavailable, retrying",
                what=what,
                attempt=attempt + 1,
                retry_in_s=delay,
                error=f"{type(exc).__name__}: {exc}",
            )
            if on_retry is not None:
                on_retry(exc)
            attempt += 1
            await asyncio.sleep(delay)
