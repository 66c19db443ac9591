"""The ablation table (the paper's Table II): the rows' cells from the experiment matrix, as JSON,
CSV and a bar chart."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sbrzoo.matrix import Cell
from sbrzoo.report import write_result_files
from sbrzoo.reproduce import csv_record, plot

__all__ = ["write_outputs"]


def write_outputs(cells: Sequence[Cell], out_dir: Path, dataset: str, *, extra: dict[str, Any]) -> list[Path]:
    """Write ``ablation.json``, ``ablation.csv`` (the columns of ``reproduction.csv``) and the bar chart
    ``ablation.png`` (ours beside the paper) into ``out_dir``."""
    paths = write_result_files(out_dir, "ablation", {"dataset": dataset, **extra, "rows": [c.to_dict() for c in cells]},
                               [csv_record(cell) for cell in cells])
    plot(cells, out_dir / "ablation.png")
    return [*paths, out_dir / "ablation.png"]
