"""The spans of one batch of shipment records: made only when tracing is on (ADR 0033).

Per record, a ``screening shipment`` span continues the trace named by the record's
``traceparent`` header (or starts one), with children ``intake``, ``decide``, ``settle`` and
``publish``. The consume loop works on whole batches, so each child spans the batch step the
record was part of, with the step's measured start and duration. The decision (or dead letter)
the record produced carries the ``traceparent`` of its ``screening shipment`` span.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRecord
from opentelemetry.trace import Span, SpanKind, Tracer, set_span_in_context

from services.common.tracing import context_from_headers, headers_of

_NS = 1_000_000_000


class BatchTraces:
    """Root spans per record, in the order the consume loop parses the batch."""

    def __init__(self, tracer: Tracer, records: Sequence[ConsumerRecord], read_ns: int) -> None:
        self._tracer = tracer
        self._read_ns = read_ns
        self._parsed_ns = read_ns
        self._handed_ns = read_ns
        self.roots: list[Span] = [
            tracer.start_span(
                "screening shipment",
                context=context_from_headers(record.headers),
                kind=SpanKind.CONSUMER,
                start_time=read_ns,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.destination.name": record.topic,
                    "messaging.destination.partition.id": str(record.partition),
                    "messaging.kafka.offset": record.offset,
                },
            )
            for record in records
        ]

    def _child(self, root: Span, name: str, start_ns: int, end_ns: int) -> None:
        if not root.is_recording():  # sampled out: its children would be too, skip the work
            return
        span = self._tracer.start_span(name, context=set_span_in_context(root), start_time=start_ns)
        span.end(end_time=max(start_ns, end_ns))

    def parsed(self) -> None:
        self._parsed_ns = time.time_ns()

    def decided(self, timings: dict[str, float], rejected: Sequence[bool]) -> None:
        """Children ``intake`` for all, ``decide`` and ``settle`` for the records decided."""
        start = self._parsed_ns + int(timings.get("snapshot_s", 0.0) * _NS)
        decide_end = start + int(timings.get("decide_s", 0.0) * _NS)
        settle_end = decide_end + int(timings.get("settle_s", 0.0) * _NS)
        for root, was_rejected in zip(self.roots, rejected, strict=True):
            self._child(root, "intake", self._read_ns, self._parsed_ns)
            if not was_rejected:
                self._child(root, "decide", start, decide_end)
                self._child(root, "settle", decide_end, settle_end)
        self._handed_ns = time.time_ns()

    def annotate(self, index: int, **attributes: Any) -> Sequence[tuple[str, bytes]]:
        """Set attributes on record ``index``'s span; the headers naming it."""
        root = self.roots[index]
        if root.is_recording():
            root.set_attributes(
                {f"lodestone.{k}": v for k, v in attributes.items() if v is not None}
            )
        return headers_of(root)

    def published(self) -> None:
        """The batch's records are acknowledged: ``publish`` children, and the roots end."""
        now = time.time_ns()
        for root in self.roots:
            self._child(root, "publish", self._handed_ns, now)
            root.end(end_time=now)
