"""Settings read from the environment (prefix ``LODESTONE_``).

Secrets (database and Kafka passwords) come only from the environment, never from files in
the repo.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.environment import MissingDatabaseUrlError
from services.common.kafka_security import KafkaSecuritySettings


class Settings(KafkaSecuritySettings):
    """Everything a Lodestone process needs to find its broker, its database and its topics.

    How it authenticates to the broker (SASL, TLS, mTLS) is :class:`KafkaSecuritySettings`.
    """

    model_config = SettingsConfigDict(env_prefix="LODESTONE_", extra="ignore")

    kafka_bootstrap: str = "localhost:9092"
    database_url: str | None = None
    """Bootstrap identity's URL for migrations when ``admin_database_url`` is unset.

    Never a fallback for a service: a service runs only with its own role's URL, so a missing
    setting cannot silently run it as a privileged role (docs/audit.md, "Least privilege").
    """
    admin_database_url: str | None = None
    """Bootstrap identity (member of the NOLOGIN owner role): runs migrations only."""
    screening_database_url: str | None = None
    """Role of the screening service (its ledger schema). Required by the screening service."""
    audit_database_url: str | None = None
    """Insert-only writer role of the audit service. Required by the audit service."""
    auditor_database_url: str | None = None
    """Read-only auditor role (queries, verify, HTTP API). Required for those."""

    topic_shipments: str = "shipments.v1"
    topic_licenses: str = "licenses.v1"
    topic_controls: str = "controls.v1"
    topic_parties: str = "parties.v1"
    topic_decisions: str = "decisions.v1"
    topic_dead_letters: str = "shipments.v1.dlq"
    topic_anchors: str = "audit.anchors.v1"
    """The audit log's signed tree heads, for outside verifiers."""
    topic_reviews: str = "reviews.v1"
    """People's reviews of held decisions (the console publishes them)."""

    decision_signing_key_file: Path | None = None
    """Ed25519 private key (PEM) the screening service signs decisions with; required by it."""
    decision_public_key_files: str = ""
    """Comma-separated PEM files of the public keys whose decision signatures the audit service
    accepts (old and new during a key rotation); a decision signed by no listed key is
    recorded as rejected."""

    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|console)$")

    def decision_public_keys(self) -> list[Path]:
        return [Path(p.strip()) for p in self.decision_public_key_files.split(",") if p.strip()]

    def dsn_for(self, role: str) -> str:
        """The database URL for ``role`` (admin, screening, audit or auditor).

        Raises :class:`MissingDatabaseUrlError` when the role's own URL is not set; only the
        bootstrap identity (``admin``) falls back to ``LODESTONE_DATABASE_URL``.
        """
        specific: str | None = getattr(self, f"{role}_database_url")
        if role == "admin":
            specific = specific or self.database_url
        if not specific:
            raise MissingDatabaseUrlError(
                f"LODESTONE_{role.upper()}_DATABASE_URL is not set: each service connects "
                "with its own least-privilege role, never with a shared or owner URL"
            )
        return specific


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
