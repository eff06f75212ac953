"""The ``lodestone`` command line: one entry point, one sub-command group per capability."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="lodestone",
    help=(
        "Screen shipments against China's critical-mineral export controls,"
        " and audit every decision."
    ),
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def version() -> None:
    """Print the Lodestone version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("lodestone"))


db_app = typer.Typer(help="The database: migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply every component's pending migrations as the admin role."""
    import asyncio

    from services.common.migrations import migrate_all
    from services.common.settings import get_settings

    applied = asyncio.run(migrate_all(get_settings().dsn_for("admin")))
    for component, versions in applied.items():
        typer.echo(f"{component}: {', '.join(versions) if versions else 'up to date'}")


from services.screening.cli import catalogue_app, screen  # noqa: E402

app.command("screen")(screen)
app.add_typer(catalogue_app, name="catalogue")

from services.screening.commands import register as register_screening_commands  # noqa: E402

register_screening_commands(app)  # after other groups: ``catalogue publish`` joins theirs

from services.screening.whatif_cli import register as register_whatif  # noqa: E402

register_whatif(app)


from services.audit.cli import audit_app  # noqa: E402

app.add_typer(audit_app, name="audit")

from services.audit.replay_cli import register as register_replay  # noqa: E402

register_replay(audit_app)

from services.screening.registry.register import schemas_app  # noqa: E402

app.add_typer(schemas_app, name="schemas")

from services.console.cli import console_app  # noqa: E402

app.add_typer(console_app, name="console")


def main() -> None:
    """Console-script entry point; a refusal by the broker's ACLs ends with one clear line."""
    from services.common.kafka_security import access_denied

    try:
        app()
    except Exception as exc:
        reason = access_denied(exc)
        if reason is None:
            raise
        typer.echo(f"error: {reason}", err=True)
        raise SystemExit(1) from exc
