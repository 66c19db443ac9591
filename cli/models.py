"""`sbrzoo models`: the registered compositions and their parts."""

from __future__ import annotations

import json

import click


@click.command("models", short_help="List registered models and their parts.")
@click.argument("pattern", default="*")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON on stdout.")
def models_command(pattern: str, as_json: bool) -> None:
    """List every registered model matching PATTERN (fnmatch, e.g. 'tagnnpp*') with the parts it is built from."""
    from rich.table import Table

    from sbrzoo.console import console
    from sbrzoo.models import get_spec, list_models

    specs = [get_spec(name) for name in list_models(pattern)]
    if as_json:
        click.echo(json.dumps([{"name": s.name, "family": s.family, "parts": s.parts(),
                                "graphs": list(s.graph_kinds), "description": s.description} for s in specs], indent=2))
        return
    table = Table(title="sbrzoo models")
    for column in ("name", "parts", "graphs", "description"):
        table.add_column(column)
    for spec in specs:
        table.add_row(spec.name, " > ".join(spec.parts()), ", ".join(spec.graph_kinds) or "-", spec.description)
    console.print(table)
