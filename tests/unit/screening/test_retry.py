"""Transient failures are retried with backoff; others surface at once."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from aiokafka.errors import (
    CorruptRecordException,
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    RecordTooLargeError,
)

from services.audit.retry import is_transient
from services.screening.metrics import ScreeningMetrics
from services.screening.retry import is_retryable, retry_transient


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


_TRANSIENT = [
    asyncpg.exceptions.ConnectionDoesNotExistError,  # 08003
    asyncpg.exceptions.SerializationError,  # 40001
    asyncpg.exceptions.DeadlockDetectedError,  # 40P01
    asyncpg.exceptions.DiskFullError,  # 53100
    asyncpg.exceptions.OutOfMemoryError,  # 53200
    asyncpg.exceptions.TooManyConnectionsError,  # 53300
    asyncpg.exceptions.LockNotAvailableError,  # 55P03
    asyncpg.exceptions.AdminShutdownError,  # 57P01
    asyncpg.exceptions.CannotConnectNowError,  # 57P03
    asyncpg.exceptions.QueryCanceledError,  # 57014: statement timeout
    asyncpg.exceptions.PostgresIOError,  # 58030
]
_PERMANENT = [
    asyncpg.exceptions.UntranslatableCharacterError,  # 22P05: a NUL in text
    asyncpg.exceptions.CharacterNotInRepertoireError,  # 22021
    asyncpg.exceptions.NumericValueOutOfRangeError,  # 22003
    asyncpg.exceptions.StringDataRightTruncationError,  # 22001
    asyncpg.exceptions.UniqueViolationError,  # 23505
    asyncpg.exceptions.CheckViolationError,  # 23514
    asyncpg.exceptions.InsufficientPrivilegeError,  # 42501
    asyncpg.exceptions.UndefinedColumnError,  # 42703
    asyncpg.exceptions.TransactionIntegrityConstraintViolationError,  # 40002
    asyncpg.exceptions.RaiseError,  # P0001: a trigger refusing the write
]


@pytest.mark.parametrize("error", _TRANSIENT, ids=lambda e: e.sqlstate)
def test_both_services_retry_what_may_pass(error: type[asyncpg.PostgresError]) -> None:
    assert is_transient(error("x"))
    assert is_retryable(error("x"))


@pytest.mark.parametrize("error", _PERMANENT, ids=lambda e: e.sqlstate)
def test_data_and_integrity_errors_are_permanent_in_both_services(
    error: type[asyncpg.PostgresError],
) -> None:
    assert not is_transient(error("x"))
    assert not is_retryable(error("x"))


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (KafkaConnectionError(), True),
        (KafkaTimeoutError(), True),  # a send while the broker restarts
        (NotLeaderForPartitionError(), True),
        (MessageSizeTooLargeError(), False),
        (RecordTooLargeError(), False),
        (CorruptRecordException(), False),
    ],
)
def test_broker_failures_are_transient_unless_the_record_itself_is_refused(
    error: Exception, transient: bool
) -> None:
    assert is_retryable(error) is transient


async def test_a_permanent_database_error_surfaces_at_once_instead_of_looping() -> None:
    attempts: list[int] = []

    async def refuses() -> None:
        attempts.append(1)
        raise asyncpg.exceptions.UntranslatableCharacterError("unsupported Unicode escape")

    with pytest.raises(asyncpg.exceptions.UntranslatableCharacterError):
        await retry_transient(
            refuses, stage="test", metrics=ScreeningMetrics(), stopping=lambda: False
        )
    assert attempts == [1]


def test_an_acl_refusal_is_retried_but_told_apart() -> None:
    from aiokafka.errors import TopicAuthorizationFailedError

    from services.common.retry_policy import is_refused_by_acl

    refusal = TopicAuthorizationFailedError("decisions.v1")
    assert is_retryable(refusal)  # ADR 0030: an operator may grant it; nothing is committed
    assert is_refused_by_acl(refusal)
    assert not is_refused_by_acl(KafkaConnectionError())
