"""The ablation table (the paper's Table II): the rows' cells from the experiment matrix, as JSON,
CSV and a bar chart."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sbrzoo.figures import pyplot, save_figure
from sbrzoo.matrix import PAPER_METRICS, Cell
from sbrzoo.report import write_result_files

__all__ = ["write_outputs"]


def write_outputs(cells: Sequence[Cell], out_dir: Path, dataset: str, *, extra: dict[str, Any]) -> list[Path]:
    """Write ``ablation.json``, ``ablation.csv`` and the bar chart ``ablation.png`` into ``out_dir``."""
    rows = [{"model": c.model, "label": c.label, "seeds": " ".join(map(str, c.seeds)),
             **{f"{m} {stat}": f"{v:.4f}" if isinstance(v, float) else "" for m in PAPER_METRICS
                for stat, v in (("mean", c.mean[m]), ("std", c.std[m]), ("paper", c.paper.get(m)))}} for c in cells]
    paths = write_result_files(out_dir, "ablation", {"dataset": dataset, **extra, "rows": [c.to_dict() for c in cells]},
                               rows)
    _plot(cells, out_dir / "ablation.png", dataset)
    return [*paths, out_dir / "ablation.png"]


def _plot(summaries: Sequence[Cell], path: Path, dataset: str) -> None:
    figure, axes = pyplot().subplots(1, len(PAPER_METRICS), figsize=(5 * len(PAPER_METRICS), 3.5))
    labels = [s.label for s in summaries]
    for axis, metric in zip(axes, PAPER_METRICS):
        means = [s.mean[metric] for s in summaries]
        axis.bar(labels, means, yerr=[s.std[metric] for s in summaries], capsize=4, color="tab:blue")
        low, high = min(means), max(means)
        axis.set_ylim(max(0.0, low - 2 * (high - low + 0.5)), high + (high - low + 0.5))
        axis.set_title(f"{metric} (%) on {dataset}")
        axis.tick_params(axis="x", rotation=30)
    save_figure(figure, path, dpi=120)
