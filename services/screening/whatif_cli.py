"""``lodestone whatif``: which recorded shipments a draft catalogue would change.

Reads the ledger (latest decision per shipment) in a read-only transaction as the screening
role and re-decides in memory; writes nothing to the ledger, the topics or the audit store.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from services.screening.catalogue import Catalogue, CatalogueError, load_catalogue_file
from services.screening.whatif import WhatIf, WhatIfReport

_FORMATS = ("table", "json", "csv")


def whatif_command(
    catalogue: Annotated[
        Path, typer.Option("--catalogue", help="The draft catalogue (YAML or wire JSON).")
    ],
    ship_from: Annotated[
        str | None, typer.Option("--from", help="Only ship dates on or after this date.")
    ] = None,
    ship_to: Annotated[
        str | None, typer.Option("--to", help="Only ship dates on or before this date.")
    ] = None,
    exporter: Annotated[str | None, typer.Option(help="Only this exporter id.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    today: Annotated[
        str | None, typer.Option(help="The date a ship date counts as ahead from (default: today).")
    ] = None,
) -> None:
    """Re-decide the recorded shipments under a draft catalogue; list every line that changes."""
    from schemas import utc_now

    if fmt not in _FORMATS:
        raise _fail("--format must be table, json or csv")
    try:
        draft = load_catalogue_file(catalogue)
        start = date.fromisoformat(ship_from) if ship_from else None
        end = date.fromisoformat(ship_to) if ship_to else None
        day = date.fromisoformat(today) if today else utc_now().date()
    except (CatalogueError, ValueError) as exc:
        raise _fail(str(exc)) from None
    began = time.perf_counter()
    report = asyncio.run(run_whatif(draft, day, start, end, exporter))
    seconds = time.perf_counter() - began
    print_report(report, fmt)
    typer.echo(
        f"{report.considered} shipment(s) re-decided in {seconds:.1f} s under {draft.version}",
        err=True,
    )


async def run_whatif(
    draft: Catalogue,
    today: date,
    ship_from: date | None = None,
    ship_to: date | None = None,
    exporter: str | None = None,
    *,
    dsn: str | None = None,
    source_topic: str | None = None,
) -> WhatIfReport:
    """The what-if over the ledger of ``source_topic`` (default: the settings')."""
    import asyncpg

    from services.common.settings import get_settings
    from services.screening.whatif_source import recorded_shipments

    settings = get_settings()
    run = WhatIf(draft, today=today)
    conn = await asyncpg.connect(dsn or settings.dsn_for("screening"))
    try:
        async for shipment in recorded_shipments(
            conn,
            source_topic or settings.topic_shipments,
            ship_from=ship_from,
            ship_to=ship_to,
            exporter=exporter,
        ):
            run.add(shipment)
    finally:
        await conn.close()
    return run.report


_CSV_COLUMNS = (
    "shipment_id",
    "exporter_id",
    "ship_date",
    "ahead",
    "line_no",
    "old_outcome",
    "new_outcome",
    "old_reasons",
    "new_reasons",
    "old_license",
    "new_license",
    "measures",
    "decision_id",
)


def print_report(report: WhatIfReport, fmt: str) -> None:
    """The report as a table (changes, then summaries), one JSON document, or CSV rows."""
    if fmt == "json":
        typer.echo(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
        return
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=_CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for change in report.changes:
            row = change.as_json()
            for key in ("old_reasons", "new_reasons", "measures"):
                row[key] = "; ".join(row[key])
            writer.writerow(row)
        return
    _print_tables(report)


def _print_tables(report: WhatIfReport) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    changes = Table(
        "shipment",
        "exporter",
        "ship date",
        "line",
        "old",
        "new",
        "old reasons",
        "new reasons",
        title=(
            f"{len(report.changes)} line(s) of {report.shipments_changed} shipment(s) change"
            f" under {report.draft_version}"
        ),
    )
    for c in report.changes:
        changes.add_row(
            c.shipment_id,
            c.exporter_id,
            f"{c.ship_date}{' (ahead)' if c.ahead else ''}",
            str(c.line_no),
            c.old_outcome,
            c.new_outcome,
            "\n".join(c.as_json()["old_reasons"]),
            "\n".join(c.as_json()["new_reasons"]),
        )
    console.print(changes)
    for title, groups in (("measure", report.by_measure), ("exporter", report.by_exporter)):
        summary = Table(title, "shipments", "lines", "approve→hold", "hold→approve", "lines ahead")
        for name, counts in sorted(groups.items()):
            summary.add_row(
                name,
                str(counts.shipments),
                str(counts.lines),
                str(counts.to_hold),
                str(counts.to_approve),
                str(counts.ahead),
            )
        console.print(summary)
    console.print(
        f"{report.considered} shipment(s) re-decided, {report.cancelled} cancelled skipped,"
        f" {len(report.unreadable)} unreadable"
    )
    for shipment_id, error in report.unreadable:
        console.print(f"UNREADABLE {shipment_id}: {error}", soft_wrap=True)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def calendar_command(
    days: Annotated[int, typer.Option(min=0, max=3660, help="How far ahead to look.")] = 90,
    catalogue: Annotated[
        Path | None, typer.Option("--catalogue", help="Catalogue file (default: bundled).")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="The first day (default: today).")
    ] = None,
    ledger: Annotated[
        bool,
        typer.Option(
            "--ledger/--no-ledger",
            help="Count the open shipments in the ledger each change acts on.",
        ),
    ] = False,
) -> None:
    """The coming dated changes of a catalogue; with --ledger, the open shipments each reaches."""
    from schemas import utc_now
    from services.screening.catalogue import load_bundled_catalogue
    from services.screening.catalogue.calendar import dated_changes

    try:
        cat = load_catalogue_file(catalogue) if catalogue else load_bundled_catalogue()
        day = date.fromisoformat(start) if start else utc_now().date()
    except (CatalogueError, ValueError) as exc:
        raise _fail(str(exc)) from None
    changes = dated_changes(cat, day, days)
    reach = asyncio.run(_calendar_reach(changes, cat, day)) if ledger and changes else None
    last = day + timedelta(days=days)
    typer.echo(f"{cat.version}: {len(changes)} dated change(s) from {day} through {last}")
    for change in changes:
        count = "" if reach is None else f"  [{reach[change]} open shipment(s)]"
        typer.echo(f"{change.day}  {change.describe()}{count}")


async def _calendar_reach(changes: list[Any], catalogue: Catalogue, today: date) -> dict[Any, int]:
    import asyncpg

    from services.common.settings import get_settings
    from services.screening.whatif import calendar_reach
    from services.screening.whatif_source import recorded_shipments

    settings = get_settings()
    conn = await asyncpg.connect(settings.dsn_for("screening"))
    try:
        shipments = [
            s async for s in recorded_shipments(conn, settings.topic_shipments, ship_from=today)
        ]
    finally:
        await conn.close()
    return calendar_reach(changes, catalogue, shipments, today=today)


def register(app: typer.Typer) -> None:
    """Add ``lodestone whatif`` and ``lodestone catalogue calendar``."""
    app.command("whatif")(whatif_command)
    for group in app.registered_groups:
        if group.name == "catalogue" and group.typer_instance is not None:
            group.typer_instance.command("calendar")(calendar_command)
