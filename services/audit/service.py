"""The audit service process: consumers, database pool, probes and metrics, graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.audit.anchors import AnchorPublisher
from services.audit.config import AuditSettings
from services.audit.controls_ingest import ControlsIngest
from services.audit.decisions_ingest import DecisionsIngest
from services.audit.metrics import AuditMetrics
from services.audit.retry import Backoff, retry_transient
from services.audit.reviews_ingest import ReviewsIngest
from services.audit.tree_log import TreeLog
from services.common.gc_tuning import freeze_startup_objects
from services.common.health import HealthServer
from services.common.kafka_security import kafka_client_options
from services.common.logging import get_logger
from services.common.pool import create_pool
from services.common.privileges import check_least_privilege
from services.common.settings import Settings
from services.common.signing import KeyRing, Signer

log = get_logger(__name__)


class ConfigurationError(RuntimeError):
    """The service lacks a setting it cannot run safely without."""


@dataclass
class ServiceOptions:
    """Everything the service needs, so that tests can run it on their own topics."""

    bootstrap: str
    dsn: str
    decisions_topic: str
    controls_topic: str
    decision_keys: KeyRing
    """Public keys whose decision signatures are accepted (old and new during a rotation)."""
    log_signer: Signer
    """The audit log's key: signs each tree head."""
    anchors_topic: str | None = None
    reviews_topic: str | None = None
    """``reviews.v1``: every review kept in ``audit.review_records`` (None: not followed)."""
    anchor_file: Path | None = None
    signature_workers: int = 0
    group_id: str = "lodestone-audit"
    batch_max_records: int = 1000
    poll_timeout_ms: int = 200
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9102
    backoff: Backoff = field(default_factory=Backoff)

    @classmethod
    def from_settings(cls, settings: Settings, audit: AuditSettings) -> ServiceOptions:
        """Options from settings; raises :class:`ConfigurationError` when a key is missing."""
        key_files = settings.decision_public_keys()
        if not key_files:
            raise ConfigurationError(
                "LODESTONE_DECISION_PUBLIC_KEY_FILES is empty: the audit service records only "
                "decisions signed by a trusted key"
            )
        if audit.log_signing_key_file is None:
            raise ConfigurationError(
                "LODESTONE_AUDIT_LOG_SIGNING_KEY_FILE is not set: every batch is anchored by a "
                "signed tree head"
            )
        return cls(
            bootstrap=settings.kafka_bootstrap,
            dsn=settings.dsn_for("audit"),
            decisions_topic=settings.topic_decisions,
            controls_topic=settings.topic_controls,
            reviews_topic=settings.topic_reviews,
            decision_keys=KeyRing.from_files(key_files),
            log_signer=Signer.from_file(audit.log_signing_key_file),
            anchors_topic=settings.topic_anchors,
            anchor_file=audit.anchor_file,
            signature_workers=audit.signature_workers,
            group_id=audit.group_id,
            batch_max_records=audit.batch_max_records,
            poll_timeout_ms=audit.poll_timeout_ms,
            metrics_host=audit.metrics_host,
            metrics_port=audit.metrics_port,
        )


class AuditService:
    """Runs until :meth:`stop` (or SIGINT/SIGTERM under :func:`run_forever`)."""

    def __init__(self, options: ServiceOptions, metrics: AuditMetrics | None = None) -> None:
        self.options = options
        self.metrics = metrics or AuditMetrics()
        self.stopping = asyncio.Event()
        self.db_ok = False
        self._decisions: AIOKafkaConsumer | None = None
        self.health: HealthServer | None = None

    def ready(self) -> bool:
        """Ready when the database answered last time and partitions are assigned."""
        return self.db_ok and self._decisions is not None and bool(self._decisions.assignment())

    def _set_db_state(self, ok: bool) -> None:
        self.db_ok = ok

    def stop(self) -> None:
        self.stopping.set()

    async def run(self) -> None:
        o = self.options
        self.health = HealthServer(
            registry=self.metrics.registry,
            ready=self.ready,
            host=o.metrics_host,
            port=o.metrics_port,
        )
        await self.health.start()
        pool = await retry_transient(
            lambda: create_pool(o.dsn, min_size=1, max_size=3),
            backoff=o.backoff,
            what="connect",
        )
        try:
            async with pool.acquire() as conn:
                await check_least_privilege(conn)
        except BaseException:
            await pool.close()
            raise
        self.db_ok = True
        decisions = AIOKafkaConsumer(
            o.decisions_topic,
            bootstrap_servers=o.bootstrap,
            group_id=o.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=o.batch_max_records,
            **kafka_client_options(),
        )
        controls = AIOKafkaConsumer(
            o.controls_topic,
            bootstrap_servers=o.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **kafka_client_options(),
        )
        self._decisions = decisions
        anchor_producer = None
        if o.anchors_topic:
            anchor_producer = AIOKafkaProducer(
                bootstrap_servers=o.bootstrap,
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                **kafka_client_options(),
            )
        anchors = AnchorPublisher(
            file=o.anchor_file, producer=anchor_producer, topic=o.anchors_topic or ""
        )
        ingest = DecisionsIngest(
            decisions,
            pool,
            self.metrics,
            keys=o.decision_keys,
            tree=TreeLog(o.log_signer),
            anchors=anchors,
            signature_workers=o.signature_workers,
            batch_max_records=o.batch_max_records,
            poll_timeout_ms=o.poll_timeout_ms,
            backoff=o.backoff,
            on_db_state=self._set_db_state,
        )
        catalogue = ControlsIngest(controls, pool, self.metrics, backoff=o.backoff)
        reviews = None
        if o.reviews_topic:
            reviews = AIOKafkaConsumer(
                o.reviews_topic,
                bootstrap_servers=o.bootstrap,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                **kafka_client_options(),
            )
        await decisions.start()
        await controls.start()
        if reviews is not None:
            await reviews.start()
        if anchor_producer is not None:
            await anchor_producer.start()
        freeze_startup_objects()
        log.info("audit service started", topic=o.decisions_topic, group_id=o.group_id)
        tasks = [
            asyncio.create_task(self._decisions_loop(ingest), name="audit-decisions"),
            asyncio.create_task(catalogue.run(self.stopping), name="audit-controls"),
            asyncio.create_task(self._ping_loop(pool), name="audit-db-ping"),
        ]
        if reviews is not None:
            ingest_reviews = ReviewsIngest(reviews, pool, backoff=o.backoff)
            tasks.append(asyncio.create_task(ingest_reviews.run(self.stopping), name="reviews"))
        try:
            done, _ = await asyncio.wait(
                [asyncio.create_task(self.stopping.wait()), *tasks],
                return_when=asyncio.FIRST_COMPLETED,
            )
            for task in done:
                error = task.exception() if task in tasks else None
                if error is not None:
                    raise error
        finally:
            self.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await decisions.stop()
            await controls.stop()
            if reviews is not None:
                await reviews.stop()
            if anchor_producer is not None:
                await anchor_producer.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pool.close(), timeout=5)
            await self.health.stop()
            log.info("audit service stopped")

    async def _decisions_loop(self, ingest: DecisionsIngest) -> None:
        # A batch is written while the next one is decoded; when the loop sees the stop, the
        # batch in flight is finished (written, offsets committed). When the loop is cancelled
        # instead, it is abandoned before its offsets are committed, and read again later.
        try:
            while not self.stopping.is_set():
                await ingest.run_once()
            await ingest.flush()
        finally:
            await ingest.close()

    async def _ping_loop(self, pool: asyncpg.Pool) -> None:
        while not self.stopping.is_set():
            try:
                async with pool.acquire(timeout=2) as conn:
                    await conn.fetchval("SELECT 1", timeout=2)
                self.db_ok = True
            except Exception:
                self.db_ok = False
            await asyncio.sleep(2)


async def run_forever(options: ServiceOptions) -> None:
    """Run the service until SIGINT or SIGTERM."""
    service = AuditService(options)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, service.stop)
    await service.run()
