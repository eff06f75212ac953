"""The two settings an auditor's command connects with, read without pydantic.

``lodestone audit query|show|export`` need only the auditor's database URL and the statement
timeout. The settings classes that define them (:class:`~services.common.settings.Settings`,
:class:`~services.audit.config.AuditSettings`) import pydantic and pydantic-settings, about as
much start-up as the rest of such a command together (ADR 0007). So the plain cases are read
here, the way pydantic-settings reads them (environment only, names case-insensitive), and any
value this module does not read as plainly is handed to those classes, whose answer (or refusal)
is then the one given. tests/unit/audit/test_auditor_settings.py holds both to the same result.
"""

from __future__ import annotations

import re

from services.common.environment import environment_value

_PLAIN_INT = re.compile(r"[0-9]{1,9}")
_DEFAULT_QUERY_TIMEOUT_MS = 5000  # AuditSettings.query_timeout_ms; a test keeps them equal


def auditor_dsn() -> str:
    """``LODESTONE_AUDITOR_DATABASE_URL``; raises :class:`MissingDatabaseUrlError` when unset."""
    dsn = environment_value("LODESTONE_AUDITOR_DATABASE_URL")
    if dsn:
        return dsn
    from services.common.settings import get_settings

    return get_settings().dsn_for("auditor")  # raises, naming the variable


def query_timeout_ms() -> int:
    """``LODESTONE_AUDIT_QUERY_TIMEOUT_MS`` (default 5000): plain digits here, else as validated."""
    raw = environment_value("LODESTONE_AUDIT_QUERY_TIMEOUT_MS")
    if raw is None:
        return _DEFAULT_QUERY_TIMEOUT_MS
    if _PLAIN_INT.fullmatch(raw):
        return int(raw)
    from services.audit.config import AuditSettings

    return AuditSettings().query_timeout_ms  # its value, or its ValidationError
