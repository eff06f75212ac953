"""Fetch the schemas a batch names from the Schema Registry, once per id, before it is parsed.

Intake is pure and synchronous (:func:`services.screening.intake.parse_record`); this is its
asynchronous half. Per batch, the consume loop asks :meth:`SchemaResolver.resolve` for the ids
of its framed records that are not cached yet; they are fetched concurrently, bounded in time.

- An id the registry does not know (HTTP 404) is remembered as missing for a minute: its records
  are dead letters naming the id, and a flood of them costs one request a minute, not one each.
- A registry that cannot be reached, times out, or refuses Lodestone's credentials raises
  :class:`SchemaRegistryUnavailableError`: a transient failure the consume loop retries with
  backoff, so that a registry outage delays shipments but dead-letters none of them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any, Protocol

from services.screening.registry.frames import (
    KnownSchema,
    MissingSchema,
    Resolved,
    is_framed,
    parse_schema,
    schema_id_of,
)
from services.screening.registry.settings import SchemaRegistrySettings

#: How long an id the registry did not know is taken as missing before it is asked again.
MISSING_TTL_S = 60.0
#: Most ids remembered as missing (a producer inventing ids cannot grow the cache without end).
MAX_MISSING = 1024
#: Most requests to the registry in flight at once.
MAX_CONCURRENT_FETCHES = 8
#: Most new schema ids fetched for one batch. Real topics name a handful of schemas; a producer
#: inventing ids cannot turn one batch into hundreds of requests. The records naming the ids
#: beyond this are dead letters saying so (ids are taken lowest first, deterministically).
MAX_NEW_IDS_PER_BATCH = 16


class SchemaRegistryUnavailableError(ConnectionError):
    """The registry could not say what an id is (unreachable, timed out, refused us): retry."""


class RegistryClient(Protocol):
    """What is used of confluent-kafka's ``AsyncSchemaRegistryClient``."""

    async def get_schema(self, schema_id: int) -> Any: ...

    async def aclose(self) -> None: ...


class SchemaResolver:
    """The schemas known by id: ``known`` is what intake reads; ``resolve`` fills it."""

    def __init__(
        self,
        client: RegistryClient,
        *,
        timeout_s: float = 5.0,
        clock: Any = time.monotonic,
    ) -> None:
        self._client = client
        self._timeout_s = timeout_s
        self._clock = clock
        self.known: dict[int, Resolved] = {}
        self._missing_until: dict[int, float] = {}
        self._limit = asyncio.Semaphore(MAX_CONCURRENT_FETCHES)
        self.fetches = 0
        """Requests made to the registry (for tests and the log)."""

    async def aclose(self) -> None:
        """Close the registry client's connections (at stop)."""
        await self._client.aclose()

    def unresolved(self, values: Iterable[bytes | None]) -> set[int]:
        """The schema ids named by framed ``values`` that are not known (or whose miss expired),
        at most :data:`MAX_NEW_IDS_PER_BATCH` of them."""
        now = self._clock()
        wanted: set[int] = set()
        for value in values:
            if value is None or not is_framed(value):
                continue
            schema_id = schema_id_of(value)
            if schema_id is None:
                continue
            found = self.known.get(schema_id)
            if found is None or (
                isinstance(found, MissingSchema) and self._missing_until.get(schema_id, 0) <= now
            ):
                wanted.add(schema_id)
        if len(wanted) > MAX_NEW_IDS_PER_BATCH:
            return set(sorted(wanted)[:MAX_NEW_IDS_PER_BATCH])
        return wanted

    async def resolve(self, schema_ids: set[int]) -> None:
        """Fetch ``schema_ids``; raises :class:`SchemaRegistryUnavailableError` if the registry
        cannot answer for all of them within the timeout (those it answered are kept)."""
        if not schema_ids:
            return
        try:
            async with asyncio.timeout(self._timeout_s):
                async with asyncio.TaskGroup() as group:
                    for schema_id in sorted(schema_ids):
                        group.create_task(self._fetch(schema_id))
        except TimeoutError as exc:
            raise SchemaRegistryUnavailableError(
                f"the schema registry did not answer within {self._timeout_s} s"
            ) from exc
        except ExceptionGroup as group:
            first = group.exceptions[0]
            if isinstance(first, SchemaRegistryUnavailableError):
                raise first from group
            raise

    async def _fetch(self, schema_id: int) -> None:
        async with self._limit:
            self.fetches += 1
            resolved: Resolved
            try:
                schema = await self._client.get_schema(schema_id)
            except Exception as exc:
                resolved = _missing_or_raise(schema_id, exc)
            else:
                resolved = parse_schema(
                    schema_id, getattr(schema, "schema_type", None), schema.schema_str
                )
        if isinstance(resolved, MissingSchema):
            if len(self._missing_until) >= MAX_MISSING:
                self._forget_oldest_missing()
            self._missing_until[schema_id] = self._clock() + MISSING_TTL_S
        else:
            self._missing_until.pop(schema_id, None)
        self.known[schema_id] = resolved

    def _forget_oldest_missing(self) -> None:
        oldest = min(self._missing_until, key=self._missing_until.__getitem__)
        del self._missing_until[oldest]
        self.known.pop(oldest, None)


def _missing_or_raise(schema_id: int, exc: Exception) -> MissingSchema:
    """A 404 means the id is unknown (a dead letter); anything else is the registry's trouble."""
    status = getattr(exc, "http_status_code", None)
    if status == 404:
        message = getattr(exc, "error_message", "") or "not found"
        return MissingSchema(schema_id, f"schema id {schema_id} is not in the registry: {message}")
    if status in (401, 403):
        raise SchemaRegistryUnavailableError(
            f"the schema registry refused Lodestone's credentials (HTTP {status});"
            " check LODESTONE_SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO"
        ) from exc
    raise SchemaRegistryUnavailableError(
        f"the schema registry could not be asked for schema id {schema_id}: {exc!r}"[:500]
    ) from exc


def build_resolver(settings: SchemaRegistrySettings) -> SchemaResolver | None:
    """The resolver for :class:`~services.screening.registry.settings.SchemaRegistrySettings`,
    or ``None`` when no registry URL is configured."""
    if not settings.url:
        return None
    from confluent_kafka.schema_registry import AsyncSchemaRegistryClient

    client = AsyncSchemaRegistryClient(settings.client_config())
    return SchemaResolver(client, timeout_s=settings.timeout_s)


__all__ = [
    "KnownSchema",
    "MissingSchema",
    "SchemaRegistryUnavailableError",
    "SchemaResolver",
    "build_resolver",
]
