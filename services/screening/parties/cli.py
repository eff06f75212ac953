"""``lodestone parties publish|withdraw|show|check``: the controlled-party list, offline or on
``parties.v1``."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from schemas import ControlledParty, utc_now
from services.screening.parties.index import REVIEW_THRESHOLD, PartyIndex
from services.screening.parties.listing import (
    PartyListError,
    listing_key,
    load_bundled_parties,
    parse_party_list,
)
from services.screening.parties.screening import LIST_NAMES, effect_of

parties_app = typer.Typer(
    help="China's controlled-party lists: publish, show, check a name.", no_args_is_help=True
)

FileOption = Annotated[
    Path | None,
    typer.Option("--parties", help="Party list JSON (reference or array); default: bundled."),
]
OnOption = Annotated[str | None, typer.Option("--on", help="Date (default: today).")]


def load_parties(path: Path | None) -> list[ControlledParty]:
    """The bundled list, or the list in ``path``; raises :class:`PartyListError`."""
    if path is None:
        return load_bundled_parties()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PartyListError(f"{path}: {exc.strerror or exc}") from exc
    return parse_party_list(data, str(path))


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)


def _day(on: str | None) -> date:
    try:
        return date.fromisoformat(on) if on else utc_now().date()
    except ValueError as exc:
        raise _fail(f"--on: {exc}") from None


@parties_app.command("publish")
def publish(
    file: Annotated[
        Path | None, typer.Argument(help="Party list JSON; default: the bundled list")
    ] = None,
) -> None:
    """Publish every listing to the parties topic, keyed by entity id and announcement."""
    from services.common.settings import get_settings
    from services.screening.publish import publish_records

    try:
        parties = load_parties(file)
    except PartyListError as exc:
        raise _fail(str(exc)) from None
    settings = get_settings()
    records = [
        (listing_key(p).encode(), p.model_dump_json(by_alias=True).encode()) for p in parties
    ]
    count = asyncio.run(publish_records(settings.kafka_bootstrap, settings.topic_parties, records))
    version = PartyIndex(parties).version
    typer.echo(f"published {count} listings ({version}) to {settings.topic_parties}")


@parties_app.command("withdraw")
def withdraw(
    keys: Annotated[list[str], typer.Argument(help="Listing keys: ENTITY_ID/ANNOUNCEMENT_KEY")],
) -> None:
    """Remove listings from the parties topic (tombstones)."""
    from services.common.settings import get_settings
    from services.screening.publish import publish_records

    settings = get_settings()
    records: list[tuple[bytes, bytes | None]] = [(k.encode(), None) for k in keys]
    count = asyncio.run(publish_records(settings.kafka_bootstrap, settings.topic_parties, records))
    typer.echo(f"withdrew {count} listings from {settings.topic_parties}")


@parties_app.command("show")
def show(parties: FileOption = None, on: OnOption = None) -> None:
    """A table of the listings and their status on a date."""
    from rich.console import Console
    from rich.table import Table

    day = _day(on)
    try:
        listed = PartyIndex(load_parties(parties))
    except PartyListError as exc:
        raise _fail(str(exc)) from None
    table = Table(title=f"{listed.version} on {day}: {len(listed)} listings")
    for column in ("listing", "name", "中文", "country", "list", "status", "[?]"):
        table.add_column(column)
    for party in listed.parties:
        status = party.status_on(day)
        table.add_row(
            listing_key(party),
            party.name,
            party.name_zh or "",
            party.country or "-",
            party.list_.value,
            status.value if status else "not yet listed",
            "weak" if party.weak else "",
        )
    Console().print(table)


@parties_app.command("check")
def check(
    name: Annotated[str, typer.Argument(help="A consignee's or end user's name.")],
    country: Annotated[str | None, typer.Option("--country", help="Its ISO country code.")] = None,
    parties: FileOption = None,
    on: OnOption = None,
) -> None:
    """Explain how NAME matches the list: entry, list, announcement, name matched, score."""
    day = _day(on)
    try:
        index = PartyIndex(load_parties(parties))
    except PartyListError as exc:
        raise _fail(str(exc)) from None
    matches = index.match(name, country.upper() if country else None)
    if not matches:
        typer.echo(f"no match for {name!r} (review threshold {REVIEW_THRESHOLD})")
        return
    for match in matches:
        party = match.party
        status = party.status_on(day)
        effect = effect_of(match, status)
        typer.echo(
            f"{listing_key(party)}: {party.name} ({party.country or party.note or '-'})\n"
            f"  list: {LIST_NAMES[party.list_]}, {party.announcement}\n"
            f"  name matched: {match.name_matched!r}  score {match.score}  kind {match.kind.value}"
            + ("  (country differs)" if match.country_differs else "")
            + f"\n  status on {day}: {status.value if status else 'not yet listed'}"
            + ("  [weak: one unofficial source]" if party.weak else "")
            + f"\n  effect: {effect.value}"
        )
