"""``lodestone screen`` and ``lodestone catalogue validate|diff|show``: offline, no Kafka."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from schemas import License, ShipmentEvent, utc_now
from schemas.strict_json import JsonInputError, loads_strict
from schemas.validation import summarise_validation_error
from services.screening.catalogue import (
    Catalogue,
    CatalogueError,
    load_bundled_catalogue,
    load_catalogue_file,
)
from services.screening.catalogue.diff import diff_catalogues
from services.screening.catalogue.summary import measure_rows, unconfirmed_statuses
from services.screening.engine import decide
from services.screening.parties import PartyIndex, PartyListError
from services.screening.parties.cli import load_parties
from services.screening.running_usage import RunningUsage

M = TypeVar("M", bound=BaseModel)

catalogue_app = typer.Typer(
    name="catalogue", help="Validate, compare and show control catalogues.", no_args_is_help=True
)


class InputError(Exception):
    """Bad input: the message names the file, the entry and the field."""


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _describe(error: ValidationError) -> str:
    return summarise_validation_error(error, limit=5)


def _read_json(path: Path) -> Any:
    """The file's JSON under the same input rules as the topics (:mod:`schemas.strict_json`)."""
    try:
        return loads_strict(path.read_bytes())
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from exc
    except JsonInputError as exc:
        raise InputError(f"{path}: not acceptable JSON: {exc}") from exc


def _validate_all(path: Path, model: type[M], id_field: str, raw: Any) -> list[M]:
    entries = raw if isinstance(raw, list) else [raw]
    out: list[M] = []
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            kind = type(entry).__name__
            raise InputError(f"{path} [{position}]: expected a JSON object, got {kind}")
        ident = entry.get(id_field)
        try:
            out.append(model.model_validate(entry))
        except ValidationError as exc:
            label = f"[{position}]" + (f" {id_field}={str(ident)[:64]!r}" if ident else "")
            raise InputError(f"{path} {label}: {_describe(exc)}") from exc
    return out


def load_events(path: Path) -> list[ShipmentEvent]:
    """One event or a JSON array of events."""
    return _validate_all(path, ShipmentEvent, "event_id", _read_json(path))


def load_licences(path: Path) -> list[License]:
    raw = _read_json(path)
    if not isinstance(raw, list):
        raise InputError(f"{path}: the licences file is a JSON array of License objects")
    return _validate_all(path, License, "license_id", raw)


def _catalogue(path: Path | None) -> Catalogue:
    return load_bundled_catalogue() if path is None else load_catalogue_file(path)


def screen(
    events: Annotated[list[Path], typer.Argument(help="Event files: one event or a JSON array.")],
    catalogue: Annotated[
        Path | None, typer.Option("--catalogue", help="Catalogue YAML (default: bundled).")
    ] = None,
    licenses: Annotated[
        Path | None, typer.Option("--licenses", help="JSON array of License objects.")
    ] = None,
    parties: Annotated[
        Path | None,
        typer.Option("--parties", help="Controlled-party list JSON (default: bundled)."),
    ] = None,
) -> None:
    """Decide shipment events offline; prints one Decision JSON per line, in input order."""
    try:
        cat = _catalogue(catalogue)
        held = load_licences(licenses) if licenses else []
        batches = [load_events(path) for path in events]
        party_index = PartyIndex(load_parties(parties))  # controlled-party screening
    except (InputError, CatalogueError, PartyListError) as exc:
        raise _fail(str(exc)) from None
    usage = RunningUsage(held)  # the service's usage model: same rules, nothing stored
    out = sys.stdout
    for batch in batches:
        for event in batch:
            decision = decide(
                event,
                cat,
                held,
                usage.usage_for(event.shipment_id),
                decided_at=utc_now(),
                parties=party_index,
            )
            usage.apply(decision)
            out.write(decision.model_dump_json(exclude_none=False) + "\n")
    out.flush()


@catalogue_app.command("validate")
def validate(path: Annotated[Path, typer.Argument(help="Catalogue YAML or wire JSON.")]) -> None:
    """Check a catalogue file and print its version."""
    try:
        cat = load_catalogue_file(path)
    except CatalogueError as exc:
        raise _fail(str(exc)) from None
    items = sum(len(m.items) for m in cat.measures)
    typer.echo(f"ok {cat.version} ({len(cat.measures)} measures, {items} items)")


@catalogue_app.command("diff")
def diff(
    old: Annotated[Path, typer.Argument(help="The earlier catalogue.")],
    new: Annotated[Path, typer.Argument(help="The later catalogue.")],
) -> None:
    """List the measures, items and dates that changed between two catalogues."""
    try:
        before, after = load_catalogue_file(old), load_catalogue_file(new)
    except CatalogueError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{before.version}\n -> {after.version}")
    changes = diff_catalogues(before, after)
    for change in changes:
        typer.echo(change)
    if not changes:
        typer.echo("no changes")


@catalogue_app.command("show")
def show(
    path: Annotated[Path | None, typer.Option("--catalogue", help="Default: bundled.")] = None,
    on: Annotated[str | None, typer.Option("--on", help="Ship date (default: today).")] = None,
) -> None:
    """A table of the measures and their status on a date."""
    from rich.console import Console
    from rich.table import Table

    try:
        cat = _catalogue(path)
        day = date.fromisoformat(on) if on else utc_now().date()
    except (CatalogueError, ValueError) as exc:
        raise _fail(str(exc)) from None
    table = Table(title=f"{cat.version} on {day}")
    columns = ("measure", "legal basis", "kind", "effective", "status", "confirmed through")
    for column in (*columns, "items", "[?]"):
        table.add_column(column)
    for row in measure_rows(cat, day):
        through = row.status_confirmed_through
        table.add_row(
            row.measure_id,
            row.legal_basis,
            row.kind,
            str(row.effective_from),
            row.status.value + (" (UNCONFIRMED)" if row.status_unconfirmed else ""),
            "" if through is None else str(through),
            str(row.items),
            "yes" if row.unconfirmed else "",
        )
    console = Console()
    console.print(table)
    for status in unconfirmed_statuses(cat, day):
        console.print(f"UNCONFIRMED {status.describe(day)}", soft_wrap=True)


# `lodestone catalogue publish` (the controls.v1 publisher) is registered on `catalogue_app`
# by the publishing module: `@catalogue_app.command("publish")`.
