"""Shadow screening: decide the live stream a second time under a draft catalogue.

The shadow follows ``decisions.v1`` in a consumer group of its own. Every live decision carries
its evidence (the event, the licences considered and their usage by other shipments), so the
shadow decides the same inputs under the draft, with the licence state the live decision had,
and publishes the result to ``decisions.shadow.v1`` (key: shipment id). It never touches the
ledger, the licence usage, the holds or the audit store: it holds no database connection and
writes to no other topic. Metrics count, per measure, the live decisions the draft agrees and
disagrees with.

At least once, like the live service: offsets are committed after the shadow decisions are
acknowledged; a redelivered live decision gives the same shadow decision (same id, derived from
the event, trigger, superseded decision and the draft's version).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import CollectorRegistry, Counter

from schemas import Decision
from services.common.decision_records import unsigned_problem
from services.common.health import HealthServer
from services.common.kafka_helpers import commit_offsets, next_offsets
from services.common.kafka_security import kafka_client_options
from services.common.logging import get_logger
from services.common.settings import Settings
from services.common.signing import Headers, KeyRing
from services.screening.catalogue import Catalogue
from services.screening.config import ScreeningSettings
from services.screening.evidence import EvidenceError, EvidenceReader
from services.screening.whatif import MeasureNames, RecordedShipment, decide_inputs, line_changes

log = get_logger(__name__)


class ShadowMetrics:
    """Agreements and disagreements by measure; live decisions the shadow could not read."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.compared = Counter(
            "lodestone_shadow_decisions",
            "Live decisions decided again under the draft, by measure (``-``: a decision that"
            " names none) and agreement.",
            ["measure", "agreement"],
            registry=self.registry,
        )
        self.unreadable = Counter(
            "lodestone_shadow_unreadable",
            "Live decisions without readable evidence (not decided again).",
            registry=self.registry,
        )
        self.unverified = Counter(
            "lodestone_shadow_unverified",
            "Records on the live topic not signed by a trusted key (not decided again).",
            registry=self.registry,
        )


@dataclass(frozen=True, slots=True)
class Shadowed:
    """A live decision decided again: the shadow decision and the measures it disagrees on."""

    decision: Decision
    payload: bytes
    agree: frozenset[str]
    disagree: frozenset[str]


class ShadowScreener:
    """Pure: a live decision in, its shadow under the draft out (no I/O)."""

    def __init__(self, draft: Catalogue) -> None:
        self.draft = draft
        self._reader = EvidenceReader()
        self._names = MeasureNames(draft)

    def shadow(self, live: bytes) -> Shadowed:
        """Raises :class:`EvidenceError` when the live decision cannot be read back."""
        try:
            recorded = orjson.loads(live)
        except orjson.JSONDecodeError as exc:
            raise EvidenceError(f"the live decision is not JSON: {exc}") from exc
        if not isinstance(recorded, dict):
            raise EvidenceError("the live decision is not a JSON object")
        inputs = self._reader.inputs(recorded)
        shadow = decide_inputs(inputs, self.draft, include_evidence=True)
        event = inputs.event
        changes = line_changes(
            RecordedShipment(event.shipment_id, event.exporter.id, event.ship_date, False, live),
            recorded,
            shadow,
            self._names,
            event.ship_date,
        )
        disagree = frozenset(m for c in changes for m in c.measures)
        named = {
            self._names.of(r["control_id"])
            for r in recorded.get("reasons", [])
            if isinstance(r, dict) and isinstance(r.get("control_id"), str)
        } | {self._names.of(r.control_id) for r in shadow.reasons if r.control_id}
        agree = frozenset((named or {"-"}) - disagree)
        return Shadowed(shadow, shadow.model_dump_json().encode(), agree, disagree)


class ShadowService:
    """Follows the live decisions and publishes their shadows (see module doc)."""

    def __init__(
        self, settings: Settings, options: ScreeningSettings, draft: Catalogue, keys: KeyRing
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.options = options
        self.screener = ShadowScreener(draft)
        self.metrics = ShadowMetrics()
        self._stop = asyncio.Event()
        self._consuming = False
        self.health = HealthServer(
            registry=self.metrics.registry,
            ready=lambda: self._consuming and not self._stop.is_set(),
            host=options.metrics_host,
            port=options.metrics_port,
        )

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Until :meth:`stop`: read live decisions, publish shadows, commit after the acks."""
        consumer = AIOKafkaConsumer(
            self.settings.topic_decisions,
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=f"{self.options.group_id}.shadow",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            **kafka_client_options(),
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            acks="all",
            enable_idempotence=True,
            compression_type=self.options.compression,
            max_request_size=4 * 1024 * 1024,
            **kafka_client_options(),
        )
        await self.health.start()
        await producer.start()
        await consumer.start()
        self._consuming = True
        log.info(
            "shadow screening started",
            draft=self.screener.draft.version,
            live=self.settings.topic_decisions,
            shadow=self.options.shadow_topic,
        )
        try:
            while not self._stop.is_set():
                batch = await consumer.getmany(
                    timeout_ms=self.options.batch_timeout_ms,
                    max_records=self.options.batch_max_records,
                )
                if not batch:
                    continue
                acks = []
                for records in batch.values():
                    for record in records:
                        shadowed = self._shadow(record.value, record.headers)
                        if shadowed is not None:
                            acks.append(
                                await producer.send(
                                    self.options.shadow_topic,
                                    shadowed.payload,
                                    key=shadowed.decision.shipment_id.encode(),
                                )
                            )
                await asyncio.gather(*acks)
                await commit_offsets(consumer, next_offsets(batch))
        finally:
            self._consuming = False
            await consumer.stop()
            await producer.stop()
            await self.health.stop()
            log.info("shadow screening stopped")

    def _shadow(self, value: bytes | None, headers: Headers | None) -> Shadowed | None:
        problem = unsigned_problem(self.keys, value, headers)
        if problem is not None:  # not the screening service's decision
            self.metrics.unverified.inc()
            log.warning("live record not signed by a trusted key", problem=problem)
            return None
        assert value is not None  # a tombstone has a problem
        try:
            shadowed = self.screener.shadow(value)
        except EvidenceError as exc:
            self.metrics.unreadable.inc()
            log.warning("live decision without readable evidence; not shadowed", error=str(exc))
            return None
        for measure in shadowed.agree:
            self.metrics.compared.labels(measure, "agree").inc()
        for measure in shadowed.disagree:
            self.metrics.compared.labels(measure, "disagree").inc()
        return shadowed
