"""Reference data as streams: the catalogue (``controls.v1``), licences (``licenses.v1``) and
the controlled-party list (``parties.v1``, see :mod:`services.screening.parties.follower`).

:class:`ReferenceFollower` reads both topics from the beginning up to the end offsets found at
start-up (``loaded`` is then set: the service is ready to decide), and follows them live after,
reporting each change to its listener so that affected holds are re-screened.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from schemas import License
from schemas.strict_json import JsonInputError, loads_strict
from schemas.validation import summarise_validation_error
from services.common.kafka_security import kafka_client_options
from services.common.logging import get_logger
from services.screening.catalogue import Catalogue, CatalogueError, load_bundled_catalogue
from services.screening.parties import PartyIndex
from services.screening.parties.follower import PartyListChange, PartyListState

log = get_logger(__name__)


@dataclass
class ReferenceData:
    """The catalogue and licences in force for this instance (replaced, never mutated in place)."""

    catalogue: Catalogue | None = None
    catalogue_source: str = "none"
    licences: Mapping[str, License] = field(default_factory=dict)
    #: The controlled-party list (``None`` until loaded, or when ``parties.v1`` is not followed).
    parties: PartyIndex | None = None
    parties_source: str = "none"
    loaded: asyncio.Event = field(default_factory=asyncio.Event)

    def require_catalogue(self) -> Catalogue:
        if self.catalogue is None:
            raise RuntimeError("no control catalogue loaded yet")
        return self.catalogue

    def licences_of(self, holder_id: str) -> list[License]:
        return [lic for lic in self.licences.values() if lic.holder_id == holder_id]


@dataclass(frozen=True)
class LicenceChange:
    license_id: str
    before: License | None
    after: License | None


#: Called with each live change after the initial load (not during it).
ChangeListener = Callable[[LicenceChange | Catalogue | PartyListChange], Awaitable[None]]


class ReferenceFollower:
    """Loads and follows ``controls.v1`` and ``licenses.v1`` with a group-less consumer."""

    def __init__(
        self,
        data: ReferenceData,
        *,
        bootstrap: str,
        controls_topic: str,
        licences_topic: str,
        require_published_catalogue: bool,
        on_change: ChangeListener | None = None,
        parties_topic: str | None = None,
    ) -> None:
        self.data = data
        self._bootstrap = bootstrap
        self._controls = controls_topic
        self._licences = licences_topic
        self._require_published = require_published_catalogue
        self._on_change = on_change
        self._parties = parties_topic
        self._party_state = PartyListState()
        self.invalid_records = 0

    async def run(self) -> None:
        """Load, then follow until cancelled."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            group_id=None,
            **kafka_client_options(),
        )
        await consumer.start()
        try:
            partitions = await self._assign(consumer)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            pending = {tp for tp, end in ends.items() if end > 0}
            while pending:
                batch = await consumer.getmany(timeout_ms=500)
                for tp, records in batch.items():
                    for record in records:
                        self._apply(record)
                    if (await consumer.position(tp)) >= ends[tp]:
                        pending.discard(tp)
                for tp in list(pending):
                    if (await consumer.position(tp)) >= ends[tp]:
                        pending.discard(tp)
            self._finish_initial_load()
            while True:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    for record in records:
                        change = self._apply(record)
                        if change is not None and self._on_change is not None:
                            await self._on_change(change)
                await self._flush_parties()
                if not self.data.loaded.is_set() and self.data.catalogue is not None:
                    self._mark_loaded()
        finally:
            await consumer.stop()

    async def _assign(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        wanted = tuple(t for t in (self._controls, self._licences, self._parties) if t)
        while True:
            # A fresh metadata snapshot (the consumer's cache only tracks subscribed topics).
            cluster = await consumer._client.fetch_all_metadata()
            partitions = [
                TopicPartition(topic, p)
                for topic in wanted
                for p in sorted(cluster.partitions_for_topic(topic) or ())
            ]
            missing = sorted(set(wanted) - {tp.topic for tp in partitions})
            if not missing:
                consumer.assign(partitions)
                return partitions
            log.warning("reference topics not found yet", missing=missing)
            await asyncio.sleep(1)

    def _finish_initial_load(self) -> None:
        if self._parties:
            self.data.parties, self.data.parties_source = self._party_state.initial_index()
        if self.data.catalogue is None and not self._require_published:
            self.data.catalogue = load_bundled_catalogue()
            self.data.catalogue_source = "bundled"
            log.warning(
                "NO CATALOGUE PUBLISHED: falling back to the bundled catalogue",
                topic=self._controls,
                catalogue_version=self.data.catalogue.version,
                hint="run `lodestone catalogue publish`; set"
                " LODESTONE_SCREENING_REQUIRE_PUBLISHED_CATALOGUE=true to refuse the fallback",
            )
        if self.data.catalogue is None:
            log.error("waiting for a catalogue on the controls topic", topic=self._controls)
            return
        self._mark_loaded()

    def _mark_loaded(self) -> None:
        if not self.data.loaded.is_set():
            log.info(
                "reference data loaded",
                catalogue_version=self.data.require_catalogue().version,
                catalogue_source=self.data.catalogue_source,
                licences=len(self.data.licences),
            )
            self.data.loaded.set()

    def _apply(self, record: ConsumerRecord) -> LicenceChange | Catalogue | None:
        """Apply one reference record; a record that cannot be read is counted and skipped.

        Nothing a single record holds may end the reference-data task (which would stop every
        licence and catalogue update): failures nobody foresaw are caught here too.
        """
        try:
            if record.topic == self._controls:
                return self._apply_catalogue(record)
            if record.topic == self._parties:
                self._party_state.apply(record.key, record.value)  # indexed per batch
                return None
            return self._apply_licence(record)
        except Exception as exc:
            self.invalid_records += 1
            log.error(
                "unreadable reference record ignored",
                topic=record.topic,
                offset=record.offset,
                error=repr(exc)[:300],
            )
            return None

    def _apply_catalogue(self, record: ConsumerRecord) -> Catalogue | None:
        if record.value is None:
            return None
        try:
            catalogue = Catalogue.from_wire(record.value)
        except (CatalogueError, ValueError) as exc:
            self.invalid_records += 1
            log.error("invalid catalogue record ignored", offset=record.offset, error=str(exc))
            return None
        previous = self.data.catalogue
        self.data.catalogue = catalogue
        self.data.catalogue_source = "published"
        if self.data.loaded.is_set() or previous is not None:
            log.info("catalogue version received", catalogue_version=catalogue.version)
        if not self.data.loaded.is_set():
            return None
        return None if previous is not None and previous.version == catalogue.version else catalogue

    def _apply_licence(self, record: ConsumerRecord) -> LicenceChange | None:
        key = record.key.decode("utf-8", "replace") if record.key is not None else None
        licences = dict(self.data.licences)
        if record.value is None:
            if key is None:
                return None
            before = licences.pop(key, None)
            self.data.licences = licences
            return LicenceChange(key, before, None) if self.data.loaded.is_set() else None
        try:
            licence = License.model_validate(loads_strict(record.value))
        except (JsonInputError, ValidationError) as exc:
            self.invalid_records += 1
            error = (
                summarise_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
            )
            log.error("invalid licence record ignored", key=key, offset=record.offset, error=error)
            return None
        before = licences.get(licence.license_id)
        licences[licence.license_id] = licence
        self.data.licences = licences
        if not self.data.loaded.is_set() or before == licence:
            return None
        return LicenceChange(licence.license_id, before, licence)

    async def _flush_parties(self) -> None:
        """Index the party records of the last batch once, then report them as one change."""
        if not self._parties or self.data.parties is None:
            return
        change = self._party_state.flush()
        if change is None:
            return
        self.data.parties, self.data.parties_source = change.index, "published"
        log.info(
            "party list changed",
            party_list_version=change.index.version,
            listings=len(change.index),
            added_or_changed=len(change.after),
            changed_or_removed=len(change.before),
        )
        if self._on_change is not None:
            await self._on_change(change)
