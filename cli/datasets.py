"""`sbrzoo datasets`: registered datasets, where they are and their statistics."""

from __future__ import annotations

from typing import Any

import click
from rich.text import Text

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

    A dataset is looked up in $SBRZOO_DATA_DIR/<name>, then in the download cache (where
    `sbrzoo data download` puts it). Statistics are computed from the files (a second or two for
    the real benchmarks); for an absent dataset the published figures are shown in brackets, and
    how to get it below the table. ``--json`` adds descriptions, citations, paths and those hints.
    """
    from rich import box

    from sbrzoo.console import say
    from sbrzoo.data.download import default_cache_dir
    from sbrzoo.data.registry import dataset_status, list_datasets
    from sbrzoo.paths import DATA_DIR_ENV, data_root
    from sbrzoo.report import LiteralTable, show_json, show_table

    statuses = [dataset_status(info) for info in list_datasets()]
    if as_json:
        show_json(statuses)
        return
    table = LiteralTable(title="sbrzoo datasets", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False,
                  caption=f"where: ${DATA_DIR_ENV}/<name> = {data_root()}/<name>, else downloaded: "
                          f"{default_cache_dir()}/<name>; (n) = published figure of an absent "
                          "dataset; length = clicks/session")
    table.add_column("name", no_wrap=True)
    table.add_column("where", no_wrap=True)
    for title in _STATS.values():
        table.add_column(title, justify="right", no_wrap=True)
    for status in statuses:
        table.add_row(status["name"], _where(status), *_figures(status))
    show_table(table)
    for status in statuses:
        if not status["present"]:
            say(f"{status['name']} is missing; get it with {status['how_to_get']}",
                markup=False, highlight=False, soft_wrap=True)


def _where(status: dict[str, Any]) -> str | Text:
    """The "where" cell: built in, present (under the data folder), downloaded or missing (in red)."""
    if status["path"] is None:
        return "built in"
    if not status["present"]:
        return Text("missing", style="red")
    return "downloaded" if status.get("location") == "download cache" else "present"


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
