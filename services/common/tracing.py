"""OpenTelemetry tracing: off by default, configured by the standard ``OTEL_*`` variables.

Tracing is **on** when ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp`` or ``console``) or
an OTLP endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``),
and ``OTEL_SDK_DISABLED`` is not ``true``. Everything else the SDK reads itself: the endpoint,
headers, protocol and timeout of the OTLP exporter, ``OTEL_SERVICE_NAME`` /
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER`` (+ ``_ARG``), the batch processor's limits.

Off, nothing is imported from the SDK, no span is made and no header is read or written: the
hot paths test one attribute (``tracer() is None``) per batch (ADR 0033).

The W3C ``traceparent`` header carries the trace from the ERP's shipment record to the decision
record and on to the audit service. Spans are made with explicit start and end times, because
the consume loop works on whole batches: each shipment's spans show the batch step it was part
of and how long that step took.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Link, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_PROPAGATOR = TraceContextTextMapPropagator()
_TRUE = {"true", "1", "yes"}

_tracer: Tracer | None = None
_provider: TracerProvider | None = None

__all__ = [
    "TRACEPARENT",
    "Link",
    "SpanKind",
    "configure_tracing",
    "context_from_headers",
    "headers_of",
    "shutdown_tracing",
    "tracer",
    "tracing_requested",
]


def tracing_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the ``OTEL_*`` variables ask for traces (see the module docstring)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure_tracing(
    service_name: str,
    environ: Mapping[str, str] = os.environ,
    exporter: SpanExporter | None = None,
    *,
    batch: bool = False,
) -> bool:
    """Turn tracing on if requested (or if ``exporter`` is given, for tests: spans exported as
    they end, unless ``batch``); True when on."""
    global _tracer, _provider
    if exporter is None and not tracing_requested(environ):
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    attributes = {} if environ.get("OTEL_SERVICE_NAME") else {"service.name": service_name}
    provider = TracerProvider(resource=Resource.create(attributes))
    if exporter is not None and not batch:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(_exporter_from(environ)))
    shutdown_tracing()
    _provider = provider
    _tracer = provider.get_tracer("lodestone")
    return True


def _exporter_from(environ: Mapping[str, str]) -> SpanExporter:
    if environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # endpoint, headers, timeout: from OTEL_EXPORTER_OTLP_*


def shutdown_tracing() -> None:
    """Flush and stop the exporter; tracing is off afterwards."""
    global _tracer, _provider
    provider, _provider, _tracer = _provider, None, None
    if provider is not None:
        provider.shutdown()


def tracer() -> Tracer | None:
    """The tracer, or ``None`` when tracing is off (the one test on the hot paths)."""
    return _tracer


def context_from_headers(headers: Iterable[tuple[str, bytes]] | None) -> Context | None:
    """The trace context a record's ``traceparent`` header names, or ``None`` (a new trace)."""
    if not headers:
        return None
    carrier: dict[str, str] = {}
    for name, value in headers:
        if name in (TRACEPARENT, TRACESTATE) and value is not None:
            try:
                carrier[name] = value.decode("ascii")
            except UnicodeDecodeError:
                return None
    if TRACEPARENT not in carrier:
        return None
    context = _PROPAGATOR.extract(carrier)
    from opentelemetry.trace import get_current_span

    return context if get_current_span(context).get_span_context().is_valid else None


def headers_of(span: Span) -> Sequence[tuple[str, bytes]]:
    """``traceparent`` (and ``tracestate``) headers naming ``span``, for a produced record."""
    from opentelemetry.trace import set_span_in_context

    carrier: dict[str, Any] = {}
    _PROPAGATOR.inject(carrier, context=set_span_in_context(span))
    return [(name, str(value).encode("ascii")) for name, value in carrier.items()]
