"""`sbrzoo datasets`: registered datasets, where they are and their statistics."""

from __future__ import annotations

import click


@click.command("datasets", short_help="List registered datasets.")
def datasets_command() -> None:
    """List every registered dataset, whether it is present locally, where, and its statistics."""
    raise click.ClickException("not implemented yet")
