"""The screening service: FastStream runs the process and produces; aiokafka consumes.

``build_app()`` gives the FastStream application behind ``lodestone screening run``. The broker
(FastStream's producer) publishes decisions and dead letters; :class:`ScreeningService` owns the
reference-data follower, the explicit shipments consume loop (see ADR 0020), re-screening and the
probe/metrics server, and is started after the broker and stopped before it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer
from faststream import FastStream
from faststream.kafka import KafkaBroker

from schemas import MAX_EVENT_BYTES, utc_now
from services.common.gc_tuning import freeze_startup_objects
from services.common.health import HealthServer
from services.common.kafka_security import kafka_broker_options, kafka_client_options
from services.common.logging import get_logger
from services.common.privileges import check_dsn
from services.common.settings import Settings
from services.common.signing import decision_signer
from services.screening.catalogue import Catalogue
from services.screening.catalogue.summary import unconfirmed_statuses
from services.screening.config import ScreeningSettings, Topics
from services.screening.consumer import ShipmentConsumer
from services.screening.ledger import Ledger
from services.screening.ledger_gauges import LedgerGauges
from services.screening.metrics import ScreeningMetrics
from services.screening.parties.follower import PartyListChange
from services.screening.publish import BrokerPublisher, Publisher
from services.screening.reference_data import LicenceChange, ReferenceData, ReferenceFollower
from services.screening.registry.resolver import build_resolver
from services.screening.registry.settings import SchemaRegistrySettings
from services.screening.rescreen import Rescreener
from services.screening.retry import retry_transient
from services.screening.review_follower import ReviewFollower
from services.screening.review_release import Release
from services.screening.screener import Screener

log = get_logger(__name__)

#: How long the broker may hold a fetch for data (aiokafka's default: 500 ms). The fetcher has one
#: fetch in flight per broker, for the partitions with nothing buffered; held for lack of data on
#: those, it kept data that had meanwhile arrived elsewhere from the consume loop for up to this
#: long (the p99 at low rates). With ``_FETCH_MIN_BYTES`` the broker answers a fetch once that
#: much is ready or after this long: at most ~50 fetches a second however the records trickle in
#: (with 1 byte the loop woke for nearly every record at 200 events/s: twice the CPU), and at
#: most 20 ms added to a decision's latency.
_FETCH_MAX_WAIT_MS = 20
_FETCH_MIN_BYTES = 16 * 1024


class ScreeningService:
    """Everything but the producer; ``start()`` returns at once, readiness comes later."""

    def __init__(
        self, settings: Settings, options: ScreeningSettings, publisher: Publisher
    ) -> None:
        self.settings = settings
        self.options = options
        self.metrics = ScreeningMetrics()
        self.reference = ReferenceData()
        self.topics = Topics(
            shipments=settings.topic_shipments,
            decisions=settings.topic_decisions,
            dead_letters=settings.topic_dead_letters,
        )
        self._publisher = publisher
        self._schemas = build_resolver(SchemaRegistrySettings())
        self._stopping = False
        self._consuming = False
        self._tasks: list[asyncio.Task[None]] = []
        self._consumer: ShipmentConsumer | None = None
        self._rescreener: Rescreener | None = None
        self.ledger: Ledger | None = None
        #: Set when a critical task ended on its own: the process must stop and be restarted.
        self.failed = False
        #: Called once when a critical task ends unexpectedly (``lodestone screening run`` asks
        #: the application to exit, so that the process ends non-zero and its supervisor
        #: restarts it; redelivery then resumes from the last committed offsets).
        self.on_fatal: Callable[[], None] | None = None
        self.health = HealthServer(
            registry=self.metrics.registry,
            ready=self.is_ready,
            live=lambda: not any(t.done() and not t.cancelled() for t in self._tasks),
            host=options.metrics_host,
            port=options.metrics_port,
            ready_detail=self.readiness_detail,
        )
        self.metrics.watch_catalogue(
            lambda: self.reference.catalogue,
            parties=lambda: self.reference.parties.parties if self.reference.parties else None,
        )
        self.ledger_gauges = LedgerGauges(self.metrics.registry)

    def readiness_detail(self) -> list[str]:
        """Measures whose status today is assumed (a warning: readiness does not fail on it)."""
        catalogue = self.reference.catalogue
        if catalogue is None:
            return []
        today = utc_now().date()
        return [f"warning: {s.describe(today)}" for s in unconfirmed_statuses(catalogue, today)]

    def is_ready(self) -> bool:
        return self.reference.loaded.is_set() and self._consuming and not self._stopping

    def _is_stopping(self) -> bool:
        return self._stopping

    async def start(self) -> None:
        await self.health.start()
        self.ledger = await retry_transient(
            lambda: Ledger.connect(
                self.settings.dsn_for("screening"),
                source_topic=self.topics.shipments,
                size=self.options.db_pool_size,
            ),
            stage="db_connect",
            metrics=self.metrics,
            stopping=self._is_stopping,
            max_delay=self.options.retry_max_delay_s,
        )
        # The database answers now (connecting is retried above): refuse to run as an owner.
        await check_dsn(self.settings.dsn_for("screening"))
        screener = Screener(self.ledger, self.reference, self.metrics)
        self._rescreener = Rescreener(
            screener=screener,
            ledger=self.ledger,
            reference=self.reference,
            publisher=self._publisher,
            topics=self.topics,
            metrics=self.metrics,
            stopping=self._is_stopping,
            max_delay=self.options.retry_max_delay_s,
        )
        follower = ReferenceFollower(
            self.reference,
            bootstrap=self.settings.kafka_bootstrap,
            controls_topic=self.settings.topic_controls,
            licences_topic=self.settings.topic_licenses,
            require_published_catalogue=self.options.require_published_catalogue,
            on_change=self._on_reference_change,
            parties_topic=self.settings.topic_parties,
        )
        self._tasks.append(asyncio.create_task(follower.run(), name="reference-data"))
        reviews = ReviewFollower(  # review releases (review_release.py)
            bootstrap=self.settings.kafka_bootstrap,
            topic=self.settings.topic_reviews,
            on_release=self._on_release,
        )
        self._tasks.append(asyncio.create_task(reviews.run(), name="reviews"))
        self._tasks.append(asyncio.create_task(self._consume(screener), name="shipments"))
        gauges = self.ledger_gauges.run(
            self.ledger.pool,
            self.ledger.source_topic,
            lambda: self.reference.licences.values(),
            self._is_stopping,
        )
        self._tasks.append(asyncio.create_task(gauges, name="ledger-gauges"))
        for task in self._tasks:
            task.add_done_callback(self._on_task_done)
        log.info(
            "screening service started",
            metrics_port=self.health.port,
            shipments=self.topics.shipments,
            decisions=self.topics.decisions,
        )

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        """Crash-only: a critical task that ends while the service runs takes the process down.

        Without this, a consume loop that died (a defect, or an error outside the retried
        paths) would leave a process that is alive but decides nothing, silently.
        """
        if self._stopping or task.cancelled():
            return
        error = task.exception()
        self.failed = True
        self.metrics.ready.set(0)
        log.error(
            "critical task ended; stopping so that the service is restarted",
            task=task.get_name(),
            error=repr(error),
            exc_info=error,
        )
        if self.on_fatal is not None:
            self.on_fatal()

    async def _on_reference_change(
        self, change: LicenceChange | Catalogue | PartyListChange
    ) -> None:
        self.metrics.licences.set(len(self.reference.licences))
        if self._rescreener is not None and self._consuming:
            await self._rescreener.on_change(change)

    async def _on_release(self, release: Release) -> None:
        """Review releases: decided once the reference data is loaded."""
        await self.reference.loaded.wait()
        if self._rescreener is not None:
            await self._rescreener.on_release(release)

    async def _consume(self, screener: Screener) -> None:
        await self.reference.loaded.wait()
        catalogue = self.reference.require_catalogue()
        self.metrics.catalogue.info(
            {"version": catalogue.version, "source": self.reference.catalogue_source}
        )
        self.metrics.licences.set(len(self.reference.licences))
        assert self.ledger is not None
        assert self._rescreener is not None
        if self.options.rescreen_on_start:
            await self._rescreener.catch_up()
        kafka = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=self.options.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=2 * MAX_EVENT_BYTES,
            fetch_max_bytes=8 * MAX_EVENT_BYTES,
            max_poll_interval_ms=600_000,
            fetch_max_wait_ms=_FETCH_MAX_WAIT_MS,
            fetch_min_bytes=_FETCH_MIN_BYTES,
            **kafka_client_options(self.settings),
        )
        self._consumer = ShipmentConsumer(
            kafka,
            topics=self.topics,
            screener=screener,
            publisher=self._publisher,
            metrics=self.metrics,
            batch_max_records=self.options.batch_max_records,
            batch_timeout_ms=self.options.batch_timeout_ms,
            max_delay=self.options.retry_max_delay_s,
            schemas=self._schemas,
        )
        await kafka.start()
        try:
            kafka.subscribe([self.topics.shipments], listener=self._consumer.listener())
            freeze_startup_objects()
            self._consuming = True
            self.metrics.ready.set(1)
            log.info(
                "consuming shipments", topic=self.topics.shipments, group=self.options.group_id
            )
            await self._consumer.run()
        finally:
            self._consuming = False
            self.metrics.ready.set(0)
            await kafka.stop()

    async def stop(self, grace_s: float = 30.0) -> None:
        """Finish and commit the batch in flight, then stop everything (SIGTERM path)."""
        self._stopping = True
        if self._consumer is not None:
            self._consumer.request_stop()
        shipments = [t for t in self._tasks if t.get_name() == "shipments"]
        if shipments:
            await asyncio.wait(shipments, timeout=grace_s)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.ledger is not None:
            await self.ledger.close()
        if self._schemas is not None:
            await self._schemas.aclose()
        await self.health.stop()
        log.info("screening service stopped")


def build_broker(settings: Settings, options: ScreeningSettings) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=options.linger_ms,
        compression_type=options.compression,
        max_request_size=4 * MAX_EVENT_BYTES,
        max_batch_size=256 * 1024,
        logger=None,
        **kafka_broker_options(settings),
    )


def build_app(
    settings: Settings, options: ScreeningSettings
) -> tuple[FastStream, ScreeningService]:
    """The FastStream application and the service it runs."""
    broker = build_broker(settings, options)
    publisher = BrokerPublisher(
        broker, decision_signer(settings), frozenset({settings.topic_decisions})
    )
    service = ScreeningService(settings, options, publisher)
    app = FastStream(broker, after_startup=[service.start], on_shutdown=[service.stop], logger=None)
    service.on_fatal = app.exit
    return app, service
