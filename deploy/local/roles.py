"""The ``lodestone`` database, its least-privilege roles and their passwords.

Passwords are generated once and kept in ``.local/secrets.env`` (mode 0600). Schema-level grants
belong to the services' own migrations.

Who owns what (docs/audit.md, "Least privilege"): the database and every schema object belong
to ``lodestone_owner``, a role that cannot log in. Migrations run as ``lodestone_admin``, a
bootstrap identity that is a member of the owner role and switches to it with ``SET ROLE``
(:mod:`services.common.migrations`); it holds no ``CREATEROLE``, ``CREATEDB`` or superuser
right, so it cannot grant itself ``pg_execute_server_program`` or any other built-in role. The
services log in as their own roles, which own nothing.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import quote

import asyncpg

from deploy.local.config import RuntimeConfig
from deploy.local.postgres import SUPERUSER, Cluster
from services.common.migrations import OWNER_ROLE

OWNER = OWNER_ROLE
"""Owns the database and every table; NOLOGIN: only reachable through ``SET ROLE``."""

ROLES: dict[str, str] = {
    "admin": "lodestone_admin",
    "screening": "lodestone_screening",
    "audit": "lodestone_audit_writer",
    "auditor": "lodestone_auditor",
}
"""Settings role name (as in ``Settings.dsn_for``) -> PostgreSQL login role."""

_LOGIN_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS"


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


async def _ensure_role(conn: asyncpg.Connection, name: str, password: str | None) -> None:
    """Create or refresh ``name``: a login role with ``password``, or NOLOGIN without one."""
    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name)
    verb = "ALTER" if exists else "CREATE"
    if password is None:
        statement = await conn.fetchval(
            f"SELECT format('{verb} ROLE %I WITH NOLOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB "
            "NOREPLICATION NOBYPASSRLS PASSWORD NULL', $1::text)",
            name,
        )
    else:
        statement = await conn.fetchval(
            f"SELECT format('{verb} ROLE %I WITH {_LOGIN_ATTRIBUTES} PASSWORD %L', "
            "$1::text, $2::text)",
            name,
            password,
        )
    await conn.execute(statement)


async def _hand_over_to_owner(cfg: RuntimeConfig, cl: Cluster) -> None:
    """Move what an earlier layout let ``lodestone_admin`` own to the owner role (idempotent)."""
    conn = await asyncpg.connect(
        host=str(cl.socket_dir), port=cfg.pg_port, user=SUPERUSER, database=cfg.database
    )
    try:
        await conn.execute(f'REASSIGN OWNED BY "{ROLES["admin"]}" TO "{OWNER}"')
    finally:
        await conn.close()


async def bootstrap(cfg: RuntimeConfig, cl: Cluster, passwords: dict[str, str]) -> None:
    """Create (or refresh) the roles and the database; idempotent."""
    conn = await asyncpg.connect(
        host=str(cl.socket_dir), port=cfg.pg_port, user=SUPERUSER, database="postgres"
    )
    try:
        await _ensure_role(conn, OWNER, None)
        for role in ROLES:
            await _ensure_role(conn, ROLES[role], passwords[role])
        # The bootstrap identity may act as the owner (SET ROLE), nothing else.
        await conn.execute(f'GRANT "{OWNER}" TO "{ROLES["admin"]}"')
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", cfg.database):
            await conn.execute(
                f'CREATE DATABASE "{cfg.database}" OWNER "{OWNER}" '
                "ENCODING 'UTF8' TEMPLATE template0"
            )
        await conn.execute(f'ALTER DATABASE "{cfg.database}" OWNER TO "{OWNER}"')
        await conn.execute(f'REVOKE ALL ON DATABASE "{cfg.database}" FROM PUBLIC')
        service_roles = ", ".join(f'"{ROLES[r]}"' for r in ("screening", "audit", "auditor"))
        await conn.execute(
            f'GRANT CONNECT, TEMPORARY ON DATABASE "{cfg.database}" TO {service_roles}'
        )
        await conn.execute(f'GRANT CONNECT ON DATABASE "{cfg.database}" TO "{ROLES["admin"]}"')
    finally:
        await conn.close()
    await _hand_over_to_owner(cfg, cl)


def local_dsn(role: str, cfg: RuntimeConfig | None = None) -> str:
    """The local runtime's URL for ``role``, from the stored passwords (starts nothing).

    For tools on a developer machine that need the bootstrap identity, which ``make up`` no
    longer exports to the shell.
    """
    cfg = cfg or RuntimeConfig.from_env()
    return dsn(cfg, role, load_passwords(cfg.secrets_file))
