"""Settings of the screening service (prefix ``LODESTONE_SCREENING_``).

Topic names, broker and database URLs are the shared :class:`services.common.settings.Settings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


@dataclass(frozen=True)
class Topics:
    """The topics one screening service reads and writes (from the shared settings)."""

    shipments: str
    decisions: str
    dead_letters: str


class ScreeningSettings(BaseSettings):
    """Tuning and safety switches of ``lodestone screening run``."""

    model_config = SettingsConfigDict(env_prefix="LODESTONE_SCREENING_", extra="ignore")

    group_id: str = "lodestone-screening"
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9101
    """Port of ``/healthz``, ``/readyz`` and ``/metrics``; 0 picks a free one."""
    batch_max_records: int = 500
    batch_timeout_ms: int = 200
    linger_ms: int = 0
    """The consume loop hands the producer a whole batch at once and then awaits the acks, so a
    linger only delays every batch (by up to its length) without making the requests larger."""
    compression: Literal["gzip", "snappy", "lz4", "zstd"] | None = "lz4"
    require_published_catalogue: bool = False
    """True: never fall back to the bundled catalogue; stay not-ready until controls.v1 has one."""
    db_pool_size: int = 10
    retry_max_delay_s: float = 5.0
    """Ceiling of the exponential backoff for transient failures (retried without end)."""
    rescreen_on_start: bool = True
    shadow_topic: str = "decisions.shadow.v1"
    """Where ``screening run --shadow-catalogue`` publishes the draft's decisions."""
    """After loading reference data, re-screen open holds once (catch up on changes missed)."""
