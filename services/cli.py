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


def main() -> None:
    """Console-script entry point."""
    app()
