"""The writer asks the store for partitions only when a batch would not fit (control flow only)."""

from __future__ import annotations

from typing import Any

from services.audit.partitions import PartitionsAhead


class _Conn:
    """Answers the head and ``audit.ensure_partitions``: partitions of 1024 up to what is asked."""

    def __init__(self, head: int) -> None:
        self.head = head
        self.calls: list[str] = []

    async def fetchval(self, sql: str, *args: Any) -> int:
        self.calls.append(sql)
        if "ensure_partitions" in sql:
            return (int(args[0]) // 1024 + 1) * 1024
        return self.head


async def test_a_batch_that_fits_asks_nothing() -> None:
    conn, ahead = _Conn(head=0), PartitionsAhead()
    await ahead.ensure(conn, 500)  # type: ignore[arg-type]
    assert ahead.covered == 1024
    asked = len(conn.calls)
    ahead.written(500)
    await ahead.ensure(conn, 500)  # type: ignore[arg-type]  # 1000 < 1024
    assert len(conn.calls) == asked


async def test_a_batch_that_would_not_fit_attaches_the_next_partition() -> None:
    conn, ahead = _Conn(head=0), PartitionsAhead()
    await ahead.ensure(conn, 500)  # type: ignore[arg-type]
    ahead.written(1000)
    conn.head = 1000
    await ahead.ensure(conn, 500)  # type: ignore[arg-type]  # 1500 >= 1024
    assert ahead.covered == 2048
    assert sum("ensure_partitions" in c for c in conn.calls) == 2


async def test_after_a_missing_partition_the_writer_asks_again() -> None:
    conn, ahead = _Conn(head=0), PartitionsAhead()
    await ahead.ensure(conn, 10)  # type: ignore[arg-type]
    conn.head = 5000  # another writer went on
    ahead.forget()
    await ahead.ensure(conn, 10)  # type: ignore[arg-type]
    assert (ahead.head, ahead.covered) == (5000, 5120)
