"""Fixtures for the screening service on the real broker and database, with topics per test."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from deploy.local import RuntimeState
from schemas import CargoLine, Decision, EndUse, EventType, License, Party, ShipmentEvent
from services.common.kafka_security import kafka_client_options
from services.common.settings import Settings
from services.screening.app import ScreeningService, build_app
from services.screening.catalogue import Catalogue
from services.screening.config import ScreeningSettings
from services.screening.publish import publish_catalogue, publish_licences, publish_records
from tests.conftest import NewTopicFactory
from tests.integration.screening.catalogues import COPPER_HS, SAMARIUM_HS

pytestmark = pytest.mark.integration


@dataclass
class Pipeline:
    """One test's own topics, settings and helpers."""

    settings: Settings
    options: ScreeningSettings
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka_bootstrap

    def exporter(self, n: int = 1) -> Party:
        return Party(id=f"CN-T{self.tag}-{n}", name="Test Exporter", country="CN")

    async def publish_catalogue(self, catalogue: Catalogue) -> None:
        await publish_catalogue(self.bootstrap, self.settings.topic_controls, catalogue)

    async def publish_licences(self, *licences: License) -> None:
        await publish_licences(self.bootstrap, self.settings.topic_licenses, licences)

    async def publish_events(
        self, events: Sequence[ShipmentEvent], compression: str | None = None
    ) -> None:
        await self.publish_raw(
            [(e.exporter.id.encode(), e.model_dump_json().encode()) for e in events],
            compression=compression,
        )

    async def publish_raw(
        self, records: Sequence[tuple[bytes | None, bytes | None]], compression: str | None = None
    ) -> None:
        if compression is None:
            await publish_records(self.bootstrap, self.settings.topic_shipments, records)  # type: ignore[arg-type]
            return
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            compression_type=compression,
            max_request_size=4_000_000,
            **kafka_client_options(),
        )
        await producer.start()
        try:
            futures = [
                await producer.send(self.settings.topic_shipments, value=v, key=k)
                for k, v in records
            ]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    async def read(
        self,
        topic: str,
        until: Callable[[list[Any]], bool],
        wait_s: float = 30.0,
        parse: Callable[[bytes], Any] = Decision.model_validate_json,
    ) -> list[Any]:
        """Read ``topic`` from the beginning until ``until(items)`` holds (or time runs out)."""
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
            enable_auto_commit=False,
            **kafka_client_options(),
        )
        await consumer.start()
        items: list[Any] = []
        deadline = time.monotonic() + wait_s
        try:
            while time.monotonic() < deadline and not until(items):
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    items.extend(parse(r.value) for r in records if r.value is not None)
        finally:
            await consumer.stop()
        return items

    async def decisions(
        self, until: Callable[[list[Decision]], bool], wait_s: float = 30.0
    ) -> list[Decision]:
        return await self.read(self.settings.topic_decisions, until, wait_s)


@pytest.fixture
async def pipeline(
    runtime: RuntimeState, migrated: RuntimeState, new_topic: NewTopicFactory
) -> Pipeline:
    compacted = {"cleanup.policy": "compact"}
    settings = Settings(
        kafka_bootstrap=runtime.kafka_bootstrap,
        database_url=runtime.dsn("admin"),
        screening_database_url=runtime.dsn("screening"),
        topic_shipments=await new_topic(partitions=3, prefix="shipments"),
        topic_decisions=await new_topic(partitions=3, prefix="decisions"),
        topic_dead_letters=await new_topic(partitions=1, prefix="dlq"),
        topic_licenses=await new_topic(partitions=1, configs=compacted, prefix="licenses"),
        topic_controls=await new_topic(partitions=1, configs=compacted, prefix="controls"),
        topic_parties=await new_topic(partitions=1, configs=compacted, prefix="parties"),
    )
    options = ScreeningSettings(
        group_id=f"screening-{uuid.uuid4().hex[:8]}",
        metrics_port=0,
        batch_timeout_ms=50,
        retry_max_delay_s=0.5,
    )
    return Pipeline(settings, options)


@asynccontextmanager
async def running(pipeline: Pipeline, **overrides: Any) -> AsyncIterator[ScreeningService]:
    """The service in-process (FastStream app started), ready to decide."""
    options = pipeline.options.model_copy(update=overrides)
    app, service = build_app(pipeline.settings, options)
    await app.start()
    try:
        deadline = time.monotonic() + 30
        while not service.is_ready():
            assert time.monotonic() < deadline, "screening service did not become ready"
            await asyncio.sleep(0.05)
        yield service
    finally:
        await app.stop()


def licence(
    holder: Party,
    *,
    license_id: str | None = None,
    kind: str = "general",
    cap: str | None = None,
    **extra: Any,
) -> License:
    today = datetime.now(UTC).date()
    raw: dict[str, Any] = {
        "license_id": license_id or f"LIC-{uuid.uuid4().hex[:10]}",
        "kind": kind,
        "holder_id": holder.id,
        "status": "active",
        "valid_from": today - timedelta(days=10),
        "valid_to": today + timedelta(days=300),
        "hs_codes": ["2846"],
    }
    if cap is not None:
        raw["max_quantity"] = {"amount": cap, "unit": "kg"}
    raw.update(extra)
    return License.model_validate(raw)


def event(
    exporter: Party,
    *,
    shipment_id: str | None = None,
    samarium_kg: str | None = "100",
    copper_t: str | None = None,
    event_type: EventType = EventType.DECLARED,
    end_use: EndUse = EndUse.CIVIL,
    ship_date: date | None = None,
) -> ShipmentEvent:
    """A shipment from ``exporter`` to Germany (samarium oxide and/or copper cathodes)."""
    lines: list[CargoLine] = []
    if samarium_kg is not None:
        lines.append(
            CargoLine(
                line_no=1,
                hs_code=SAMARIUM_HS,
                description="Samarium oxide 99.9%",
                quantity=Decimal(samarium_kg),
                unit="kg",
                value=Decimal("1000"),
                currency="USD",
                origin_country="CN",
                purity_pct=Decimal("99.9"),
            )
        )
    if copper_t is not None:
        lines.append(
            CargoLine(
                line_no=2,
                hs_code=COPPER_HS,
                description="Copper cathodes",
                quantity=Decimal(copper_t),
                unit="t",
                value=Decimal("9000"),
                currency="USD",
                origin_country="CN",
            )
        )
    customer = Party(id="DE-C-77", name="Magnetwerk GmbH", country="DE")
    return ShipmentEvent(
        event_id=uuid.uuid4().hex,
        event_type=event_type,
        occurred_at=datetime.now(UTC),
        shipment_id=shipment_id or f"SHP-{uuid.uuid4().hex[:12]}",
        ship_date=ship_date or datetime.now(UTC).date() + timedelta(days=5),
        exporter=exporter,
        consignee=customer,
        end_user=customer,
        end_use=end_use,
        destination_country="DE",
        lines=[] if event_type is EventType.CANCELLED else lines,
    )
