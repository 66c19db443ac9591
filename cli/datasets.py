"""`sbrzoo datasets`: registered datasets, where they are and their statistics."""

from __future__ import annotations

import json
from typing import Any

import click

_STATS = {  # stats key -> column title
    "train_sessions": "sessions",
    "train_examples": "train ex.",
    "test_examples": "test ex.",
    "num_items": "items",
    "mean_length": "length",
}


@click.command("datasets", short_help="List registered datasets.")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON on stdout.")
def datasets_command(as_json: bool) -> None:
    """List every registered dataset: present locally or not, where, and its statistics.

    Statistics are computed from the files (a second or two for the real benchmarks); for an
    absent dataset the published figures are shown in brackets. ``--json`` adds descriptions,
    citations and paths.
    """
    from rich import box
    from rich.table import Table

    from sbrzoo.console import console
    from sbrzoo.data.registry import dataset_status, list_datasets
    from sbrzoo.paths import DATA_DIR_ENV, data_root

    statuses = [dataset_status(info) for info in list_datasets()]
    if as_json:
        click.echo(json.dumps(statuses, indent=2))
        return
    table = Table(title="sbrzoo datasets", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False,
                  caption=f"where: ${DATA_DIR_ENV}/<name> = {data_root()}/<name>; "
                          "(n) = published figure of an absent dataset; length = clicks/session")
    table.add_column("name", no_wrap=True)
    table.add_column("where", no_wrap=True)
    for title in _STATS.values():
        table.add_column(title, justify="right", no_wrap=True)
    for status in statuses:
        table.add_row(status["name"], _where(status), *_figures(status))
    console.print(table)


def _where(status: dict[str, Any]) -> str:
    """The "where" cell: built in, present (under the data folder) or missing."""
    if status["path"] is None:
        return "built in"
    return "present" if status["present"] else "[red]missing[/]"


def _figures(status: dict[str, Any]) -> list[str]:
    """The statistic cells of one row: measured, else the published figure in brackets."""
    measured, expected = status["stats"] or {}, status["expected"]
    cells = []
    for key in _STATS:
        if measured.get(key) is not None:
            cells.append(f"{measured[key]:,}")
        elif key in expected:
            cells.append(f"({expected[key]:,})")
        else:
            cells.append("-")
    return cells
