"""The auditor's commands read their two settings without pydantic, and read them the same way.

:mod:`services.audit.auditor_settings` must give, for any environment, what the settings classes
give: the same value, or a refusal where they refuse.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.audit.auditor_settings import auditor_dsn, query_timeout_ms
from services.audit.config import AuditSettings
from services.common.environment import MissingDatabaseUrlError
from services.common.settings import Settings, get_settings

_TIMEOUT = "LODESTONE_AUDIT_QUERY_TIMEOUT_MS"
_DSN = "LODESTONE_AUDITOR_DATABASE_URL"


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Exactly ``values`` for the two settings (every other spelling of them removed)."""
    kept = {k: v for k, v in os.environ.items() if k.upper() not in (_TIMEOUT, _DSN)}
    with mock.patch.dict(os.environ, {**kept, **values}, clear=True):
        get_settings.cache_clear()
        try:
            yield
        finally:
            get_settings.cache_clear()


def _validated_timeout() -> int | type[Exception]:
    try:
        return AuditSettings().query_timeout_ms
    except ValidationError:
        return ValidationError


def _read_timeout() -> int | type[Exception]:
    try:
        return query_timeout_ms()
    except ValidationError:
        return ValidationError


def test_the_default_timeout_is_the_settings_default() -> None:
    with environment():
        assert query_timeout_ms() == AuditSettings().query_timeout_ms == 5000


@pytest.mark.parametrize(
    "raw",
    ["250", "0", "05000", " 5000 ", "+5000", "-1", "5_000", "5000.0", "5000.5", "1e3", "",
     "１２", "0x10", "99999999999999999999", "\t7\n"],
)  # fmt: skip
def test_each_spelling_reads_as_the_settings_read_it(raw: str) -> None:
    with environment(**{_TIMEOUT: raw}):
        assert _read_timeout() == _validated_timeout()


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=12))
def test_any_timeout_text_reads_as_the_settings_read_it(raw: str) -> None:
    if "\x00" in raw:
        return  # the environment cannot hold NUL
    with environment(**{_TIMEOUT: raw}):
        assert _read_timeout() == _validated_timeout()


@pytest.mark.parametrize("name", [_TIMEOUT, _TIMEOUT.lower(), "Lodestone_Audit_Query_Timeout_Ms"])
def test_the_name_is_matched_without_regard_to_case(name: str) -> None:
    with environment(**{name: "1234"}):
        assert query_timeout_ms() == AuditSettings().query_timeout_ms == 1234


@pytest.mark.parametrize("name", [_DSN, _DSN.lower()])
def test_the_auditor_url_is_the_settings_url(name: str) -> None:
    url = "postgresql://lodestone_auditor:secret@db.example:5432/lodestone"
    with environment(**{name: url}):
        assert auditor_dsn() == Settings().dsn_for("auditor") == url


@pytest.mark.parametrize("values", [{}, {_DSN: ""}])
def test_a_missing_auditor_url_is_refused_naming_the_variable(values: dict[str, str]) -> None:
    with environment(**values), pytest.raises(MissingDatabaseUrlError, match=_DSN):
        auditor_dsn()
