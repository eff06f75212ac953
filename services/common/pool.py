"""asyncpg pools for the services."""

from __future__ import annotations

from typing import Any

import asyncpg

#: A database connection that is gone or unusable, not a statement that failed: the pool (or a
#: new connection) will do once the server is reachable again. ``InternalClientError`` is what
#: asyncpg raises on a connection the server dropped mid-operation ("cannot switch to state
#: 12"), seen while PostgreSQL stops; it is not an ``InterfaceError``.
CONNECTION_LOST: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


async def _no_session_reset(connection: asyncpg.Connection) -> None:
    """Skip asyncpg's reset query on release (one round trip per acquire).

    asyncpg still rolls back an open transaction on release; the reset query would also drop
    session state (``SET``, session advisory locks, ``LISTEN``, open cursors), which these
    services never leave behind: their advisory locks are transaction-scoped and they set no
    session variables.
    """


async def create_pool(dsn: str, **kwargs: Any) -> asyncpg.Pool:
    """``asyncpg.create_pool`` for the services' own connections (see :func:`_no_session_reset`)."""
    return await asyncpg.create_pool(dsn, reset=_no_session_reset, **kwargs)
