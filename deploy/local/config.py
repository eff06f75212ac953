"""Where the local runtime keeps its files and which ports it uses, read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

KAFKA_VERSION = "4.1.1"
SLF4J_VERSION = "2.0.17"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from exc


def _default_cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "lodestone"


def _kafka_security() -> str:
    value = os.environ.get("LODESTONE_LOCAL_KAFKA_SECURITY", "plaintext").lower() or "plaintext"
    if value not in ("plaintext", "sasl_ssl"):
        raise SystemExit(
            f"LODESTONE_LOCAL_KAFKA_SECURITY must be plaintext or sasl_ssl, not {value!r}"
        )
    return value


@dataclass(frozen=True)
class RuntimeConfig:
    """Paths and ports of one local runtime (one per working tree).

    Two working trees on one machine can run side by side when they are given different ports
    (``LODESTONE_KAFKA_PORT``, ``LODESTONE_KAFKA_CONTROLLER_PORT``, ``LODESTONE_PG_PORT``).
    """

    local_dir: Path
    cache_dir: Path
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    pg_port: int = 15432
    kafka_version: str = KAFKA_VERSION
    kafka_heap_opts: str = "-Xms256m -Xmx512m"
    kafka_jit_opts: str = "-XX:TieredStopAtLevel=1"
    """The broker's JIT: C1 only by default. On 2 cores the C2 compiler spent tens of seconds
    of CPU compiling the broker while the pipeline ran, more than the broker's requests cost;
    the broker's own work here is small. ``LODESTONE_KAFKA_JIT_OPTS=""`` restores the default."""
    database: str = "lodestone"
    kafka_security: str = "plaintext"
    """``plaintext`` (the default) or ``sasl_ssl``: SCRAM over TLS on ``kafka_port``, mTLS on
    ``kafka_mtls_port``, ACLs per principal (docs/connecting.md, ADR 0030)."""
    kafka_mtls_port: int = 9094
    kafka_unsecured_oauth_port: int | None = None
    """Tests only: an OAUTHBEARER listener with Kafka's unsecured JWT validator, which trusts
    any unsigned token; it exercises the token-provider hook. Never set by ``make up``."""

    @classmethod
    def from_env(cls, root: Path | None = None) -> RuntimeConfig:
        """The configuration of the working tree at ``root`` (default: this repository)."""
        root = root or REPO_ROOT
        local = os.environ.get("LODESTONE_LOCAL_DIR")
        cache = os.environ.get("LODESTONE_CACHE_DIR")
        return cls(
            local_dir=Path(local).resolve() if local else root / ".local",
            cache_dir=Path(cache).resolve() if cache else _default_cache_dir(),
            kafka_port=_env_int("LODESTONE_KAFKA_PORT", 9092),
            kafka_controller_port=_env_int("LODESTONE_KAFKA_CONTROLLER_PORT", 9093),
            pg_port=_env_int("LODESTONE_PG_PORT", 15432),
            kafka_heap_opts=os.environ.get("LODESTONE_KAFKA_HEAP_OPTS", "-Xms256m -Xmx512m"),
            kafka_jit_opts=os.environ.get("LODESTONE_KAFKA_JIT_OPTS", "-XX:TieredStopAtLevel=1"),
            kafka_security=_kafka_security(),
            kafka_mtls_port=_env_int(
                "LODESTONE_KAFKA_MTLS_PORT", _env_int("LODESTONE_KAFKA_CONTROLLER_PORT", 9093) + 1
            ),
        )

    @property
    def secured(self) -> bool:
        return self.kafka_security == "sasl_ssl"

    # Kafka ---------------------------------------------------------------------------------
    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def kafka_lib_dir(self) -> Path:
        """Jars of this Kafka version, shared by every working tree of the user."""
        return self.cache_dir / f"kafka-{self.kafka_version}" / "lib"

    @property
    def kafka_dir(self) -> Path:
        """A secured broker keeps its data apart: switching modes never mixes the two."""
        return self.local_dir / ("kafka-secured" if self.secured else "kafka")

    @property
    def kafka_data_dir(self) -> Path:
        return self.kafka_dir / "data"

    @property
    def kafka_properties(self) -> Path:
        return self.kafka_dir / "server.properties"

    @property
    def kafka_pid_file(self) -> Path:
        return self.kafka_dir / "kafka.pid"

    @property
    def kafka_log_file(self) -> Path:
        return self.kafka_dir / "kafka.log"

    # PostgreSQL ----------------------------------------------------------------------------
    @property
    def secrets_file(self) -> Path:
        return self.local_dir / "secrets.env"

    @property
    def lock_file(self) -> Path:
        return self.local_dir / "runtime.lock"
