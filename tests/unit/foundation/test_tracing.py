"""Tracing is off unless the OTEL_* variables ask for it; traceparent headers are read safely."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import get_current_span
from structlog.testing import capture_logs

from services.audit.decoding import decode_decision
from services.audit.records import PendingRecord, SourceCoordinates
from services.audit.traces import trace_written
from services.common.tracing import (
    configure_tracing,
    context_from_headers,
    headers_of,
    shutdown_tracing,
    tracer,
    tracing_requested,
)
from tests.unit.audit.factories import make_decision

PARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    configure_tracing("test", environ={}, exporter=exporter)
    try:
        yield exporter
    finally:
        shutdown_tracing()


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "x"}, False),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_tracing_is_on_only_when_asked(environ: dict[str, str], on: bool) -> None:
    assert tracing_requested(environ) is on


def test_off_by_default() -> None:
    assert configure_tracing("test", environ={}) is False
    assert tracer() is None


def test_otlp_from_the_standard_variables_turns_it_on() -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:20199"}
    try:
        assert configure_tracing("test", environ=environ) is True
        assert tracer() is not None
    finally:
        shutdown_tracing()
    assert tracer() is None


@pytest.mark.parametrize(
    "headers",
    [
        None,
        [],
        [("correlation_id", b"abc")],
        [("traceparent", b"not a traceparent")],
        [("traceparent", b"00-00000000000000000000000000000000-00f067aa0ba902b7-01")],
        [("traceparent", b"\xff\xfe")],
        [("traceparent", None)],
    ],
)
def test_a_missing_or_broken_traceparent_starts_a_new_trace(
    headers: list[tuple[str, bytes]] | None,
) -> None:
    assert context_from_headers(headers) is None


def test_a_traceparent_is_continued(spans: InMemorySpanExporter) -> None:
    context = context_from_headers([("traceparent", PARENT)])
    assert context is not None
    parent = get_current_span(context).get_span_context()
    assert format(parent.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
    active = tracer()
    assert active is not None
    span = active.start_span("child", context=context)
    headers = dict(headers_of(span))
    span.end()
    trace_id = headers["traceparent"].split(b"-")[1]
    assert trace_id == b"4bf92f3577b34da6a3ce929d0e0e4736"
    finished = spans.get_finished_spans()
    assert finished[0].parent is not None
    assert finished[0].parent.span_id == parent.span_id


def test_the_audit_log_names_the_trace_of_each_recorded_decision(
    spans: InMemorySpanExporter,
) -> None:
    decision = make_decision(1)
    source = SourceCoordinates("decisions.v1", 2, 41)
    record = decode_decision(decision.model_dump_json().encode(), b"k", source, datetime.now(UTC))
    assert isinstance(record, PendingRecord)
    context = context_from_headers([("traceparent", PARENT)])
    assert context is not None
    active = tracer()
    assert active is not None
    with capture_logs() as logs:
        trace_written(active, [record], {(2, 41): context}, 1, 2)
    assert logs[0]["event"] == "decision recorded"
    assert logs[0]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert logs[0]["decision_id"] == decision.decision_id
    (span,) = spans.get_finished_spans()
    assert span.name == "audit write"
