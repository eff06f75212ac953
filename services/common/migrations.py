"""A tiny migration runner: ordered plain-SQL files per component, applied once each.

Files are named ``NNNN_description.sql`` (e.g. ``services/audit/migrations/0001_decisions.sql``)
and applied in numeric order, each in its own transaction together with its row in
``public.lodestone_migrations``. A session-level advisory lock serialises concurrent runners
(two services starting at once, parallel test sessions). An applied file must never change: a
different checksum stops the run, because the database no longer matches the code.
Files must not contain their own ``BEGIN``/``COMMIT``.

The runner logs in as a bootstrap identity and applies every file after ``SET ROLE`` to the
owner role (:data:`OWNER_ROLE`, which cannot log in), so every object it creates belongs to that
role and no login role owns anything (docs/audit.md, "Least privilege").
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

SERVICES_DIR = Path(__file__).resolve().parents[1]

COMPONENTS: tuple[str, ...] = ("screening", "audit")
"""Components in the order they are migrated; ``services/<name>/migrations`` is their folder.

Any other ``services/*/migrations`` folder is migrated after these, in name order.
"""

OWNER_ROLE = "lodestone_owner"
"""The NOLOGIN role that owns the database's schemas and tables."""

_LOCK_KEY = 0x4C6F6465  # "Lode": one advisory lock for every migration run on the database
_FILE_NAME = re.compile(r"^(\d+)_[A-Za-z0-9_.-]+\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS public.lodestone_migrations (
    component  text        NOT NULL,
    version    text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version)
)
"""


class MigrationError(RuntimeError):
    """The migrations on disk cannot be applied to this database."""


class ChecksumMismatchError(MigrationError):
    """An already applied migration file has been edited."""


@dataclass(frozen=True)
class Migration:
    version: str
    """The file name without ``.sql``, e.g. ``0001_decisions``."""
    path: Path
    checksum: str
    sql: str


def discover(directory: Path) -> list[Migration]:
    """The migration files of ``directory`` in the order they apply."""
    found: list[tuple[int, Migration]] = []
    for path in directory.glob("*.sql"):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_description.sql")
        data = path.read_bytes()
        migration = Migration(
            version=path.stem,
            path=path,
            checksum=hashlib.sha256(data).hexdigest(),
            sql=data.decode("utf-8"),
        )
        found.append((int(match.group(1)), migration))
    numbers = [number for number, _ in found]
    if len(numbers) != len(set(numbers)):
        raise MigrationError(f"{directory}: two migration files share a number")
    return [migration for _, migration in sorted(found, key=lambda item: item[0])]


async def apply_migrations(dsn: str, component: str, directory: Path) -> list[str]:
    """Apply the pending migrations of ``component``; returns the versions applied now."""
    migrations = discover(directory)
    conn = await asyncpg.connect(dsn)
    try:
        await _become_owner(conn)
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            return await _apply_locked(conn, component, migrations)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()


async def _become_owner(conn: asyncpg.Connection) -> None:
    """``SET ROLE`` to :data:`OWNER_ROLE`; refuse to migrate as anybody who cannot."""
    allowed = await conn.fetchval(
        "SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = $1",
        OWNER_ROLE,
    )
    if not allowed:
        raise MigrationError(
            f"migrations run as a member of {OWNER_ROLE}, which owns the schemas; "
            f"{await conn.fetchval('SELECT current_user')} is not one"
        )
    await conn.execute(f"SET ROLE {OWNER_ROLE}")


async def _apply_locked(
    conn: asyncpg.Connection, component: str, migrations: list[Migration]
) -> list[str]:
    await conn.execute(_CREATE_TABLE)
    rows = await conn.fetch(
        "SELECT version, checksum FROM public.lodestone_migrations WHERE component = $1",
        component,
    )
    applied = {row["version"]: row["checksum"] for row in rows}
    done: list[str] = []
    for migration in migrations:
        if migration.version in applied:
            if applied[migration.version] != migration.checksum:
                raise ChecksumMismatchError(
                    f"{component} migration {migration.version} was changed after it was "
                    f"applied ({migration.path}); add a new migration instead of editing it"
                )
            continue
        async with conn.transaction():
            try:
                await conn.execute(migration.sql)
            except asyncpg.PostgresError as exc:
                raise MigrationError(
                    f"{component} migration {migration.version} failed: {exc}"
                ) from exc
            await conn.execute(
                "INSERT INTO public.lodestone_migrations (component, version, checksum) "
                "VALUES ($1, $2, $3)",
                component,
                migration.version,
                migration.checksum,
            )
        done.append(migration.version)
    return done


def component_directories(services_dir: Path = SERVICES_DIR) -> dict[str, Path]:
    """Every component that has a migrations folder, in the order they are migrated."""
    ordered = [name for name in COMPONENTS if (services_dir / name / "migrations").is_dir()]
    others = sorted(
        path.parent.name
        for path in services_dir.glob("*/migrations")
        if path.is_dir() and path.parent.name not in COMPONENTS
    )
    return {name: services_dir / name / "migrations" for name in [*ordered, *others]}


async def migrate_all(dsn: str, services_dir: Path = SERVICES_DIR) -> dict[str, list[str]]:
    """Apply the migrations of every component found; returns the versions applied now."""
    return {
        component: await apply_migrations(dsn, component, directory)
        for component, directory in component_directories(services_dir).items()
    }
