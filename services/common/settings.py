"""Settings read from the environment (prefix ``LODESTONE_``).

Secrets (database passwords) come only from the environment, never from files in the repo.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a Lodestone process needs to find its broker, its database and its topics."""

    model_config = SettingsConfigDict(env_prefix="LODESTONE_", extra="ignore")

    kafka_bootstrap: str = "localhost:9092"
    database_url: str = "postgresql://lodestone_admin@localhost:15432/lodestone"
    """Default database URL; each service may be given its own least-privilege role below."""
    admin_database_url: str | None = None
    """Owner role: runs migrations. Falls back to ``database_url``."""
    screening_database_url: str | None = None
    """Role of the screening service (its ledger schema). Falls back to ``database_url``."""
    audit_database_url: str | None = None
    """Insert-only writer role of the audit service. Falls back to ``database_url``."""
    auditor_database_url: str | None = None
    """Read-only auditor role (queries, verify, HTTP API). Falls back to ``database_url``."""

    topic_shipments: str = "shipments.v1"
    topic_licenses: str = "licenses.v1"
    topic_controls: str = "controls.v1"
    topic_parties: str = "parties.v1"
    topic_decisions: str = "decisions.v1"
    topic_dead_letters: str = "shipments.v1.dlq"

    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|console)$")

    def dsn_for(self, role: str) -> str:
        """The database URL for ``role`` (admin, screening, audit or auditor)."""
        specific: str | None = getattr(self, f"{role}_database_url")
        return specific or self.database_url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
