"""``lodestone audit replay``: re-derive recorded decisions from the audit store.

Reads as the auditor role (the documented views only): the decisions in record order through a
cursor, and every stored catalogue version.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from services.common.moments import utc_moment

if TYPE_CHECKING:  # imported only when a replay runs: ``lodestone audit --help`` stays light
    import asyncpg

    from services.audit.replay import ReplaySummary

_BY_ID = (
    "SELECT decision::text FROM audit.decisions_v"
    " WHERE seq = (SELECT seq FROM audit.decision_ids_v WHERE decision_id = $1)"
)
_BY_TIME = """
SELECT decision::text FROM audit.decisions_v
 WHERE decided_at >= $1 AND ($2::timestamptz IS NULL OR decided_at < $2)
 ORDER BY seq
"""
_CATALOGUES = "SELECT content FROM audit.catalogues_v"


async def recorded_decisions(
    conn: asyncpg.Connection,
    decision_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> AsyncIterator[str]:
    """The recorded decisions' JSON: one by id, or those decided in [since, until)."""
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        if decision_id is not None:
            row = await conn.fetchval(_BY_ID, decision_id)
            if row is not None:
                yield row
            return
        async for row in conn.cursor(_BY_TIME, since, until, prefetch=2000):
            yield row[0]


async def replay_store(
    dsn: str,
    decision_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[ReplaySummary, list[str]]:
    """Replay the selected decisions; the summary and the catalogues that could not be read."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        contents = [bytes(row[0]) for row in await conn.fetch(_CATALOGUES)]
        from services.audit.replay import Replayer, ReplaySummary, catalogues_by_version

        catalogues, problems = catalogues_by_version(contents)
        replayer = Replayer(catalogues)
        summary = ReplaySummary()
        async for recorded in recorded_decisions(conn, decision_id, since, until):
            summary.add(replayer.replay(recorded))
    finally:
        await conn.close()
    return summary, problems


def replay_command(
    decision_id: Annotated[str | None, typer.Argument(help="The decision to re-derive.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Decisions decided at or after (date or time, UTC).")
    ] = None,
    until: Annotated[str | None, typer.Option(help="… and before (date or time, UTC).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Re-derive recorded decisions from their evidence and catalogue; exit 1 on a mismatch."""
    from services.common.settings import get_settings

    if (decision_id is None) == (since is None):
        raise _fail("give either a DECISION_ID or --since (with --until if wanted)")
    if until is not None and since is None:
        raise _fail("--until needs --since")
    if fmt not in ("text", "json"):
        raise _fail("--format must be text or json")
    try:
        start = utc_moment(since) if since else None
        end = utc_moment(until) if until else None
    except ValueError as exc:
        raise _fail(str(exc)) from None
    began = time.perf_counter()
    import asyncio

    summary, problems = asyncio.run(
        replay_store(get_settings().dsn_for("auditor"), decision_id, start, end)
    )
    seconds = time.perf_counter() - began
    for problem in problems:
        typer.echo(f"WARNING a stored catalogue does not load: {problem}", err=True)
    if decision_id is not None and summary.replayed == 0:
        typer.echo(f"no decision {decision_id} in the audit store", err=True)
        raise typer.Exit(1)
    if fmt == "json":
        typer.echo(
            json.dumps(
                {
                    "replayed": summary.replayed,
                    "matched": summary.matched,
                    "mismatches": [
                        {
                            "decision_id": f.decision_id,
                            "unverifiable": f.unverifiable,
                            "problem": f.problem,
                        }
                        for f in summary.failures
                    ],
                },
                indent=2,
            )
        )
    else:
        for failure in summary.failures:
            kind = "UNVERIFIABLE" if failure.unverifiable else "MISMATCH"
            typer.echo(f"{kind} {failure.decision_id}: {failure.problem}")
        rate = summary.replayed / seconds if seconds else 0.0
        typer.echo(
            f"{'OK' if not summary.failures else 'FAILED'}: {summary.replayed} decision(s)"
            f" replayed, {summary.matched} identical, {len(summary.failures)} not"
            f" ({seconds:.1f} s, {rate:,.0f}/s)"
        )
    if summary.failures:
        raise typer.Exit(1)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def register(audit_app: typer.Typer) -> None:
    """Add ``lodestone audit replay``."""
    audit_app.command("replay")(replay_command)
