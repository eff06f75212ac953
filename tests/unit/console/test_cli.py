"""``lodestone console hash-secret``: prints a user entry holding only the secret's hash."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.console.auth import UserEntry, secret_matches


def test_hash_secret_prints_an_entry_the_console_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "a-long-enough-secret")
    result = CliRunner().invoke(app, ["console", "hash-secret", "rita", "Rita Chen", "reviewer"])
    assert result.exit_code == 0, result.output
    entry = UserEntry.model_validate_json(result.stdout.strip().splitlines()[-1])
    assert (entry.id, entry.name, entry.role.value) == ("rita", "Rita Chen", "reviewer")
    assert "a-long-enough-secret" not in result.stdout
    assert secret_matches("a-long-enough-secret", entry.secret_hash)


@pytest.mark.parametrize(("secret", "role"), [("short", "reviewer"), ("long-enough-1", "admin")])
def test_hash_secret_refuses_a_short_secret_or_an_unknown_role(
    monkeypatch: pytest.MonkeyPatch, secret: str, role: str
) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": secret)
    result = CliRunner().invoke(app, ["console", "hash-secret", "x", "X", role])
    assert result.exit_code == 2  # a usage error, not a traceback
    assert result.exception is None or isinstance(result.exception, SystemExit)
