"""The migration runner applies each file once, in order, and refuses edited history."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from deploy.local import RuntimeState
from services.common.migrations import (
    ChecksumMismatchError,
    MigrationError,
    apply_migrations,
    migrate_all,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def component(runtime: RuntimeState) -> AsyncIterator[str]:
    """A throw-away component name with its own schema; both are removed afterwards."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    yield name
    conn = await asyncpg.connect(runtime.dsn("admin"))
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        await conn.execute("DELETE FROM public.lodestone_migrations WHERE component = $1", name)
    finally:
        await conn.close()


def _write(directory: Path, name: str, sql: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(sql, encoding="utf-8")


async def test_applies_in_order_once(runtime: RuntimeState, component: str, tmp_path: Path) -> None:
    _write(tmp_path, "0002_rows.sql", f"INSERT INTO {component}.items VALUES (1);")
    _write(
        tmp_path,
        "0001_schema.sql",
        f"CREATE SCHEMA {component}; CREATE TABLE {component}.items (id int);",
    )
    dsn = runtime.dsn("admin")

    assert await apply_migrations(dsn, component, tmp_path) == ["0001_schema", "0002_rows"]
    assert await apply_migrations(dsn, component, tmp_path) == []

    _write(tmp_path, "0003_more.sql", f"INSERT INTO {component}.items VALUES (2);")
    assert await apply_migrations(dsn, component, tmp_path) == ["0003_more"]
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval(f"SELECT count(*) FROM {component}.items") == 2
        versions = await conn.fetch(
            "SELECT version FROM public.lodestone_migrations WHERE component = $1 ORDER BY 1",
            component,
        )
    finally:
        await conn.close()
    assert [r["version"] for r in versions] == ["0001_schema", "0002_rows", "0003_more"]


async def test_concurrent_runs_apply_once(
    runtime: RuntimeState, component: str, tmp_path: Path
) -> None:
    _write(tmp_path, "0001_schema.sql", f"CREATE SCHEMA {component};")
    results = await asyncio.gather(
        *(apply_migrations(runtime.dsn("admin"), component, tmp_path) for _ in range(4))
    )
    assert sorted(results) == [[], [], [], ["0001_schema"]]


async def test_changed_checksum_is_refused(
    runtime: RuntimeState, component: str, tmp_path: Path
) -> None:
    _write(tmp_path, "0001_schema.sql", f"CREATE SCHEMA {component};")
    await apply_migrations(runtime.dsn("admin"), component, tmp_path)
    _write(tmp_path, "0001_schema.sql", f"CREATE SCHEMA {component}; -- edited")
    with pytest.raises(ChecksumMismatchError):
        await apply_migrations(runtime.dsn("admin"), component, tmp_path)


async def test_failing_file_rolls_back_alone(
    runtime: RuntimeState, component: str, tmp_path: Path
) -> None:
    _write(tmp_path, "0001_schema.sql", f"CREATE SCHEMA {component};")
    _write(tmp_path, "0002_bad.sql", f"CREATE TABLE {component}.ok (id int); SELECT 1/0;")
    with pytest.raises(MigrationError):
        await apply_migrations(runtime.dsn("admin"), component, tmp_path)
    conn = await asyncpg.connect(runtime.dsn("admin"))
    try:
        assert await conn.fetchval("SELECT to_regclass($1)", f"{component}.ok") is None
        assert await conn.fetchval("SELECT to_regnamespace($1)", component) is not None
    finally:
        await conn.close()


async def test_migrate_all_skips_missing_and_applies_present(
    runtime: RuntimeState, component: str, tmp_path: Path
) -> None:
    _write(tmp_path / component / "migrations", "0001_schema.sql", f"CREATE SCHEMA {component};")
    (tmp_path / "no_migrations_here").mkdir()
    applied = await migrate_all(runtime.dsn("admin"), services_dir=tmp_path)
    assert applied == {component: ["0001_schema"]}
    assert await migrate_all(runtime.dsn("admin"), services_dir=tmp_path) == {component: []}
