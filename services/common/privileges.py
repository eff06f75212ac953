"""Start-up check: a service refuses to run with a database role that could rewrite history.

A service given the owner's URL (or any role that could become the owner) would work normally
and silently hold the power to disable the audit store's triggers and delete records. So each
service checks, once, on its own connection, that its role

* is no superuser and cannot create roles or databases, replicate or bypass row security;
* is no member of a role that owns a table or schema it touches (``SET ROLE`` would make it
  the owner), nor of the built-in roles that reach the server's files and programs;
* cannot UPDATE, DELETE or TRUNCATE any append-only table or any partition of one.

Catalogue queries only (``pg_roles``, ``pg_class``, ``has_table_privilege`` by oid): they work
whatever schemas the role may use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

APPEND_ONLY_TABLES: tuple[str, ...] = (
    "audit.decision_records",
    "audit.rejected_records",
    "audit.catalogues",
    "audit.tree_heads",
    "audit.decision_terms",
    "audit.decision_ids",
    "audit.archived_ranges",
)
"""Tables nobody who runs a service may change or empty (with their partitions)."""

_DANGEROUS_BUILTINS = (
    "pg_execute_server_program",
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_write_all_data",
)

_ATTRIBUTES = """
SELECT current_user AS name, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls
  FROM pg_roles WHERE rolname = current_user
"""
_OWNED = """
SELECT n.nspname || coalesce('.' || c.relname, '') AS object
  FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p')
 WHERE n.nspname = ANY($1::text[])
   AND (pg_has_role(current_user, n.nspowner, 'MEMBER')
        OR (c.oid IS NOT NULL AND pg_has_role(current_user, c.relowner, 'MEMBER')))
"""
_BUILTINS = """
SELECT rolname FROM pg_roles
 WHERE rolname = ANY($1::text[]) AND pg_has_role(current_user, oid, 'MEMBER')
"""
#: the append-only tables and every partition of them (a partition is a table of its own: a
#: right granted on it directly would not show on its parent)
_CHANGES = """
WITH RECURSIVE tables AS (
    SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname || '.' || c.relname = ANY($1::text[])
    UNION
    SELECT i.inhrelid FROM pg_inherits i JOIN tables t ON i.inhparent = t.oid
)
SELECT n.nspname || '.' || c.relname AS object, p.privilege
  FROM tables t JOIN pg_class c ON c.oid = t.oid JOIN pg_namespace n ON n.oid = c.relnamespace
 CROSS JOIN unnest(ARRAY['UPDATE', 'DELETE', 'TRUNCATE']) AS p(privilege)
 WHERE has_table_privilege(current_user, c.oid, p.privilege)
"""


class ExcessPrivilegeError(RuntimeError):
    """The service's database role could alter what must stay append-only."""


async def check_least_privilege(
    conn: asyncpg.Connection[Any] | PoolConnectionProxy[Any],
    *,
    schemas: Sequence[str] = ("audit", "screening"),
    append_only: Sequence[str] = APPEND_ONLY_TABLES,
) -> None:
    """Raise :class:`ExcessPrivilegeError` naming every excess right of the connected role."""
    problems: list[str] = []
    role = await conn.fetchrow(_ATTRIBUTES)
    name = role["name"] if role is not None else "?"
    if role is not None:
        for attribute in ("rolsuper", "rolcreaterole", "rolcreatedb", "rolreplication"):
            if role[attribute]:
                problems.append(f"has {attribute.removeprefix('rol').upper()}")
        if role["rolbypassrls"]:
            problems.append("has BYPASSRLS")
    owned = [row["object"] for row in await conn.fetch(_OWNED, list(schemas))]
    if owned:
        problems.append(f"owns (or may become the owner of) {', '.join(sorted(set(owned)))}")
    builtins = [row["rolname"] for row in await conn.fetch(_BUILTINS, list(_DANGEROUS_BUILTINS))]
    if builtins:
        problems.append(f"is a member of {', '.join(builtins)}")
    for row in await conn.fetch(_CHANGES, list(append_only)):
        problems.append(f"may {row['privilege']} {row['object']}")
    if problems:
        raise ExcessPrivilegeError(
            f"refusing to run as database role {name!r}: it "
            + "; ".join(problems)
            + ". Give the service its own least-privilege role (docs/audit.md)."
        )


async def check_dsn(dsn: str, **kwargs: Any) -> None:
    """:func:`check_least_privilege` on a connection of its own to ``dsn``."""
    conn = await asyncpg.connect(dsn)
    try:
        await check_least_privilege(conn, **kwargs)
    finally:
        await conn.close()
