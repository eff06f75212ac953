"""PostgreSQL over TLS with ``sslmode=verify-full``: the documented URL form works for the
services' pools and command-line tools, and a server the CA did not sign is refused."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import asyncpg
import pytest
from asyncpg.pool import PoolConnectionProxy

from deploy.local import RuntimeState
from deploy.local.tls import Authority, ensure_authority
from services.common.pool import create_pool

pytestmark = pytest.mark.integration


def verify_full(dsn: str, ca_file: str | Path) -> str:
    return f"{dsn}?sslmode=verify-full&sslrootcert={quote(str(ca_file))}"


async def _tls_in_use(conn: asyncpg.Connection | PoolConnectionProxy) -> tuple[bool, str]:
    row = await conn.fetchrow("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    assert row is not None
    return row["ssl"], row["version"]


@pytest.mark.parametrize("role", ["admin", "screening", "audit", "auditor"])
async def test_every_role_connects_with_verify_full(runtime: RuntimeState, role: str) -> None:
    conn = await asyncpg.connect(verify_full(runtime.dsn(role), runtime.pg_ca_file))
    try:
        in_use, version = await _tls_in_use(conn)
    finally:
        await conn.close()
    assert in_use
    assert version in ("TLSv1.2", "TLSv1.3")


async def test_the_services_pool_takes_the_url_as_it_is(runtime: RuntimeState) -> None:
    pool = await create_pool(
        verify_full(runtime.dsn("screening"), runtime.pg_ca_file), min_size=1, max_size=1
    )
    try:
        async with pool.acquire() as conn:
            assert (await _tls_in_use(conn))[0]
    finally:
        await pool.close()


async def test_a_plain_url_is_not_encrypted_unless_asked(runtime: RuntimeState) -> None:
    conn = await asyncpg.connect(f"{runtime.dsn('auditor')}?sslmode=disable")
    try:
        assert not (await _tls_in_use(conn))[0]
    finally:
        await conn.close()


async def test_a_server_certificate_from_another_ca_is_refused(
    runtime: RuntimeState, tmp_path: Path
) -> None:
    other = Authority(tmp_path / "other-ca")
    ensure_authority(other, [])
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncpg.connect(verify_full(runtime.dsn("auditor"), other.ca_file))


def test_the_command_line_uses_the_same_url(runtime: RuntimeState) -> None:
    url = verify_full(runtime.dsn("admin"), runtime.pg_ca_file)
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lodestone")), "db", "migrate"],
        env={"LODESTONE_ADMIN_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
