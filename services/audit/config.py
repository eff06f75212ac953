"""Settings of the audit service (prefix ``LODESTONE_AUDIT_``), beside the shared ones."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class AuditSettings(BaseSettings):
    """How the audit service consumes, where it listens, and who may read its API."""

    model_config = SettingsConfigDict(env_prefix="LODESTONE_AUDIT_", extra="ignore")

    group_id: str = "lodestone-audit"
    batch_max_records: int = 1000
    """Most records per database transaction."""
    poll_timeout_ms: int = 200
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9102
    """``/healthz``, ``/readyz`` and ``/metrics``; 0 picks a free port."""
    api_host: str = "127.0.0.1"
    api_port: int = 8102
    api_tokens: str = ""
    """Comma-separated bearer tokens of the read API; empty refuses every request."""
    query_timeout_ms: int = 5000
    """``statement_timeout`` of every auditor connection (API, CLI): a query that would walk
    the store is cancelled instead of holding a connection and a core."""
    page_max_bytes: int = 4_000_000
    """Most bytes of decision documents in one API page; a page that would exceed it ends early
    and its ``next_cursor`` continues from there."""
    checkpoint_file: Path = Path(".local/audit-checkpoints.jsonl")
    """Where ``lodestone audit verify`` keeps its checkpoints (outside the store it checks)."""
    signature_workers: int = 0
    """Processes that verify decision signatures while a batch is decoded (0: in the service's
    own process). Ed25519 verification is the largest cost per record (~4-5x decoding); on a
    host with cores to spare, 1-2 workers take it off the writer's core. On the shared 2-core
    reference machine they gained nothing (docs/audit.md, Throughput)."""
    log_signing_key_file: Path | None = None
    """Ed25519 private key (PEM) the audit service signs its tree heads with; required by it."""
    log_public_key_file: Path | None = None
    """The audit log's public key: what ``verify`` and ``verify-pack`` check tree heads with."""
    anchor_file: Path | None = None
    """Append-only JSON-lines file of every signed tree head, kept outside the store and the
    checkout; the service appends, ``verify`` reads it. Unset: heads go to Kafka only."""
    archive_dir: Path | None = None
    """Where ``lodestone audit archive`` writes archive files and ``verify`` reads them (the
    ``--archive`` default). Unset: verify reports archived records as archived, and fails."""

    def tokens(self) -> list[str]:
        return [t.strip() for t in self.api_tokens.split(",") if t.strip()]
