"""``lodestone console …``: serve the web console; hash a user's secret for its settings."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

console_app = typer.Typer(help="The web console: holds, decisions, licences, catalogue, audit.")


@console_app.command()
def run(
    port: Annotated[int | None, typer.Option(help="port (default LODESTONE_CONSOLE_PORT)")] = None,
) -> None:
    """Serve the console on LODESTONE_CONSOLE_HOST:PORT (default 127.0.0.1:8103) under /console."""
    import uvicorn
    from pydantic import ValidationError

    from schemas.validation import summarise_validation_error
    from services.audit.config import AuditSettings
    from services.common.logging import configure_logging
    from services.common.settings import get_settings
    from services.common.signing import KeyFileError, decision_keys
    from services.console.app import ConsoleOptions, create_console
    from services.console.config import ConsoleSettings

    try:
        settings, audit, cfg = get_settings(), AuditSettings(), ConsoleSettings()
    except ValidationError as exc:
        typer.echo(f"error: {summarise_validation_error(exc)}", err=True)
        raise typer.Exit(2) from exc
    configure_logging(settings.log_level, settings.log_format)
    try:
        keys = decision_keys(settings, "the console's live view")
    except KeyFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not cfg.users:
        typer.echo("warning: LODESTONE_CONSOLE_USERS is empty: nobody can sign in", err=True)
    app = create_console(
        ConsoleOptions(
            auditor_dsn=settings.dsn_for("auditor"),
            users=cfg.users,
            kafka_bootstrap=settings.kafka_bootstrap,
            topic_decisions=settings.topic_decisions,
            topic_reviews=settings.topic_reviews,
            checkpoint_file=audit.checkpoint_file,
            decision_keys=keys,
            anchor_file=audit.anchor_file,
            log_public_key_file=audit.log_public_key_file,
            session_minutes=cfg.session_minutes,
            secure_cookies=cfg.secure_cookies,
        )
    )
    # open live streams never end by themselves: give them 5 s on shutdown, not forever
    uvicorn.run(
        app, host=cfg.host, port=port or cfg.port, log_level="info", timeout_graceful_shutdown=5
    )


@console_app.command("hash-secret")
def hash_secret_command(
    user_id: Annotated[str, typer.Argument(help="the user's id")],
    name: Annotated[str, typer.Argument(help="the user's name, as reviews show it")],
    role: Annotated[str, typer.Argument(help="viewer, reviewer or auditor")],
) -> None:
    """Read a secret (not echoed) and print the user entry for LODESTONE_CONSOLE_USERS."""
    from services.console.auth import Role, UserEntry, hash_secret

    if role not in {r.value for r in Role}:
        raise typer.BadParameter(f"role must be one of {', '.join(r.value for r in Role)}")
    secret = getpass.getpass("secret: ")
    if len(secret) < 12:
        raise typer.BadParameter("use a secret of at least 12 characters")
    entry = UserEntry(id=user_id, name=name, role=Role(role), secret_hash=hash_secret(secret))
    typer.echo(entry.model_dump_json())
