"""Settings of the console (prefix ``LODESTONE_CONSOLE_``), beside the shared ones."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, TypeAdapter, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.validation import summarise_validation_error
from services.console.auth import UserEntry


class ConsoleSettings(BaseSettings):
    """Where the console listens and who may use it.

    ``users`` is a JSON list of ``{"id", "name", "role", "secret_hash"}``; ``secret_hash`` is what
    ``lodestone console hash-secret`` prints (scrypt), never the secret itself. ``users_file``
    holds the same list in a file instead (a container or Kubernetes secret): the hashes hold
    ``$``, which compose files and ``.env`` files would otherwise take for variables.
    """

    model_config = SettingsConfigDict(env_prefix="LODESTONE_CONSOLE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8103
    users: list[UserEntry] = Field(default_factory=list)
    users_file: Path | None = None
    session_minutes: int = Field(default=480, ge=1, le=24 * 60)
    secure_cookies: bool = False
    """Mark the session cookie ``Secure`` (set it when the console is served over HTTPS)."""

    @model_validator(mode="after")
    def _users_from_the_file(self) -> ConsoleSettings:
        if self.users_file is None:
            return self
        if self.users:
            raise ValueError(
                "set LODESTONE_CONSOLE_USERS or LODESTONE_CONSOLE_USERS_FILE, not both"
            )
        try:
            text = self.users_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"LODESTONE_CONSOLE_USERS_FILE: {exc}") from exc
        try:
            self.users = _USERS.validate_json(text)
        except ValidationError as exc:
            where = f"LODESTONE_CONSOLE_USERS_FILE {self.users_file}"
            raise ValueError(f"{where}: {summarise_validation_error(exc)}") from exc
        return self


_USERS = TypeAdapter(list[UserEntry])
