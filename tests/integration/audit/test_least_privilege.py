"""Least privilege, tried as an attacker would: every identity attempts what it must not do.

The owner of the audit tables cannot log in; the bootstrap identity that runs migrations cannot
grant itself the server's programs; the services' roles cannot change a record, disable a
trigger or become the owner; a service started with a privileged URL refuses to run; schema
changes are logged by the server.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from deploy.local import RuntimeConfig, RuntimeState
from deploy.local import postgres as local_postgres
from services.audit.api import create_app
from services.audit.service import AuditService, ServiceOptions
from services.common.environment import MissingDatabaseUrlError
from services.common.privileges import ExcessPrivilegeError, check_least_privilege
from services.common.settings import Settings
from tests.integration.audit.conftest import AuditDatabase, superuser_connect
from tests.unit.audit.factories import DECISION_KEYS, LOG_SIGNER

pytestmark = pytest.mark.integration

_TAMPERING = (
    "UPDATE audit.decision_records SET outcome = 'approve'",
    "DELETE FROM audit.decision_records",
    "TRUNCATE audit.decision_records",
    "DELETE FROM audit.rejected_records",
    "UPDATE audit.catalogues SET content = ''",
    "ALTER TABLE audit.decision_records DISABLE TRIGGER decision_records_append_only",
    "DROP TABLE audit.decision_records",
    "SET ROLE lodestone_owner",
    "GRANT pg_execute_server_program TO CURRENT_USER",
    "COPY (SELECT 1) TO PROGRAM 'true'",
    "CREATE ROLE intruder LOGIN SUPERUSER",
)


async def test_the_owner_role_cannot_log_in(runtime: RuntimeState, audit_db: AuditDatabase) -> None:
    conn = await audit_db.connect("admin")
    try:
        owners = await conn.fetch(
            "SELECT DISTINCT pg_get_userbyid(c.relowner) AS owner, r.rolcanlogin"
            "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            "  JOIN pg_roles r ON r.oid = c.relowner WHERE n.nspname = 'audit'"
        )
    finally:
        await conn.close()
    assert [(row["owner"], row["rolcanlogin"]) for row in owners] == [("lodestone_owner", False)]
    parts = urlsplit(runtime.dsn("admin"))  # the admin's password, the owner's name
    netloc = f"lodestone_owner:{parts.password}@{parts.hostname}:{parts.port}"
    with pytest.raises(asyncpg.PostgresError):
        await asyncpg.connect(urlunsplit(parts._replace(netloc=netloc)))


async def test_no_login_role_can_create_roles_or_databases(audit_db: AuditDatabase) -> None:
    conn = await audit_db.connect("auditor")
    try:
        rows = await conn.fetch(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE 'lodestone%'"
            " AND (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls)"
        )
    finally:
        await conn.close()
    assert [row["rolname"] for row in rows] == []


_ESCALATION = tuple(s for s in _TAMPERING if s.startswith(("GRANT", "COPY", "CREATE ROLE")))
_ATTEMPTS = [
    (role, statement)
    for role in ("admin", "audit", "auditor", "screening")
    for statement in _TAMPERING
    # The bootstrap identity may change the schema (that is its job): the anchors catch a
    # rewrite it makes (test_anchors.py); escalating beyond the database is refused to it too.
    if role != "admin" or statement in _ESCALATION
]


@pytest.mark.parametrize(("role", "statement"), _ATTEMPTS)
async def test_no_identity_reaches_the_server_or_roles(
    audit_db: AuditDatabase, runtime: RuntimeState, role: str, statement: str
) -> None:
    """Tampering is refused to every service role; escalation to the bootstrap identity too."""
    dsn = audit_db.dsn(role) if role != "screening" else runtime.dsn("screening")
    conn = await asyncpg.connect(dsn)
    try:
        with pytest.raises(asyncpg.PostgresError):
            async with conn.transaction():
                await conn.execute(statement)
    finally:
        await conn.close()


async def test_the_owner_cannot_escalate_either(audit_db: AuditDatabase) -> None:
    conn = await audit_db.connect("admin")
    try:
        await conn.execute("SET ROLE lodestone_owner")
        for statement in _ESCALATION:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                async with conn.transaction():
                    await conn.execute(statement)
    finally:
        await conn.close()


async def test_privilege_check_refuses_the_bootstrap_identity(audit_db: AuditDatabase) -> None:
    conn = await audit_db.connect("admin")
    try:
        with pytest.raises(ExcessPrivilegeError, match="owner of"):
            await check_least_privilege(conn)
    finally:
        await conn.close()
    for role in ("audit", "auditor"):
        conn = await audit_db.connect(role)
        try:
            await check_least_privilege(conn)  # passes: nothing to refuse
        finally:
            await conn.close()


async def test_privilege_check_refuses_a_role_that_may_delete(audit_db: AuditDatabase) -> None:
    """A role granted DELETE on a record table (an operator's mistake) is refused too."""
    role = f"sloppy_{uuid.uuid4().hex[:8]}"

    su = await superuser_connect(audit_db.name)
    try:
        await su.execute(f"CREATE ROLE {role} NOLOGIN")
        await su.execute(f"GRANT DELETE ON audit.rejected_records TO {role}")
        await su.execute(f"GRANT {role} TO lodestone_audit_writer")
        conn = await audit_db.connect("audit")
        try:
            with pytest.raises(ExcessPrivilegeError, match=r"may DELETE audit\.rejected_records"):
                await check_least_privilege(conn)
        finally:
            await conn.close()
    finally:
        await su.execute(f"REVOKE {role} FROM lodestone_audit_writer")
        await su.execute(f"REVOKE ALL ON audit.rejected_records FROM {role}")
        await su.execute(f"DROP ROLE {role}")
        await su.close()


async def test_the_audit_service_refuses_to_run_as_the_bootstrap_identity(
    runtime: RuntimeState, audit_db: AuditDatabase
) -> None:
    options = ServiceOptions(
        bootstrap=runtime.kafka_bootstrap,
        dsn=audit_db.dsn("admin"),
        decisions_topic=f"unused.{uuid.uuid4().hex[:8]}",
        controls_topic=f"unused.{uuid.uuid4().hex[:8]}",
        decision_keys=DECISION_KEYS,
        log_signer=LOG_SIGNER,
        metrics_port=0,
    )
    with pytest.raises(ExcessPrivilegeError):
        await asyncio.wait_for(AuditService(options).run(), timeout=30)


def test_a_service_without_its_own_url_refuses(runtime: RuntimeState) -> None:
    settings = Settings(
        database_url=runtime.dsn("admin"),
        screening_database_url=None,
        audit_database_url=None,
        auditor_database_url=None,
    )
    for role in ("screening", "audit", "auditor"):
        with pytest.raises(MissingDatabaseUrlError):
            settings.dsn_for(role)
    assert settings.dsn_for("admin") == runtime.dsn("admin")  # migrations only


def test_the_shell_exports_carry_no_privileged_url(runtime: RuntimeState) -> None:
    env = runtime.environment()
    assert "LODESTONE_DATABASE_URL" not in env
    assert "LODESTONE_ADMIN_DATABASE_URL" not in env
    assert runtime.dsn("admin") not in env.values()
    assert "lodestone_admin" not in runtime.exports()


async def _log_contains(marker: str, within_s: float = 10.0) -> bool:
    log_file = local_postgres.cluster(RuntimeConfig.from_env()).log_file
    deadline = asyncio.get_running_loop().time() + within_s
    while asyncio.get_running_loop().time() < deadline:
        if marker in log_file.read_text(encoding="utf-8", errors="replace"):
            return True
        await asyncio.sleep(0.2)
    return False


async def test_schema_changes_by_the_owner_are_logged(audit_db: AuditDatabase) -> None:
    marker = f"tamper-probe-{uuid.uuid4().hex}"
    conn: Any = await audit_db.connect("admin")
    try:
        await conn.execute("SET ROLE lodestone_owner")
        tx = conn.transaction()
        await tx.start()
        await conn.execute(
            "ALTER TABLE audit.decision_records DISABLE TRIGGER decision_records_append_only"
            f" /* {marker} */"
        )
        await tx.rollback()
        await conn.execute(f"SELECT 1 /* not-ddl-{marker} */")
    finally:
        await conn.close()
    assert await _log_contains(marker)
    assert not await _log_contains(f"not-ddl-{marker}", within_s=0.5)  # ddl only, not all


async def test_the_read_api_refuses_to_run_as_the_bootstrap_identity(
    audit_db: AuditDatabase,
) -> None:
    app = create_app(audit_db.dsn("admin"), ["token"])
    with pytest.raises(ExcessPrivilegeError):
        async with app.router.lifespan_context(app):
            pass
    reader = create_app(audit_db.dsn("auditor"), ["token"])
    async with reader.router.lifespan_context(reader):
        pass  # the auditor role passes
