"""Bring the whole local runtime up or down: Kafka, PostgreSQL, topics, roles, migrations."""

from __future__ import annotations

import asyncio
import shlex
import shutil
import time
from dataclasses import dataclass, field

from deploy.local import acls, kafka, kafka_secured, keys, outside, postgres, roles, topics
from deploy.local._util import file_lock, say
from deploy.local.config import RuntimeConfig
from services.common.migrations import migrate_all
from services.common.settings import Settings

SERVICE_ROLES = ("screening", "audit", "auditor")
"""The roles whose URLs a shell or a service is given."""


@dataclass
class RuntimeState:
    """What ``up`` found or did: enough to hand the runtime to a shell or a test session."""

    kafka_bootstrap: str
    dsns: dict[str, str]
    """Settings role (admin, screening, audit, auditor) -> database URL with password."""
    key_settings: dict[str, str] = field(default_factory=dict)
    """Signing key files and the anchor file (``LODESTONE_…`` settings)."""
    started: set[str] = field(default_factory=set)
    """The parts this call started ("kafka", "postgres"); a caller stops only those."""
    kafka_ready_s: float = 0.0
    pg_ca_file: str = ""
    """The local CA of PostgreSQL's server certificate (``sslrootcert`` for verify-full)."""
    kafka_security: dict[str, str] = field(default_factory=dict)
    """``LODESTONE_KAFKA_…`` security settings of the secured runtime's ``admin`` (else empty)."""

    def dsn(self, role: str = "admin") -> str:
        return self.dsns[role]

    def environment(self) -> dict[str, str]:
        """The ``LODESTONE_…`` settings a process needs to use this runtime.

        Only the services' own roles: the bootstrap identity (migrations) is not handed to
        shells or services; tools that need it call :func:`deploy.local.roles.local_dsn`.
        """
        s = Settings()
        env = {"LODESTONE_KAFKA_BOOTSTRAP": self.kafka_bootstrap, **self.kafka_security}
        env.update(
            {
                f"LODESTONE_{role.upper()}_DATABASE_URL": url
                for role, url in self.dsns.items()
                if role in SERVICE_ROLES
            }
        )
        env.update(
            {
                "LODESTONE_TOPIC_SHIPMENTS": s.topic_shipments,
                "LODESTONE_TOPIC_DECISIONS": s.topic_decisions,
                "LODESTONE_TOPIC_DEAD_LETTERS": s.topic_dead_letters,
                "LODESTONE_TOPIC_LICENSES": s.topic_licenses,
                "LODESTONE_TOPIC_CONTROLS": s.topic_controls,
                "LODESTONE_TOPIC_ANCHORS": s.topic_anchors,
                "LODESTONE_TOPIC_PARTIES": s.topic_parties,
                "LODESTONE_TOPIC_REVIEWS": s.topic_reviews,
            }
        )
        env.update(self.key_settings)
        return env

    def exports(self) -> str:
        return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in self.environment().items())


class Runtime:
    """The local runtime of one working tree."""

    def __init__(self, cfg: RuntimeConfig | None = None) -> None:
        self.cfg = cfg or RuntimeConfig.from_env()

    def _prepare_dirs(self) -> None:
        self.cfg.local_dir.mkdir(parents=True, exist_ok=True)
        self.cfg.local_dir.chmod(0o755)  # the PostgreSQL OS user must traverse it
        self.cfg.kafka_dir.mkdir(parents=True, exist_ok=True)

    def up(self) -> RuntimeState:
        """Start what is not running, then create topics, roles and apply migrations."""
        self._prepare_dirs()
        with file_lock(self.cfg.lock_file):
            return asyncio.run(self._up())

    async def _up(self) -> RuntimeState:
        cfg = self.cfg
        lib = kafka.ensure_jars(cfg)
        kafka.prepare(cfg, lib)
        outside.claim(cfg)  # before the cluster or the anchor file is looked for there
        cluster = postgres.cluster(cfg)
        postgres.init(cfg, cluster)
        started: set[str] = set()
        try:
            kafka_started_at = time.monotonic()
            if kafka.start(cfg, lib):
                started.add("kafka")
            if postgres.start(cfg, cluster):  # starts while the JVM boots
                started.add("postgres")
            else:
                postgres.reload(cluster)  # settings rewritten by init()
            passwords = roles.load_passwords(cfg.secrets_file)
            await roles.bootstrap(cfg, cluster, passwords)
            await kafka.wait_ready(cfg)
            ready = time.monotonic() - kafka_started_at
            if "kafka" in started:
                say(f"Kafka ready {ready:.1f} s after its start")
            await self._kafka_contents()
            dsns = {role: roles.dsn(cfg, role, passwords) for role in roles.ROLES}
            applied = await migrate_all(dsns["admin"])
            for component, versions in applied.items():
                if versions:
                    say(f"applied {component} migrations: {', '.join(versions)}")
        except BaseException:
            self._stop(started)  # leave nothing half-started behind
            raise
        say(f"runtime up: Kafka {cfg.kafka_bootstrap}, PostgreSQL 127.0.0.1:{cfg.pg_port}")
        security = kafka_secured.environment(cfg, acls.ADMIN) if cfg.secured else {}
        ca = str(postgres.tls_authority(cluster).ca_file)
        return RuntimeState(
            cfg.kafka_bootstrap,
            dsns,
            keys.settings_environment(cfg),
            started,
            ready,
            ca,
            security,
        )

    async def _kafka_contents(self) -> None:
        """The contract's topics and, on a secured broker, the ACLs (both idempotent)."""
        cfg = self.cfg
        created = await topics.ensure_topics(
            cfg.kafka_bootstrap, topics.contract_topics(), kafka_secured.admin_security(cfg)
        )
        if created:
            say(f"created topics: {', '.join(created)}")
        if cfg.secured:
            added = await asyncio.to_thread(kafka_secured.upsert_scram_users, cfg)
            if added:
                say(f"created SCRAM users: {', '.join(added)}")
            await asyncio.to_thread(
                acls.create_acls,
                cfg.kafka_bootstrap,
                kafka_secured.confluent_admin_options(cfg),
                acls.grants(),
            )
            kafka_secured.write_environments(cfg)

    def up_kafka(self) -> bool:
        """Only the broker, its topics and ACLs (a second broker beside a runtime's database);
        True when this call started it."""
        self._prepare_dirs()
        with file_lock(self.cfg.lock_file):
            return asyncio.run(self._up_kafka())

    async def _up_kafka(self) -> bool:
        lib = kafka.ensure_jars(self.cfg)
        kafka.prepare(self.cfg, lib)
        started = kafka.start(self.cfg, lib)
        try:
            await kafka.wait_ready(self.cfg)
            await self._kafka_contents()
        except BaseException:
            if started:
                kafka.stop(self.cfg)
            raise
        return started

    def _stop(self, parts: set[str]) -> None:
        if "kafka" in parts:
            kafka.stop(self.cfg)
        if "postgres" in parts:
            postgres.stop(postgres.cluster(self.cfg))

    def stop(self, parts: set[str] | None = None) -> None:
        """Stop ``parts`` (default: both); safe when they are not running."""
        with file_lock(self.cfg.lock_file):
            self._stop(parts if parts is not None else {"kafka", "postgres"})

    def down(self) -> None:
        self.stop()
        say("runtime down")

    def status(self) -> dict[str, str]:
        cfg = self.cfg
        pid = kafka.running_pid(cfg)
        cluster = postgres.cluster(cfg)
        return {
            "kafka": f"running (pid {pid}) on {cfg.kafka_bootstrap}" if pid else "stopped",
            "postgres": (
                f"running on 127.0.0.1:{cfg.pg_port}, data in {cluster.data_dir}"
                if postgres.is_running(cluster)
                else "stopped"
            ),
            "jar cache": str(cfg.kafka_lib_dir),
        }

    def is_running(self) -> bool:
        return kafka.running_pid(self.cfg) is not None and postgres.is_running(
            postgres.cluster(self.cfg)
        )

    def reset(self) -> None:
        """Stop everything and delete the local data (the jar cache stays)."""
        self.stop()
        cluster = postgres.cluster(self.cfg)
        for path in (self.cfg.local_dir, outside.outside_dir(self.cfg), cluster.base):
            if path.exists():
                say(f"deleting {path}")
                shutil.rmtree(path)
