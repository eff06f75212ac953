"""``lodestone console hash-secret``: prints a user entry holding only the secret's hash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.console.auth import Role, UserEntry, hash_secret, secret_matches
from services.console.config import ConsoleSettings


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


def test_users_can_come_from_a_file_and_not_from_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A container secret holds the list (its hashes contain ``$``, which compose would read as
    variables); both at once, a missing file or a malformed list are refused with exit 2."""
    entry = UserEntry(
        id="rita", name="Rita Chen", role=Role.REVIEWER, secret_hash=hash_secret("x" * 12)
    )
    users = tmp_path / "users.json"
    users.write_text(json.dumps([entry.model_dump(mode="json")]), encoding="utf-8")
    monkeypatch.delenv("LODESTONE_CONSOLE_USERS", raising=False)
    monkeypatch.setenv("LODESTONE_CONSOLE_USERS_FILE", str(users))
    assert ConsoleSettings().users == [entry]

    for env, problem in (
        ({"LODESTONE_CONSOLE_USERS": users.read_text(encoding="utf-8")}, "not both"),
        ({"LODESTONE_CONSOLE_USERS_FILE": str(tmp_path / "missing.json")}, "missing.json"),
        ({"LODESTONE_CONSOLE_USERS_FILE": str(tmp_path / "bad.json")}, "USERS_FILE"),
    ):
        (tmp_path / "bad.json").write_text('[{"id": "rita"}]', encoding="utf-8")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        result = CliRunner().invoke(app, ["console", "run", "--port", "9"])
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: ")
        assert problem in result.stderr or problem.lower() in result.stderr.lower(), result.stderr
        monkeypatch.setenv("LODESTONE_CONSOLE_USERS_FILE", str(users))
        monkeypatch.delenv("LODESTONE_CONSOLE_USERS", raising=False)
