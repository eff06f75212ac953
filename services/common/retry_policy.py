"""Which failures are worth retrying: one policy for both services.

A failure is *transient* when the same work may succeed later without anything about it changing:
the database or broker is away, busy, or shutting down. It is *permanent* when the work itself
is refused — a value PostgreSQL cannot store, a constraint, a record too large for the broker.
Retrying a permanent failure for ever is how one bad record stalls a partition; so anything not
known to be transient is permanent, and the caller isolates it (splits the batch, dead-letters
the one record) instead of retrying.

PostgreSQL failures are classified by SQLSTATE (https://www.postgresql.org/docs/15/errcodes-appendix.html):

| class / code | meaning | transient |
|---|---|---|
| ``08`` | connection exception | yes |
| ``40001``, ``40P01`` | serialization failure, deadlock | yes (the transaction is re-run) |
| ``53`` | insufficient resources (disk full, out of memory, too many connections) | yes |
| ``55P03`` | lock not available (``lock_timeout``) | yes |
| ``57`` | operator intervention: shutdown, cannot connect now, statement timeout | yes |
| ``58`` | system error (I/O) | yes |
| ``22``, ``23``, ``42`` … | data exception, integrity violation, syntax/privilege … | **no** |
"""

from __future__ import annotations

import asyncpg
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    CorruptRecordException,
    GroupAuthorizationFailedError,
    InvalidTimestampError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordTooLargeError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)

from services.common.pool import CONNECTION_LOST

TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "53", "57", "58"})
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})

#: Broker refusals that concern the record itself: sending it again cannot succeed.
PERMANENT_KAFKA_ERRORS: tuple[type[KafkaError], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    CorruptRecordException,
    InvalidTimestampError,
)


def is_transient_database_error(exc: BaseException) -> bool:
    """Whether retrying the same database work later may succeed (see the table above)."""
    if isinstance(exc, (*CONNECTION_LOST, TimeoutError)):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")
        return state in TRANSIENT_SQLSTATES or state[:2] in TRANSIENT_SQLSTATE_CLASSES
    return False


def is_transient_kafka_error(exc: BaseException) -> bool:
    """Whether a broker failure may pass: anything but a refusal of the record itself.

    aiokafka's own ``retriable`` flag is not used: it marks ``KafkaTimeoutError`` (what a send
    raises while the broker restarts) as not retriable, and a restart must be waited out.
    """
    return isinstance(exc, KafkaError) and not isinstance(exc, PERMANENT_KAFKA_ERRORS)


def is_transient(exc: BaseException) -> bool:
    """Database or broker failure that may pass (the one predicate both services use)."""
    return is_transient_database_error(exc) or is_transient_kafka_error(exc)


#: Refusals by the cluster's ACLs: retried (an operator may grant access; nothing is committed
#: meanwhile, ADR 0030), but logged as errors rather than as passing trouble.
ACL_REFUSALS: tuple[type[KafkaError], ...] = (
    TopicAuthorizationFailedError,
    GroupAuthorizationFailedError,
    ClusterAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)


def is_refused_by_acl(exc: BaseException) -> bool:
    return isinstance(exc, ACL_REFUSALS)
