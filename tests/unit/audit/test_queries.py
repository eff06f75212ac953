"""Query building: user input only ever travels as parameters."""

from __future__ import annotations

from datetime import UTC, datetime

from services.audit.api import _token_ok, decode_cursor, encode_cursor
from services.audit.queries import DecisionFilter, build_listing

HOSTILE = "' OR 1=1 --"


def test_every_filter_value_is_a_parameter() -> None:
    f = DecisionFilter(
        shipment_id=HOSTILE,
        exporter_id=HOSTILE,
        outcome=HOSTILE,
        reason=HOSTILE,
        control_id=HOSTILE,
        license_id=HOSTILE,
        since=datetime(2026, 1, 1, tzinfo=UTC),
        until=datetime(2026, 2, 1, tzinfo=UTC),
    )
    sql, params = build_listing(f, limit=10, before_seq=99)
    assert HOSTILE not in sql
    assert params.count(HOSTILE) == 6
    assert params[-2:] == [99, 10]
    assert "$10" in sql


def test_no_filter_lists_everything_newest_first() -> None:
    sql, params = build_listing(DecisionFilter(), limit=5)
    assert "WHERE" not in sql
    assert sql.endswith("ORDER BY seq DESC LIMIT $1")
    assert params == [5]


def test_cursor_round_trip() -> None:
    assert decode_cursor(encode_cursor(12345)) == 12345


def test_tokens_match_exactly() -> None:
    assert _token_ok("abc", ["x", "abc"])
    assert not _token_ok("ab", ["abc"])
    assert not _token_ok("abc", [])
