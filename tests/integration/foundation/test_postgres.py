"""The local PostgreSQL admits the service roles with their passwords, and only with them."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from deploy.local import RuntimeState
from tests.conftest import DbConnect

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("role", "db_role"),
    [
        ("admin", "lodestone_admin"),
        ("screening", "lodestone_screening"),
        ("audit", "lodestone_audit_writer"),
        ("auditor", "lodestone_auditor"),
    ],
)
async def test_service_role_connects(db_connect: DbConnect, role: str, db_role: str) -> None:
    conn = await db_connect(role)
    row = await conn.fetchrow(
        "SELECT current_user AS who, rolsuper FROM pg_roles WHERE rolname = current_user"
    )
    assert row is not None
    assert row["who"] == db_role
    assert row["rolsuper"] is False


async def test_wrong_password_is_refused(runtime: RuntimeState) -> None:
    parts = urlsplit(runtime.dsn("screening"))
    netloc = f"{parts.username}:not-the-password@{parts.hostname}:{parts.port}"
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(urlunsplit(parts._replace(netloc=netloc)))


async def test_the_nologin_owner_role_owns_the_database(db_connect: DbConnect) -> None:
    conn = await db_connect("admin")
    owner = await conn.fetchval(
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
    )
    assert owner == "lodestone_owner"
    assert (
        await conn.fetchval("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", owner) is False
    )
