"""Tracing in the audit service: an ``audit write`` span per recorded decision, continuing the
trace its record's ``traceparent`` names, and a log line carrying the trace id (ADR 0033).

Used only when tracing is on; off, the ingest loop never calls into this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiokafka import ConsumerRecord
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Tracer

from services.audit.records import PendingRecord
from services.common.logging import get_logger
from services.common.tracing import context_from_headers

log = get_logger(__name__)

Traced = dict[tuple[int, int], Context]
"""(partition, offset) -> the trace context of the decision record read there"""


def traced_records(messages: Iterable[ConsumerRecord]) -> Traced:
    """The trace contexts of the batch's records that carry a ``traceparent``."""
    out: Traced = {}
    for message in messages:
        context = context_from_headers(message.headers)
        if context is not None:
            out[(message.partition, message.offset)] = context
    return out


def trace_written(
    tracer: Tracer,
    inserted: Iterable[PendingRecord],
    traced: Mapping[tuple[int, int], Context],
    started_ns: int,
    ended_ns: int,
) -> None:
    """One ``audit write`` span (the batch's write, with its times) and log line per record."""
    for record in inserted:
        context = traced.get((record.source.partition, record.source.offset))
        if context is None:
            continue
        span = tracer.start_span(
            "audit write",
            context=context,
            kind=SpanKind.CONSUMER,
            start_time=started_ns,
            attributes={
                "lodestone.decision_id": record.decision_id,
                "lodestone.shipment_id": record.shipment_id,
            },
        )
        span.end(end_time=ended_ns)
        ids = span.get_span_context()
        log.info(
            "decision recorded",
            decision_id=record.decision_id,
            shipment_id=record.shipment_id,
            trace_id=format(ids.trace_id, "032x"),
            span_id=format(ids.span_id, "016x"),
        )
