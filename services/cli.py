"""The ``lodestone`` command line: one entry point, one sub-command group per capability.

The groups are registered on first use: ``lodestone audit …`` registers only the audit group
(the same Typer object, so its commands, options and help are those of the full command line)
and so starts without importing the screening engine, its catalogue or Kafka clients; anything
else, and ``from services.cli import app``, gets every group.
"""

from __future__ import annotations

import sys
from typing import Any

import typer

_root = typer.Typer(
    name="lodestone",
    help=(
        "Screen shipments against China's critical-mineral export controls,"
        " and audit every decision."
    ),
    no_args_is_help=True,
    add_completion=False,
)


@_root.command()
def version() -> None:
    """Print the Lodestone version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("lodestone"))


db_app = typer.Typer(help="The database: migrations.", no_args_is_help=True)
_root.add_typer(db_app, name="db")


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply every component's pending migrations as the admin role."""
    import asyncio

    from services.common.migrations import migrate_all
    from services.common.settings import get_settings

    applied = asyncio.run(migrate_all(get_settings().dsn_for("admin")))
    for component, versions in applied.items():
        typer.echo(f"{component}: {', '.join(versions) if versions else 'up to date'}")


_registered: set[str] = set()


def _register_screening() -> None:
    from services.screening.cli import catalogue_app, screen
    from services.screening.commands import register as register_screening_commands
    from services.screening.registry.register import schemas_app
    from services.screening.whatif_cli import register as register_whatif

    _root.command("screen")(screen)
    _root.add_typer(catalogue_app, name="catalogue")
    register_screening_commands(_root)  # after other groups: ``catalogue publish`` joins theirs
    register_whatif(_root)  # ``whatif`` and ``catalogue calendar``
    _root.add_typer(schemas_app, name="schemas")


def _register_audit() -> None:
    from services.audit.cli import audit_app
    from services.audit.replay_cli import register as register_replay

    register_replay(audit_app)
    _root.add_typer(audit_app, name="audit")


def _register_console() -> None:
    from services.console.cli import console_app

    _root.add_typer(console_app, name="console")


#: group name -> registration, in the order of the full command line
_GROUPS = {
    "screening": _register_screening,
    "audit": _register_audit,
    "console": _register_console,
}


def command_line(*groups: str) -> typer.Typer:
    """The ``lodestone`` app with ``groups`` registered (every group when none is named)."""
    for name in groups or tuple(_GROUPS):
        if name not in _registered:
            _registered.add(name)
            _GROUPS[name]()
    return _root


def __getattr__(name: str) -> Any:
    """``services.cli.app``: the full command line, built when first asked for."""
    if name == "app":
        return command_line()
    raise AttributeError(name)


def main() -> None:
    """Console-script entry point; a refusal by the broker's ACLs ends with one clear line."""
    cli = command_line("audit") if sys.argv[1:2] == ["audit"] else command_line()
    try:
        cli()
    except Exception as exc:
        if "aiokafka" not in sys.modules:  # no Kafka client ran: not a refusal by the broker
            raise
        from services.common.kafka_security import access_denied

        reason = access_denied(exc)
        if reason is None:
            raise
        typer.echo(f"error: {reason}", err=True)
        raise SystemExit(1) from exc
