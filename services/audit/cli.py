"""``lodestone audit …``: run the service, query the store, verify the chain, export evidence.

Imports beyond the standard library and typer happen inside the commands: an auditor's
``lodestone audit query`` pays for asyncpg and the settings, not for the service, the API or
the screening engine (tests/unit/audit/test_cli_startup.py pins it).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from services.common.moments import utc_moment

if TYPE_CHECKING:
    import asyncpg

    from services.audit.queries import DecisionFilter

T = TypeVar("T")
audit_app = typer.Typer(help="The audit store: record, query, verify and export decisions.")
_TABLE_COLUMNS = ("seq", "decided_at", "shipment_id", "exporter_id", "outcome", "reason_codes")
#: rows per statement when a command lists more (keyset pages, each under the statement timeout)
_PAGE_ROWS = 1000


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, imported when a command needs it (not for ``--help``)."""
    import asyncio

    return asyncio.run(coroutine)


async def _connect(query_timeout_ms: int | None = None) -> asyncpg.Connection:
    """The auditor's read-only connection; statements time-boxed as the API's by default."""
    import asyncpg

    from services.audit.auditor_settings import auditor_dsn
    from services.audit.auditor_settings import query_timeout_ms as default_timeout
    from services.audit.queries import auditor_session

    timeout = default_timeout() if query_timeout_ms is None else query_timeout_ms
    return await asyncpg.connect(auditor_dsn(), server_settings=auditor_session(timeout))


async def _list_paged(f: DecisionFilter, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` rows matching ``f``, newest first, read in keyset pages."""
    from services.audit.queries import list_decisions

    rows: list[dict[str, Any]] = []
    conn = await _connect()
    try:
        before: int | None = None
        while len(rows) < limit:
            want = min(_PAGE_ROWS, limit - len(rows))
            page = await list_decisions(conn, f, limit=want, before_seq=before)
            rows.extend(page)
            if len(page) < want:
                break
            before = page[-1]["seq"]
    finally:
        await conn.close()
    return rows


def _moment(text: str) -> datetime:
    """An option's date or time (see :func:`utc_moment`), refused as a bad value naming why."""
    try:
        return utc_moment(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@audit_app.command()
def run() -> None:
    """Run the audit service in the foreground (decisions.v1 and controls.v1 into PostgreSQL)."""
    from services.audit.config import AuditSettings
    from services.audit.service import ServiceOptions, run_forever
    from services.common.logging import configure_logging
    from services.common.settings import get_settings
    from services.common.tracing import configure_tracing, shutdown_tracing

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing("lodestone-audit")  # off unless OTEL_* variables ask for it
    try:
        _run(run_forever(ServiceOptions.from_settings(settings, AuditSettings())))
    finally:
        shutdown_tracing()


@audit_app.command()
def query(
    shipment: Annotated[str | None, typer.Option(help="shipment id")] = None,
    exporter: Annotated[str | None, typer.Option(help="exporter id")] = None,
    outcome: Annotated[str | None, typer.Option(help="approve or hold")] = None,
    reason: Annotated[str | None, typer.Option(help="reason code, e.g. LICENSE_REQUIRED")] = None,
    control_id: Annotated[str | None, typer.Option(help="control id")] = None,
    license_id: Annotated[str | None, typer.Option(help="licence id")] = None,
    since: Annotated[
        datetime | None,
        typer.Option(help="decided at or after (date or time; UTC unless given)", parser=_moment),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option(help="decided before (date or time; UTC unless given)", parser=_moment),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
) -> None:
    """List recorded decisions, newest first."""
    if fmt not in ("table", "json", "csv"):
        raise typer.BadParameter("--format must be table, json or csv")
    from services.audit.queries import DecisionFilter

    f = DecisionFilter(shipment, exporter, outcome, reason, control_id, license_id, since, until)
    _print_rows(_run(_list_paged(f, limit)), fmt)


def _print_rows(rows: list[dict[str, Any]], fmt: str) -> None:
    from services.audit.presentation import flat, jsonable

    if fmt == "json":
        for row in rows:
            typer.echo(json.dumps(jsonable(row), ensure_ascii=False))
    elif fmt == "csv":
        import csv

        cells = [flat(row) for row in rows]
        if cells:
            writer = csv.DictWriter(sys.stdout, fieldnames=list(cells[0]))
            writer.writeheader()
            writer.writerows(cells)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*_TABLE_COLUMNS, title=f"{len(rows)} decision(s)")
        for row in rows:
            cell = flat(row)
            table.add_row(*(cell[c] for c in _TABLE_COLUMNS))
        Console().print(table)


@audit_app.command()
def recent(
    minutes: Annotated[int, typer.Option(min=1, help="how far back to list")] = 60,
    limit: Annotated[int, typer.Option(min=1)] = 20,
) -> None:
    """The newest decisions (for demos), then a full verification of the chain."""
    from services.audit.queries import DecisionFilter

    since = datetime.now(UTC) - timedelta(minutes=minutes)
    _print_rows(_run(_list_paged(DecisionFilter(since=since), limit)), "table")
    verify(full=True, from_checkpoint=False, checkpoint_file=None, workers=0)


@audit_app.command()
def show(shipment_id: str) -> None:
    """A shipment's full decision history (superseded ones included), with their inputs."""
    from services.audit.presentation import jsonable
    from services.audit.queries import shipment_history

    async def fetch() -> list[dict[str, Any]]:
        conn = await _connect()
        try:
            return await shipment_history(conn, shipment_id)
        finally:
            await conn.close()

    rows = _run(fetch())
    if not rows:
        typer.echo(f"no decision recorded for shipment {shipment_id}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps([jsonable(r) for r in rows], indent=2, ensure_ascii=False))


@audit_app.command()
def verify(
    full: Annotated[
        bool, typer.Option("--full", help="recompute every record's hash, from the first")
    ] = False,
    from_checkpoint: Annotated[
        bool, typer.Option("--from-checkpoint", help="recompute only after the last checkpoint")
    ] = True,
    checkpoint_file: Annotated[Path | None, typer.Option(help="checkpoint file")] = None,
    anchor_file: Annotated[Path | None, typer.Option(help="signed tree heads (JSON lines)")] = None,
    log_public_key: Annotated[
        Path | None, typer.Option(help="the audit log's public key (PEM)")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="processes recomputing record hashes over ranges (default: one per core from"
            " 50,000 records to recompute; 0: this process alone)",
        ),
    ] = None,
    archive: Annotated[
        Path | None,
        typer.Option(help="directory of the archive files of detached partitions"),
    ] = None,
) -> None:
    """Check the chain, the tree against every signed head and checkpoint; exit 1 if broken."""
    from rich.console import Console

    from services.audit.config import AuditSettings
    from services.audit.verify_command import run_verify
    from services.common.settings import get_settings

    audit = AuditSettings()
    outcome = run_verify(
        full=full or not from_checkpoint,
        checkpoint_file=checkpoint_file or audit.checkpoint_file,
        anchor_file=anchor_file or audit.anchor_file,
        log_public_key=log_public_key or audit.log_public_key_file,
        connect=lambda: _connect(0),  # a batch job reading every record: no statement timeout
        echo=typer.echo,
        progress=Console(stderr=True).print,
        workers=workers,
        dsn=get_settings().dsn_for("auditor") if workers != 0 else None,
        archive_dir=archive or audit.archive_dir,
    )
    raise typer.Exit(outcome)


@audit_app.command()
def archive(
    directory: Annotated[Path, typer.Argument(help="where the archive files go")],
    through: Annotated[
        int, typer.Option(min=1, help="archive closed partitions whose last seq is at most this")
    ],
    checkpoint_file: Annotated[Path | None, typer.Option(help="checkpoint file")] = None,
    anchor_file: Annotated[Path | None, typer.Option(help="signed tree heads (JSON lines)")] = None,
    log_public_key: Annotated[
        Path | None, typer.Option(help="the audit log's public key (PEM)")
    ] = None,
) -> None:
    """Verify the store, then archive closed partitions to DIRECTORY and detach them (as admin)."""
    from services.audit.archive_command import ArchiveRefusedError, archive_partitions
    from services.audit.config import AuditSettings
    from services.audit.verify_command import verify_store
    from services.common.migrations import OWNER_ROLE
    from services.common.settings import get_settings

    audit = AuditSettings()
    dsn = get_settings().dsn_for("admin")  # the owner's right: detaching a partition

    async def owner() -> asyncpg.Connection:
        import asyncpg

        conn = await asyncpg.connect(dsn)
        await conn.execute(f"SET ROLE {OWNER_ROLE}")
        return conn

    async def run() -> None:
        async def verified() -> bool:
            code = await verify_store(
                full=True,
                checkpoint_file=checkpoint_file or audit.checkpoint_file,
                anchor_file=anchor_file or audit.anchor_file,
                log_public_key=log_public_key or audit.log_public_key_file,
                connect=owner,
                echo=typer.echo,
                progress=lambda _: None,
                archive_dir=directory,
            )
            return code == 0

        conn = await owner()
        try:
            await archive_partitions(
                conn, directory, through=through, verified=verified, echo=typer.echo
            )
        finally:
            await conn.close()

    directory.mkdir(parents=True, exist_ok=True)
    try:
        _run(run())
    except ArchiveRefusedError as exc:
        typer.echo(f"REFUSED: {exc}", err=True)
        raise typer.Exit(1) from exc


@audit_app.command()
def export(shipment_id: str, out: Path) -> None:
    """Write the evidence pack of a shipment (JSON) to OUT."""
    from services.audit.evidence_pack import build_pack

    async def build() -> dict[str, Any]:
        conn = await _connect()
        try:
            return await build_pack(conn, shipment_id)
        finally:
            await conn.close()

    try:
        pack = _run(build())
    except LookupError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    out.write_text(json.dumps(pack, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    head = pack["tree_head"]
    typer.echo(
        f"wrote {out}: {len(pack['records'])} record(s), signed tree head {head['tree_size']}"
    )


@audit_app.command("verify-pack")
def verify_pack_command(
    file: Path,
    log_public_key: Annotated[
        Path | None, typer.Option(help="the audit log's public key (PEM)")
    ] = None,
) -> None:
    """Check an evidence pack on its own (no database needed); exit 1 if it does not verify."""
    from services.audit.config import AuditSettings
    from services.audit.evidence_pack import verify_pack
    from services.common.signing import KeyRing

    key_path = log_public_key or AuditSettings().log_public_key_file
    problems: list[str] = []
    keys = None
    try:
        keys = KeyRing.from_files([key_path]) if key_path is not None else None
        pack = json.loads(file.read_bytes())
    except (OSError, ValueError) as exc:  # unreadable file or key, not JSON
        problems.append(str(exc))
    else:
        problems = verify_pack(pack, keys)
    for problem in problems:
        typer.echo(f"FAIL {problem}")
    if problems:
        raise typer.Exit(1)
    typer.echo(
        "OK: every record matches its hash and is in the signed tree; catalogues match their "
        "digests"
    )


@audit_app.command()
def api() -> None:
    """Serve the read API (uvicorn on LODESTONE_AUDIT_API_HOST:PORT, default 127.0.0.1:8102)."""
    import uvicorn

    from services.audit.api import create_app
    from services.audit.config import AuditSettings
    from services.common.settings import get_settings

    audit = AuditSettings()
    app = create_app(
        get_settings().dsn_for("auditor"),
        audit.tokens(),
        query_timeout_ms=audit.query_timeout_ms,
        page_max_bytes=audit.page_max_bytes,
    )
    uvicorn.run(app, host=audit.api_host, port=audit.api_port, log_level="info")
