"""The ablation matrix (the paper's Table II): rows x seeds of training runs, summarised and plotted."""

from __future__ import annotations

import csv
import io
import json
import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sbrzoo.config import RunConfig
from sbrzoo.data.pickles import atomic_write_bytes
from sbrzoo.errors import ConfigError
from sbrzoo.models import get_spec
from sbrzoo.run_record import write_json_atomic

__all__ = ["RowSummary", "run_matrix", "mean_and_std", "summarize", "write_outputs", "row_label", "finished_metrics",
           "TABLE_METRICS"]

log = logging.getLogger(__name__)
TABLE_METRICS = ("HR@20", "MRR@20")


@dataclass(frozen=True)
class RowSummary:
    """One row of the table: a model over its seeds."""

    model: str
    seeds: tuple[int, ...]
    mean: dict[str, float]
    std: dict[str, float]
    paper: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "label": row_label(self.model), "seeds": list(self.seeds),
                "mean": self.mean, "std": self.std, "paper": self.paper}


def row_label(model: str) -> str:
    """Table II's name of a row: ``tagnnpp_no_pe`` -> ``TAGNN++ - PE``."""
    names = {"tagnnpp": "TAGNN++", "tagnn": "TAGNN", "srgnn": "SR-GNN", "lessr": "LESSR", "pop": "POP"}
    family, _, removed = model.partition("_no_")
    label = names.get(family, family)
    part = {"agc": "AGC", "gnn": "GNN", "pe": "PE", "transformer": "Transformer"}.get(removed, removed)
    return f"{label} - {part}" if removed else label


def run_folder(out_dir: Path, model: str, seed: int) -> Path:
    return out_dir / model / f"seed-{seed}"


# Where a run executes, not what it computes: a run may be resumed on another machine or device.
_PLACE_FIELDS = frozenset({"data_dir", "device", "backend", "num_workers", "eval_batch_size", "deterministic"})


def check_same_settings(folder: Path, config: RunConfig) -> None:
    """Refuse to reuse ``folder`` when the run saved there was made with settings other than ``config``'s.

    Raises:
        ConfigError: naming the folder and every differing setting.
    """
    try:
        saved = json.loads((folder / "config.json").read_text())
    except FileNotFoundError:
        return
    there, now = _flatten(RunConfig.from_dict(saved).to_dict()), _flatten(config.to_dict())  # defaults filled in
    differing = [f"{key}: {there.get(key)!r} there, {value!r} now" for key, value in now.items()
                 if key not in _PLACE_FIELDS and there.get(key) != value]
    if differing:
        raise ConfigError(f"{folder} holds a run with other settings ({'; '.join(differing)}); "
                          "choose another --out or remove the folder")


def _flatten(config: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in config.items() if k != "hp"}
    return flat | {f"hp.{k}": v for k, v in config.get("hp", {}).items()}


def finished_metrics(folder: Path) -> dict[str, Any] | None:
    """The run's metrics.json when it has test figures, else None."""
    try:
        data = json.loads((folder / "metrics.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data if data.get("test") else None


def run_matrix(
    rows: Sequence[str],
    seeds: Sequence[int],
    out_dir: Path,
    make_config: Callable[[str, int], RunConfig],
    train: Callable[[RunConfig, Path, bool], object],
    *,
    deadline: float | None = None,
) -> dict[tuple[str, int], dict[str, Any] | None]:
    """Train every (row, seed) not yet finished in ``out_dir``; return every run's metrics.

    A run whose folder has test metrics is skipped; one with a checkpoint but no test metrics is
    resumed from its last finished epoch; one made with other settings stops everything (see
    :func:`check_same_settings`). After ``deadline`` (a :func:`time.monotonic` time) no
    run is started or resumed; runs left unfinished map to None.
    """
    results: dict[tuple[str, int], dict[str, Any] | None] = {}
    for seed in seeds:
        for row in rows:
            folder = run_folder(out_dir, row, seed)
            check_same_settings(folder, make_config(row, seed))
            done = finished_metrics(folder)
            if done is not None:
                log.info("%s seed %d already finished, skipped", row, seed)
            elif deadline is None or time.monotonic() < deadline:
                train(make_config(row, seed), folder, (folder / "last.pt").is_file())
                done = finished_metrics(folder)
            results[(row, seed)] = done
    return results


def mean_and_std(runs: Sequence[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and sample standard deviation (0 for one run) of every metric but ``seconds``."""
    keys = [k for k in runs[0] if k != "seconds"]
    mean = {k: statistics.fmean(r[k] for r in runs) for k in keys}
    std = {k: statistics.stdev(r[k] for r in runs) if len(runs) > 1 else 0.0 for k in keys}
    return mean, std


def summarize(results: dict[tuple[str, int], dict[str, Any] | None], rows: Sequence[str],
              dataset: str) -> list[RowSummary]:
    """Mean and standard deviation over seeds of every metric, with the paper's figures beside them
    (rows without a finished run are left out)."""
    summaries = []
    for row in rows:
        runs = {seed: metrics["test"] for (model, seed), metrics in results.items() if model == row and metrics}
        if not runs:
            continue
        mean, std = mean_and_std(list(runs.values()))
        paper = dict(get_spec(row).reference.get(dataset, {}))
        summaries.append(RowSummary(row, tuple(sorted(runs)), mean, std, paper))
    return summaries


def write_outputs(summaries: Sequence[RowSummary], out_dir: Path, dataset: str, *, extra: dict[str, Any]) -> None:
    """Write ``ablation.json``, ``ablation.csv`` and the bar chart ``ablation.png`` into ``out_dir``."""
    write_json_atomic(out_dir / "ablation.json", {"dataset": dataset, **extra, "rows": [s.to_dict() for s in summaries]})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["model", "label", "seeds", *[f"{m} {stat}" for m in TABLE_METRICS for stat in ("mean", "std", "paper")]])
    for s in summaries:
        cells = [f"{v:.4f}" if isinstance(v, float) else "" for m in TABLE_METRICS
                 for v in (s.mean[m], s.std[m], s.paper.get(m))]
        writer.writerow([s.model, row_label(s.model), " ".join(map(str, s.seeds)), *cells])
    atomic_write_bytes(out_dir / "ablation.csv", buffer.getvalue().encode())
    _plot(summaries, out_dir / "ablation.png", dataset)


def _plot(summaries: Sequence[RowSummary], path: Path, dataset: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(TABLE_METRICS), figsize=(5 * len(TABLE_METRICS), 3.5))
    labels = [row_label(s.model) for s in summaries]
    for axis, metric in zip(axes, TABLE_METRICS):
        means = [s.mean[metric] for s in summaries]
        axis.bar(labels, means, yerr=[s.std[metric] for s in summaries], capsize=4, color="tab:blue")
        low, high = min(means), max(means)
        axis.set_ylim(max(0.0, low - 2 * (high - low + 0.5)), high + (high - low + 0.5))
        axis.set_title(f"{metric} (%) on {dataset}")
        axis.tick_params(axis="x", rotation=30)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
