"""Verify at speed: the content hashed from the stored bytes is the writer's, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from services.audit.canonical import canonical_timestamp
from services.audit.chain import GENESIS_HASH
from services.audit.records import (
    RECORD_COLUMNS,
    PendingRecord,
    SourceCoordinates,
    content_of,
    pending_record,
)
from services.audit.verify_command import PARALLEL_FROM, auto_workers
from services.audit.verify_ranges import is_canonical_text, stored_content
from tests.unit.audit.factories import make_decision

SOURCE = SourceCoordinates("decisions.v1", 3, 1234)
NOW = datetime(2026, 3, 1, 0, 0, 1, 250, tzinfo=UTC)


def _as_read(record: PendingRecord, text: str | None = None) -> tuple[Any, ...]:
    """The row as verify reads it: timestamps as the server formats them, the stored text."""
    row = list(record.row(7, GENESIS_HASH, GENESIS_HASH))
    for column in ("decided_at", "recorded_at"):
        index = RECORD_COLUMNS.index(column)
        row[index] = canonical_timestamp(row[index])
    if text is not None:
        row[RECORD_COLUMNS.index("decision")] = text
    return tuple(row)


def _record(n: int, signature: tuple[str, bytes] | None, **changes: Any) -> PendingRecord:
    payload = {**make_decision(n).model_dump(mode="json"), **changes}
    return pending_record(payload, SOURCE, NOW, signature)


@pytest.mark.parametrize("signature", [None, ("ed25519:abc", bytes(range(64)))])
@pytest.mark.parametrize(
    ("n", "changes"),
    [
        (1, {}),
        (3, {}),  # held
        (4, {"supersedes": "DEC-2026-000001"}),
        (5, {"exporter_id": 'CN-EXP-"ü\\\n\u2028'}),  # escapes and non-ASCII in a column
    ],
)
def test_the_stored_bytes_give_the_writers_content(
    n: int, changes: dict[str, Any], signature: tuple[str, bytes] | None
) -> None:
    record = _record(n, signature, **changes)
    row = _as_read(record)
    assert stored_content(row) == record.content
    assert content_of(dict(zip(RECORD_COLUMNS, row, strict=True))) == record.content


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t.replace('":', '": ', 1),
        lambda t: orjson.dumps(dict(reversed(orjson.loads(t).items()))).decode(),
        lambda t: t[:-1] + ',"outcome":"approve"}',
    ],
)
def test_text_that_is_not_canonical_gives_other_bytes(edit: Any) -> None:
    record = _record(2, ("ed25519:abc", b"s" * 64))
    text = record.decision_json
    assert stored_content(_as_read(record, edit(text))) != record.content


def test_verify_starts_workers_only_for_a_large_recomputation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert auto_workers(PARALLEL_FROM - 1) == 0  # a resumed run, a small store: no process start
    assert auto_workers(PARALLEL_FROM) == 2
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert auto_workers(10**6) == 1


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ('{"a":1,"b":["x","ü"]}', True),
        ('{"a": 1,"b":["x","ü"]}', False),  # spacing
        ('{"b":["x","ü"],"a":1}', False),  # key order
        ('{"a":1,"a":2}', False),  # a repeated key
        ('{"a":"\\u00fc"}', False),  # an escape canonical JSON does not write
        ('{"a":1e0}', False),  # a number written another way
        ('{"a":1', False),  # not JSON
        ('{"a":123456789012345678901234567890}', False),  # beyond what the writer can hash
    ],
)
def test_canonical_text_is_told_apart_from_every_other_form(text: str, canonical: bool) -> None:
    assert is_canonical_text(text) is canonical


def test_every_decision_the_writer_stores_is_canonical_text() -> None:
    for n in range(1, 7):
        assert is_canonical_text(_record(n, None).decision_json)
