"""Readable result tables (rich) for the console."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.table import Table

__all__ = ["METRIC_COLUMNS", "metrics_table"]

METRIC_COLUMNS = ("HR@20", "MRR@20", "HR@10", "MRR@10", "NDCG@20")


def metrics_table(title: str, rows: Sequence[tuple[str, Mapping[str, object]]], *,
                  columns: Sequence[str] = METRIC_COLUMNS, note: str | None = None) -> Table:
    """A table with one row per ``(label, metrics)`` and one column per metric (percentages)."""
    table = Table(title=title, caption=note)
    table.add_column("model", style="bold")
    for column in columns:
        table.add_column(column, justify="right")
    for label, metrics in rows:
        table.add_row(label, *(_cell(metrics.get(column)) for column in columns))
    return table


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
