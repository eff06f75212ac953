"""The ``lodestone`` database, its least-privilege roles and their passwords.

Passwords are generated once and kept in ``.local/secrets.env`` (mode 0600). Schema-level grants
belong to the services' own migrations, run as ``lodestone_admin``, the database owner.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import quote

import asyncpg

from deploy.local.config import RuntimeConfig
from deploy.local.postgres import SUPERUSER, Cluster

ROLES: dict[str, str] = {
    "admin": "lodestone_admin",
    "screening": "lodestone_screening",
    "audit": "lodestone_audit_writer",
    "auditor": "lodestone_auditor",
}
"""Settings role name (as in ``Settings.dsn_for``) -> PostgreSQL role."""


def _secret_key(role: str) -> str:
    return f"LODESTONE_PG_{role.upper()}_PASSWORD"


def load_passwords(path: Path) -> dict[str, str]:
    """The stored passwords, generating (and saving) any that are missing."""
    stored: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                stored[key.strip()] = value.strip()
    passwords = {role: stored.get(_secret_key(role), "") for role in ROLES}
    if all(passwords.values()):
        return passwords
    for role, value in passwords.items():
        passwords[role] = value or secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("# Passwords of the local PostgreSQL roles, generated once. Keep private.\n")
        handle.writelines(f"{_secret_key(r)}={p}\n" for r, p in passwords.items())
    path.chmod(0o600)
    return passwords


def dsn(cfg: RuntimeConfig, role: str, passwords: dict[str, str]) -> str:
    """A TCP URL for ``role`` (admin, screening, audit or auditor)."""
    user = ROLES[role]
    return (
        f"postgresql://{user}:{quote(passwords[role], safe='')}@127.0.0.1:{cfg.pg_port}"
        f"/{cfg.database}"
    )


async def _ensure_role(conn: asyncpg.Connection, name: str, password: str, extra: str) -> None:
    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name)
    verb = "ALTER" if exists else "CREATE"
    statement = await conn.fetchval(
        f"SELECT format('{verb} ROLE %I WITH LOGIN NOSUPERUSER {extra} PASSWORD %L', "
        "$1::text, $2::text)",
        name,
        password,
    )
    await conn.execute(statement)


async def bootstrap(cfg: RuntimeConfig, cl: Cluster, passwords: dict[str, str]) -> None:
    """Create (or refresh) the roles and the database; idempotent."""
    conn = await asyncpg.connect(
        host=str(cl.socket_dir), port=cfg.pg_port, user=SUPERUSER, database="postgres"
    )
    try:
        # CREATEROLE lets the admin's migrations adjust the service roles (e.g. role settings).
        await _ensure_role(conn, ROLES["admin"], passwords["admin"], "CREATEROLE")
        for role in ("screening", "audit", "auditor"):
            await _ensure_role(conn, ROLES[role], passwords[role], "NOCREATEROLE NOCREATEDB")
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", cfg.database):
            await conn.execute(
                f'CREATE DATABASE "{cfg.database}" OWNER "{ROLES["admin"]}" '
                "ENCODING 'UTF8' TEMPLATE template0"
            )
        await conn.execute(f'REVOKE ALL ON DATABASE "{cfg.database}" FROM PUBLIC')
        service_roles = ", ".join(f'"{ROLES[r]}"' for r in ("screening", "audit", "auditor"))
        await conn.execute(
            f'GRANT CONNECT, TEMPORARY ON DATABASE "{cfg.database}" TO {service_roles}'
        )
    finally:
        await conn.close()
