"""CLI commands of the screening service: ``screening run``, ``catalogue publish``,
``licenses publish`` and ``tail``. Registered on the root app by :func:`register`."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Annotated

import typer

screening_app = typer.Typer(help="The screening service.", no_args_is_help=True)
licenses_app = typer.Typer(help="Export licences on the licences topic.", no_args_is_help=True)


@screening_app.command("run")
def screening_run(
    shadow_catalogue: Annotated[
        Path | None,
        typer.Option(
            "--shadow-catalogue",
            help="Run a shadow instead: decide the live decisions again under this draft and"
            " publish to decisions.shadow.v1 (no effect on ledger, licences, holds or audit).",
        ),
    ] = None,
) -> None:
    """Run the screening service in the foreground (SIGTERM/Ctrl-C: finish the batch, stop)."""
    from services.common.logging import configure_logging
    from services.common.settings import get_settings
    from services.common.tracing import configure_tracing, shutdown_tracing
    from services.screening.app import build_app
    from services.screening.config import ScreeningSettings

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing("lodestone-screening")  # off unless OTEL_* variables ask for it
    if shadow_catalogue is not None:
        from services.screening.shadow_run import run_shadow

        raise typer.Exit(run_shadow(settings, ScreeningSettings(), shadow_catalogue))
    app, service = build_app(settings, ScreeningSettings())
    try:
        asyncio.run(app.run())
    finally:
        shutdown_tracing()
    if service.failed:
        typer.echo("the screening service stopped after an internal failure; see the log", err=True)
        raise typer.Exit(1)


def catalogue_publish(
    file: Annotated[
        Path | None, typer.Argument(help="Catalogue YAML/JSON; default: the bundled one")
    ] = None,
) -> None:
    """Publish a whole catalogue version to the controls topic (key ``catalogue``)."""
    from services.common.settings import get_settings
    from services.screening.catalogue import load_bundled_catalogue, load_catalogue_file
    from services.screening.publish import publish_catalogue

    settings = get_settings()
    catalogue = load_catalogue_file(file) if file else load_bundled_catalogue()
    version = asyncio.run(
        publish_catalogue(settings.kafka_bootstrap, settings.topic_controls, catalogue)
    )
    typer.echo(f"published catalogue {version} to {settings.topic_controls}")


@licenses_app.command("publish")
def licenses_publish(
    file: Annotated[Path, typer.Argument(help="A JSON array of License objects")],
) -> None:
    """Publish licences to the licences topic, keyed by licence id."""
    from services.common.settings import get_settings
    from services.screening.cli import InputError, load_licences
    from services.screening.publish import publish_licences

    try:
        licences = load_licences(file)
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    settings = get_settings()
    count = asyncio.run(
        publish_licences(settings.kafka_bootstrap, settings.topic_licenses, licences)
    )
    typer.echo(f"published {count} licences to {settings.topic_licenses}")


def tail_command(
    exporter: Annotated[str | None, typer.Option(help="Only this exporter id")] = None,
    outcome: Annotated[str | None, typer.Option(help="approve or hold")] = None,
    from_beginning: Annotated[bool, typer.Option(help="Replay the whole topic first")] = False,
    seconds: Annotated[float | None, typer.Option(help="Stop after this many seconds")] = None,
) -> None:
    """Show decisions live, coloured by outcome, with reasons and their legal basis.

    Only decisions signed by a key in LODESTONE_DECISION_PUBLIC_KEY_FILES are shown as
    decisions; any other record is flagged with its partition, offset and problem.
    """
    from services.common.settings import get_settings
    from services.common.signing import KeyFileError, decision_keys
    from services.screening.tail import tail

    settings = get_settings()
    try:
        keys = decision_keys(settings, "lodestone tail")
    except KeyFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            tail(
                bootstrap=settings.kafka_bootstrap,
                topic=settings.topic_decisions,
                keys=keys,
                exporter=exporter,
                outcome=outcome,
                from_beginning=from_beginning,
                seconds=seconds,
            )
        )


def register(app: typer.Typer) -> None:
    """Add the screening commands; ``catalogue publish`` joins an existing catalogue group."""
    app.add_typer(screening_app, name="screening")
    app.add_typer(licenses_app, name="licenses")
    app.command("tail")(tail_command)
    from services.screening.parties.cli import parties_app  # controlled-party lists

    app.add_typer(parties_app, name="parties")
    for group in app.registered_groups:
        if group.name == "catalogue" and group.typer_instance is not None:
            group.typer_instance.command("publish")(catalogue_publish)
            return
    catalogue_app = typer.Typer(help="The control catalogue.", no_args_is_help=True)
    catalogue_app.command("publish")(catalogue_publish)
    app.add_typer(catalogue_app, name="catalogue")
