"""Settings of the console (prefix ``LODESTONE_CONSOLE_``), beside the shared ones."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.console.auth import UserEntry


class ConsoleSettings(BaseSettings):
    """Where the console listens and who may use it.

    ``users`` is a JSON list of ``{"id", "name", "role", "secret_hash"}``; ``secret_hash`` is what
    ``lodestone console hash-secret`` prints (scrypt), never the secret itself.
    """

    model_config = SettingsConfigDict(env_prefix="LODESTONE_CONSOLE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8103
    users: list[UserEntry] = Field(default_factory=list)
    session_minutes: int = Field(default=480, ge=1, le=24 * 60)
    secure_cookies: bool = False
    """Mark the session cookie ``Secure`` (set it when the console is served over HTTPS)."""
