"""Transient failures are retried with backoff; others surface at once."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from services.audit.retry import is_transient
from services.screening.metrics import ScreeningMetrics
from services.screening.retry import retry_transient


async def test_a_connection_dropped_mid_operation_is_retried() -> None:
    attempts: list[int] = []

    async def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise asyncpg.InternalClientError("cannot switch to state 12")
        return "done"

    result = await retry_transient(
        flaky, stage="test", metrics=ScreeningMetrics(), stopping=lambda: False, max_delay=0.01
    )
    assert result == "done"
    assert len(attempts) == 3


async def test_a_defect_is_not_retried() -> None:
    async def broken() -> None:
        raise ValueError("a bug, not the database")

    with pytest.raises(ValueError, match="a bug"):
        await retry_transient(
            broken, stage="test", metrics=ScreeningMetrics(), stopping=lambda: False
        )


def test_the_audit_writer_also_treats_a_dropped_connection_as_transient() -> None:
    assert is_transient(asyncpg.InternalClientError("cannot switch to state 12"))
    assert not is_transient(ValueError("bug"))


async def test_an_attempt_that_hangs_is_abandoned_and_retried() -> None:
    attempts: list[int] = []

    async def hangs_once() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            await asyncio.sleep(3600)
        return "done"

    result = await retry_transient(
        hangs_once,
        stage="test",
        metrics=ScreeningMetrics(),
        stopping=lambda: False,
        max_delay=0.01,
        attempt_timeout=0.2,
    )
    assert result == "done"
    assert len(attempts) == 2
