"""Query building: user input only ever travels as parameters."""

from __future__ import annotations

from datetime import UTC, datetime

from services.audit.api import _token_ok, decode_cursor, encode_cursor
from services.audit.queries import (
    ROW_OVERHEAD_BYTES,
    DecisionFilter,
    auditor_session,
    build_listing,
    within_budget,
)

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
    assert "$11" not in sql


def test_no_filter_lists_everything_newest_first() -> None:
    sql, params = build_listing(DecisionFilter(), limit=5)
    assert "WHERE" not in sql
    assert sql.endswith("ORDER BY d.seq DESC LIMIT $1")
    assert params == [5]


def test_the_first_array_filter_drives_the_listing_through_its_term_index() -> None:
    f = DecisionFilter(reason="LICENSE_REQUIRED", control_id="C-1", outcome="hold")
    sql, params = build_listing(f, limit=10, before_seq=500)
    assert "FROM audit.decision_terms_v t JOIN audit.decisions_v d ON d.seq = t.seq" in sql
    assert "t.kind = 'control' AND t.term = $3" in sql  # a control is rarer than a reason
    assert "d.reason_codes @> ARRAY[$2::text]" in sql  # the other array filter still holds
    assert "d.control_ids @>" not in sql
    assert sql.endswith("t.seq < $4 ORDER BY t.seq DESC LIMIT $5")
    assert params == ["hold", "LICENSE_REQUIRED", "C-1", 500, 10]


def test_a_licence_drives_before_a_control_and_a_shipment_before_both() -> None:
    both = DecisionFilter(control_id="C-1", license_id="L-1")
    assert "t.kind = 'licence'" in build_listing(both, limit=1)[0]
    with_shipment = DecisionFilter(shipment_id="S-1", license_id="L-1")
    sql, _ = build_listing(with_shipment, limit=1)
    assert "decision_terms_v" not in sql
    assert "d.license_ids @> ARRAY[$2::text]" in sql


def test_a_window_bounds_the_walk_by_the_seq_range_of_its_blocks() -> None:
    since, until = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    sql, params = build_listing(DecisionFilter(exporter_id="E", since=since, until=until), limit=3)
    walk, _, late = sql.partition(" UNION ALL ")
    assert "d.decided_at >= $2 AND d.decided_at < $3" in walk  # the window itself still holds
    first = "(SELECT min(first_seq) FROM audit.decided_at_blocks_v WHERE max_decided >= $2)"
    final = "(SELECT max(last_seq) FROM audit.decided_at_blocks_v WHERE min_decided < $3)"
    assert f"d.seq >= {first} AND d.seq <= {final}" in walk
    # late records outside that range come from their own index, never twice
    assert "FROM audit.late_decisions_v l JOIN audit.decisions_v d ON d.seq = l.seq" in late
    assert "l.decided_at >= $2 AND l.decided_at < $3" in late
    assert f"NOT coalesce(l.seq >= {first} AND l.seq <= {final}, FALSE)" in late
    assert sql.endswith("AS window_rows ORDER BY seq DESC LIMIT $4")
    assert params == ["E", since, until, 3]


def test_a_window_with_a_cursor_applies_it_to_both_sources() -> None:
    until = datetime(2026, 2, 1, tzinfo=UTC)
    sql, params = build_listing(DecisionFilter(until=until), limit=5, before_seq=77)
    walk, _, late = sql.partition(" UNION ALL ")
    assert "d.seq < $2 ORDER BY d.seq DESC LIMIT $3" in walk
    assert "l.seq < $2 ORDER BY l.seq DESC LIMIT $3" in late
    assert "coalesce(TRUE AND " in late  # no lower bound without since
    assert params == [until, 77, 5]


def test_an_open_window_is_one_walk_without_late_records_apart() -> None:
    """``since`` alone: no late record can lie outside the range walked (docs/audit.md)."""
    since = datetime(2026, 1, 1, tzinfo=UTC)
    sql, params = build_listing(DecisionFilter(since=since), limit=5, before_seq=77)
    assert "UNION ALL" not in sql
    assert "late_decisions" not in sql
    assert "d.seq < $2 ORDER BY d.seq DESC LIMIT $3" in sql
    assert params == [since, 77, 5]


def test_the_auditor_session_is_read_only_and_time_boxed() -> None:
    session = auditor_session(1500)
    assert session["statement_timeout"] == "1500"
    assert session["default_transaction_read_only"] == "on"


def test_a_page_ends_early_at_its_byte_budget_but_never_empty() -> None:
    rows = [{"seq": n, "decision": "x" * 1000} for n in range(10, 0, -1)]
    page = within_budget(rows, 3 * (1000 + ROW_OVERHEAD_BYTES))
    assert [r["seq"] for r in page] == [10, 9, 8]
    assert within_budget(rows, 10) == rows[:1]
    assert within_budget(rows, 10**9) == rows
    assert within_budget([{"seq": 1}] * 5, 10**6) == [{"seq": 1}] * 5


def test_cursor_round_trip() -> None:
    assert decode_cursor(encode_cursor(12345)) == 12345


def test_tokens_match_exactly() -> None:
    assert _token_ok("abc", ["x", "abc"])
    assert not _token_ok("ab", ["abc"])
    assert not _token_ok("abc", [])
