"""Result tables: rich on a terminal, plain aligned text in a pipe; both on stdout.

Logs and progress go to stderr (:data:`sbrzoo.console.console`); results go to stdout through
:func:`show_table` and :func:`show_json`, so ``sbrzoo models | grep agc`` finds the rows and a
redirected table is never cut at the terminal width.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from sbrzoo.metric_names import TABLE_COLUMNS

__all__ = ["METRIC_COLUMNS", "LiteralTable", "metrics_table", "show_table", "show_json", "plain_table",
           "write_result_files"]

METRIC_COLUMNS = TABLE_COLUMNS


class LiteralTable(Table):
    """A rich :class:`~rich.table.Table` whose string title, caption, headers and cells are shown as
    written, never read as rich markup: ``[...]`` in a path, a raw item id or a session is text (rich
    would take it for a style tag, drop it or fail). :class:`~rich.text.Text` values keep their styles."""

    def __init__(self, *headers: str, title: str | Text | None = None, caption: str | Text | None = None,
                 **options: Any) -> None:  # noqa: ANN401 - rich's own options
        super().__init__(*headers, title=_literal(title), caption=_literal(caption), **options)

    def add_column(self, header: RenderableType = "", *args: Any, **options: Any) -> None:  # noqa: ANN401
        super().add_column(_literal(header), *args, **options)

    def add_row(self, *cells: Any, **options: Any) -> None:  # noqa: ANN401 - renderables
        super().add_row(*(_literal(cell) for cell in cells), **options)


def _literal(value: Any) -> Any:  # noqa: ANN401 - a cell
    return Text(value) if isinstance(value, str) else value


def metrics_table(title: str, rows: Sequence[tuple[str, Mapping[str, object]]], *,
                  columns: Sequence[str] = METRIC_COLUMNS, note: str | None = None) -> Table:
    """A table with one row per ``(label, metrics)`` and one column per metric (percentages)."""
    table = LiteralTable(title=title, caption=note)
    table.add_column("model", style="bold", no_wrap=True)
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True)
    for label, metrics in rows:
        table.add_row(label, *(_cell(metrics.get(column)) for column in columns))
    return table


def tie_rows(label: str, metrics: Mapping[str, object],
             pessimistic: Mapping[str, object]) -> list[tuple[str, Mapping[str, object]]]:
    """The rows of one evaluation for :func:`metrics_table`: ``label`` with its (optimistic) metrics, and
    beside it, where tied targets change them, the metrics with ties counted against the target."""
    rows = [(label, metrics)]
    if any(pessimistic.get(name) != value for name, value in metrics.items() if name in pessimistic):
        rows.append((f"{label}, ties counted against", pessimistic))
    return rows


def show_table(table: Table) -> None:
    """Print ``table`` on stdout: drawn by rich on a terminal (never cropped), else :func:`plain_table`."""
    if sys.stdout.isatty():
        console = Console()
        console.print(table, width=max(console.width, table.min_width or 0), crop=False)
    else:
        sys.stdout.write(plain_table(table))
        sys.stdout.flush()


def show_json(data: Any) -> None:  # noqa: ANN401 - any JSON-able value
    """Print ``data`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2) + "\n")
    sys.stdout.flush()


def plain_table(table: Table) -> str:
    """``table`` as plain text: title, header, rule, rows and caption, columns aligned with two
    spaces, no markup, no colour and no width limit (nothing wraps or is cut)."""
    titles = [_plain(column.header).split("\n") for column in table.columns]  # a header may span lines
    depth = max((len(lines) for lines in titles), default=1)
    header_rows = [[lines[i] if i < len(lines) else "" for lines in titles] for i in range(depth)]
    columns = [[_plain(cell) for cell in column.cells] for column in table.columns]
    rows = [list(cells) for cells in zip(*columns)] if columns else []
    widths = [max(len(text) for text in [*lines, *cells]) for lines, cells in zip(titles, columns)]
    right = [column.justify == "right" for column in table.columns]

    def line(cells: Sequence[str]) -> str:
        padded = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)]
        return "  ".join(padded).rstrip()

    lines = [_plain(table.title)] if table.title else []
    lines += [*(line(row) for row in header_rows), "  ".join("-" * w for w in widths), *(line(row) for row in rows)]
    if table.caption:
        lines.append(_plain(table.caption))
    return "\n".join(lines) + "\n"


def write_result_files(out_dir: Path, stem: str, payload: Mapping[str, Any], rows: Sequence[Mapping[str, Any]],
                       ) -> list[Path]:
    """Write ``<stem>.json`` (``payload``) and ``<stem>.csv`` (``rows``, one column per key of the first
    row) into ``out_dir``, each atomically; return their paths."""
    from sbrzoo.data.pickles import atomic_write_bytes
    from sbrzoo.run_record import write_json_atomic

    out_dir = Path(out_dir)
    paths = [out_dir / f"{stem}.json", out_dir / f"{stem}.csv"]
    write_json_atomic(paths[0], payload)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, list(rows[0]) if rows else [])
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(paths[1], buffer.getvalue().encode())
    return paths


def _plain(value: object) -> str:
    if isinstance(value, Text):
        return value.plain
    return Text.from_markup(str(value)).plain if value is not None else ""


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
