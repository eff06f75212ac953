"""Session fixtures handing the real Kafka broker and PostgreSQL to the tests.

``runtime`` starts the local runtime (``deploy.local``) unless it is already running, applies the
migrations once per session, exports the ``LODESTONE_…`` settings into ``os.environ`` (so code that
reads ``get_settings()`` finds them) and, at the end, stops only what it started itself.
Unit tests do not ask for it and so never start anything.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from deploy.local import Runtime, RuntimeState
from services.common.kafka_security import kafka_client_options
from services.common.migrations import migrate_all
from services.common.settings import get_settings

NewTopicFactory = Callable[..., Awaitable[str]]
DbConnect = Callable[..., Awaitable[asyncpg.Connection]]


@pytest.fixture(scope="session")
def runtime() -> Iterator[RuntimeState]:
    """The running local runtime: ``.kafka_bootstrap``, ``.dsn(role)``, ``.environment()``.

    Roles for ``dsn``: ``admin`` (owner, migrations), ``screening``, ``audit`` (insert-only
    writer), ``auditor`` (read-only).
    """
    local = Runtime()
    state = local.up()  # idempotent: reuses what runs, applies new migrations
    saved = {key: os.environ.get(key) for key in state.environment()}
    os.environ.update(state.environment())
    get_settings.cache_clear()
    try:
        yield state
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
        local.stop(state.started)


@pytest.fixture(scope="session")
async def migrated(runtime: RuntimeState) -> RuntimeState:
    """The runtime with every component's migrations applied (``up`` did; this re-checks)."""
    await migrate_all(runtime.dsn("admin"))
    return runtime


@pytest.fixture
async def new_topic(runtime: RuntimeState) -> AsyncIterator[NewTopicFactory]:
    """Factory: ``await new_topic(partitions=1, configs=None, prefix="test")`` -> topic name.

    Topics are unique per call and deleted when the test ends.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=runtime.kafka_bootstrap, **kafka_client_options())
    await admin.start()
    created: list[str] = []

    async def make(
        partitions: int = 1, configs: dict[str, str] | None = None, prefix: str = "test"
    ) -> str:
        name = f"{prefix}.{uuid.uuid4().hex[:12]}"
        response = await admin.create_topics(
            [NewTopic(name, partitions, 1, topic_configs=configs or {})], timeout_ms=10000
        )
        errors = [error for error in response.topic_errors if error[1] != 0]
        assert not errors, f"creating topic {name} failed: {errors}"
        created.append(name)
        return name

    try:
        yield make
    finally:
        if created:
            await admin.delete_topics(created, timeout_ms=10000)
        await admin.close()


@pytest.fixture
async def db_connect(migrated: RuntimeState) -> AsyncIterator[DbConnect]:
    """Factory: ``await db_connect("screening")`` -> an asyncpg connection, closed afterwards."""
    connections: list[asyncpg.Connection] = []

    async def connect(role: str = "admin") -> asyncpg.Connection:
        conn = await asyncpg.connect(migrated.dsn(role))
        connections.append(conn)
        return conn

    try:
        yield connect
    finally:
        for conn in connections:
            await conn.close()
