"""Fixtures of the audit integration tests: a database of their own, and the superuser.

The audit tests run in a freshly created database (migrated with the audit migrations only),
not the shared ``lodestone`` database: they tamper with records as the superuser on purpose,
and a broken chain must not be left behind for anybody else.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from deploy.local import RuntimeConfig, RuntimeState
from deploy.local import postgres as local_postgres
from services.common.migrations import SERVICES_DIR, apply_migrations


@dataclass(frozen=True)
class AuditDatabase:
    """A migrated database of its own, with a URL per role."""

    name: str
    dsns: dict[str, str]

    def dsn(self, role: str) -> str:
        return self.dsns[role]

    async def connect(self, role: str) -> asyncpg.Connection[Any]:
        return await asyncpg.connect(self.dsns[role])


def _with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def superuser_connect(database: str = "postgres") -> asyncpg.Connection[Any]:
    """The cluster's superuser, over the runtime's unix socket (trusted, local only)."""
    cfg = RuntimeConfig.from_env()
    cluster = local_postgres.cluster(cfg)
    return await asyncpg.connect(
        host=str(cluster.socket_dir),
        port=cfg.pg_port,
        user=local_postgres.SUPERUSER,
        database=database,
    )


@contextlib.asynccontextmanager
async def fresh_database(runtime: RuntimeState) -> AsyncIterator[AuditDatabase]:
    """An empty database of its own (no migrations applied), dropped afterwards."""
    name = f"audit_test_{uuid.uuid4().hex[:10]}"
    su = await superuser_connect()
    try:
        await su.execute(f'CREATE DATABASE "{name}" OWNER lodestone_owner TEMPLATE template0')
        await su.execute(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC')
        await su.execute(
            f'GRANT CONNECT, TEMPORARY ON DATABASE "{name}" TO lodestone_audit_writer,'
            " lodestone_auditor"
        )
        yield AuditDatabase(name, {r: _with_database(runtime.dsn(r), name) for r in runtime.dsns})
    finally:
        await su.close()
        # A fresh connection: an outage test may have restarted the server meanwhile.
        su = await superuser_connect()
        try:
            await su.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await su.close()


@pytest.fixture(scope="module")
async def audit_db(runtime: RuntimeState) -> AsyncIterator[AuditDatabase]:
    async with fresh_database(runtime) as db:
        await apply_migrations(db.dsn("admin"), "audit", SERVICES_DIR / "audit" / "migrations")
        yield db
