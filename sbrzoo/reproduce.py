"""Reproduction of the paper's Tables I and II: (model, dataset, seed) runs beside the paper's figures.

The runs live in ``<runs_dir>/<dataset>/<model>/seed-<n>`` (one :class:`~sbrzoo.trainer.Trainer`
folder each, so they checkpoint per epoch and resume across calls); this module reads them back
into one row per (dataset, model), compares two models example by example, and writes
``reproduction.json``, ``reproduction.csv`` and ``reproduction.md``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sbrzoo.ablation import finished_metrics, mean_and_std, row_label, run_folder
from sbrzoo.data.pickles import atomic_write_bytes
from sbrzoo.models import get_spec
from sbrzoo.report import METRIC_COLUMNS
from sbrzoo.run_record import RANKS_FILE, load_ranks, write_json_atomic
from sbrzoo.significance import paired_comparison

__all__ = [
    "TABLE_I_MODELS", "TABLE_II_MODELS", "DEFAULT_DATASETS", "ReproductionRow", "PairedComparison",
    "summarize_model", "unfinished_runs", "compare_models", "write_tables", "runs_on_disk", "preset_deviations",
]

TABLE_I_MODELS = ("srgnn", "tagnn", "lessr", "tagnnpp")
TABLE_II_MODELS = ("tagnnpp_no_agc", "tagnnpp_no_gnn", "tagnnpp_no_pe", "tagnnpp_no_transformer")
DEFAULT_DATASETS = ("diginetica", "yoochoose1_64")
PAPER_METRICS = ("HR@20", "MRR@20")


@dataclass(frozen=True)
class ReproductionRow:
    """One (dataset, model) cell of the tables, over the seeds finished so far.

    Attributes:
        mean, std: Test metrics (%) of the validation-selected epoch, over ``seeds``.
        best_test: Mean over seeds of the best test value of each metric over all epochs: what
            the original papers' protocol (selection on the test set) would report. Optimistic.
        paper: The paper's figures for this cell (HR@20 = P@20, MRR@20).
        selected_epochs, epochs_run: Per finished seed.
        seconds: Mean wall time of one finished run (training, evaluations, final test).
        pending: One line per planned seed that has not finished (``"seed 2: 4 epochs done"``).
        deviations: Every setting in which the finished runs differ from the model's preset
            (``"patience 3 (preset 10)"``, ``"max_train_batches 2000"``), so that a shortened run
            never passes for a full one.
    """

    dataset: str
    model: str
    seeds: tuple[int, ...]
    mean: dict[str, float]
    std: dict[str, float]
    best_test: dict[str, float]
    paper: dict[str, float]
    selected_epochs: tuple[int, ...]
    epochs_run: tuple[int, ...]
    seconds: float
    device: str
    git_commit: str
    pending: tuple[str, ...]
    deviations: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return row_label(self.model)

    def difference(self, metric: str) -> float | None:
        """Ours minus the paper's, in points (None without a paper figure)."""
        return self.mean[metric] - self.paper[metric] if metric in self.paper else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["label"] = self.label
        data["difference"] = {m: self.difference(m) for m in PAPER_METRICS if m in self.paper}
        return data


def summarize_model(runs_dir: Path, dataset: str, model: str, seeds: Sequence[int]) -> ReproductionRow | None:
    """The row of ``model`` on ``dataset`` from its run folders; None when no seed has finished."""
    folders = {seed: run_folder(runs_dir / dataset, model, seed) for seed in seeds}
    metrics = {seed: finished_metrics(folder) for seed, folder in folders.items()}
    finished = {seed: m for seed, m in metrics.items() if m is not None}
    if not finished:
        return None
    runs = list(finished.values())
    mean, std = mean_and_std([run["test"] for run in runs])
    tracked = [run["best_test_over_epochs"] for run in runs if "best_test_over_epochs" in run]
    best_test = mean_and_std(tracked)[0] if tracked else {}
    environment = runs[-1].get("environment", {})
    return ReproductionRow(
        dataset=dataset,
        model=model,
        seeds=tuple(finished),
        mean=mean,
        std=std,
        best_test=best_test,
        paper=dict(get_spec(model).reference.get(dataset, {})),
        selected_epochs=tuple(run["best_epoch"] for run in runs),
        epochs_run=tuple(len(run["epochs"]) for run in runs),
        seconds=float(np.mean([_run_seconds(run) for run in runs])),
        device=environment.get("device_name") or environment.get("device", "?"),
        git_commit=environment.get("git_commit") or "?",
        pending=tuple(_progress(seed, folders[seed]) for seed, m in metrics.items() if m is None),
        deviations=tuple(dict.fromkeys(d for seed in finished for d in preset_deviations(folders[seed]))),
    )


def preset_deviations(folder: Path) -> list[str]:
    """The settings of the run in ``folder`` that differ from its model's preset on its dataset
    (hyper-parameters, and a cut of the epochs by ``max_train_batches``)."""
    from sbrzoo.config import RunConfig
    from sbrzoo.presets import preset_for

    config = RunConfig.load(folder / "config.json")
    preset = preset_for(get_spec(config.model).family, config.dataset, config.hp.fidelity).to_dict()
    deviations = [f"{name} {value} (preset {preset[name]})" for name, value in config.hp.to_dict().items()
                  if value != preset[name]]
    if config.max_train_batches is not None:
        deviations.append(f"max_train_batches {config.max_train_batches}")
    return deviations


def runs_on_disk(runs_dir: Path) -> dict[str, dict[str, list[int]]]:
    """``{dataset: {model: [seeds]}}`` of every run folder under ``runs_dir``
    (``<dataset>/<model>/seed-<n>`` holding a ``config.json``), models in registry order."""
    from sbrzoo.models import list_models

    order = {name: index for index, name in enumerate(list_models())}
    found: dict[str, dict[str, list[int]]] = {}
    for config in sorted(runs_dir.glob("*/*/seed-*/config.json")):
        seed_dir = config.parent
        model, dataset = seed_dir.parent.name, seed_dir.parent.parent.name
        seed = seed_dir.name.removeprefix("seed-")
        if model in order and seed.isdigit():
            found.setdefault(dataset, {}).setdefault(model, []).append(int(seed))
    return {dataset: {m: sorted(models[m]) for m in sorted(models, key=order.__getitem__)}
            for dataset, models in found.items()}


def unfinished_runs(runs_dir: Path, dataset: str, model: str, seeds: Sequence[int]) -> list[str]:
    """``"seed 2: 4 epochs done"`` for every seed of ``model`` on ``dataset`` without test metrics."""
    folders = {seed: run_folder(runs_dir / dataset, model, seed) for seed in seeds}
    return [_progress(seed, folder) for seed, folder in folders.items() if finished_metrics(folder) is None]


def _progress(seed: int, folder: Path) -> str:
    return f"seed {seed}: {_epochs_done(folder)} epochs done"


def _epochs_done(folder: Path) -> int:
    try:
        return len(json.loads((folder / "metrics.json").read_text())["epochs"])
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return 0


def _run_seconds(metrics: dict[str, Any]) -> float:
    keys = ("train_seconds", "valid_seconds", "test_seconds")
    return sum(epoch.get(key, 0.0) for epoch in metrics["epochs"] for key in keys) + metrics["test"].get("seconds", 0.0)


@dataclass(frozen=True)
class PairedComparison:
    """Model ``a`` against model ``b`` on the same test examples of one seed.

    Attributes:
        difference: ``a - b`` in points for HR@k and MRR@k.
        p_value: HR@k: exact McNemar test on the examples only one model hits; MRR@k: Wilcoxon
            signed-rank test on the per-example reciprocal ranks (examples with equal values dropped).
    """

    dataset: str
    seed: int
    model_a: str
    model_b: str
    num_examples: int
    difference: dict[str, float]
    p_value: dict[str, float]


def compare_models(runs_dir: Path, dataset: str, model_a: str, model_b: str,
                   seeds: Sequence[int]) -> list[PairedComparison]:
    """Paired comparisons for every seed where both models have finished (saved test ranks)."""
    comparisons = []
    for seed in seeds:
        paths = [run_folder(runs_dir / dataset, model, seed) / RANKS_FILE for model in (model_a, model_b)]
        if not all(path.is_file() for path in paths):
            continue
        ranks_a, ranks_b = (load_ranks(path) for path in paths)
        if ranks_a.shape != ranks_b.shape:
            raise ValueError(f"{paths[0]} and {paths[1]} rank different test sets "
                             f"({len(ranks_a)} vs {len(ranks_b)} examples)")
        difference, p_value = paired_comparison(ranks_a, ranks_b)
        comparisons.append(PairedComparison(dataset, seed, model_a, model_b, len(ranks_a), difference, p_value))
    return comparisons


# -- output files ------------------------------------------------------------------------------

_CSV_FIELDS = ("dataset", "model", "label", "seeds", *METRIC_COLUMNS,
               *(f"{m} std" for m in PAPER_METRICS), *(f"{m} paper" for m in PAPER_METRICS),
               *(f"{m} diff" for m in PAPER_METRICS), *(f"{m} best-test" for m in PAPER_METRICS),
               "selected epochs", "epochs run", "seconds per run", "device", "git commit", "deviations from preset",
               "pending")


def write_tables(rows: Sequence[ReproductionRow], comparisons: Sequence[PairedComparison], out_dir: Path,
                 *, extra: dict[str, Any]) -> list[Path]:
    """Write ``reproduction.json``, ``.csv`` and ``.md`` into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"reproduction.{suffix}" for suffix in ("json", "csv", "md")]
    write_json_atomic(paths[0], {**extra, "rows": [row.to_dict() for row in rows],
                                 "paired": [asdict(c) for c in comparisons]})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, _CSV_FIELDS)
    writer.writeheader()
    for row in rows:
        writer.writerow(_csv_record(row))
    atomic_write_bytes(paths[1], buffer.getvalue().encode())
    atomic_write_bytes(paths[2], markdown(rows, comparisons, extra).encode())
    return paths


def _csv_record(row: ReproductionRow) -> dict[str, Any]:
    record: dict[str, Any] = {"dataset": row.dataset, "model": row.model, "label": row.label,
                              "seeds": " ".join(map(str, row.seeds))}
    record |= {m: round(row.mean[m], 4) for m in METRIC_COLUMNS}
    for metric in PAPER_METRICS:
        difference = row.difference(metric)
        record[f"{metric} std"] = round(row.std[metric], 4)
        record[f"{metric} paper"] = row.paper.get(metric, "")
        record[f"{metric} diff"] = "" if difference is None else round(difference, 4)
        record[f"{metric} best-test"] = round(row.best_test[metric], 4) if metric in row.best_test else ""
    record |= {
        "selected epochs": " ".join(map(str, row.selected_epochs)),
        "epochs run": " ".join(map(str, row.epochs_run)),
        "seconds per run": round(row.seconds, 1),
        "device": row.device,
        "git commit": row.git_commit,
        "deviations from preset": "; ".join(row.deviations),
        "pending": "; ".join(row.pending),
    }
    return record


def markdown(rows: Sequence[ReproductionRow], comparisons: Sequence[PairedComparison], extra: dict[str, Any]) -> str:
    """The readable report: the table, the protocol, unfinished runs and the paired tests."""
    lines = [
        "# Reproduction of TAGNN++ Tables I and II",
        "",
        f"Protocol: {extra.get('protocol', '')}",
        "Test metrics in %, mean ± std over the finished seeds. Δ = ours − paper (paper P@20 = HR@20).",
        "'best-test' is what the original papers' protocol (best test value over epochs) would report for the",
        "same runs: optimistic, shown only so that the protocols can be compared.",
        "",
        "| dataset | model | seeds | HR@20 | paper | Δ | MRR@20 | paper | Δ | HR@10 | MRR@10 | NDCG@20 "
        "| best-test HR@20 | best-test MRR@20 | selected epoch | epochs run | s / run | device | commit "
        "| deviations from preset |",
        "|" + "---|" * 20,
    ]
    for row in rows:
        cells = [row.dataset, row.label, " ".join(map(str, row.seeds))]
        for metric in PAPER_METRICS:
            cells.append(_mean_std(row, metric))
            cells.append(f"{row.paper[metric]:.2f}" if metric in row.paper else "–")
            difference = row.difference(metric)
            cells.append("–" if difference is None else f"{difference:+.2f}")
        cells += [f"{row.mean[m]:.2f}" for m in METRIC_COLUMNS if m not in PAPER_METRICS]
        cells += [f"{row.best_test[m]:.2f}" if m in row.best_test else "–" for m in PAPER_METRICS]
        cells += [" ".join(map(str, row.selected_epochs)), " ".join(map(str, row.epochs_run)),
                  f"{row.seconds:.0f}", row.device, row.git_commit, "; ".join(row.deviations) or "none"]
        lines.append("| " + " | ".join(cells) + " |")
    pending = [f"- {row.dataset} {row.label}: {line}" for row in rows for line in row.pending]
    pending += [f"- {item}" for item in extra.get("unfinished", [])]
    if pending:
        lines += ["", "Unfinished (resume with the same command):", "", *pending]
    if comparisons:
        lines += ["", "## Paired tests on the test examples", "",
                  "| dataset | seed | a − b | examples | ΔHR@20 | p (McNemar) | ΔMRR@20 | p (Wilcoxon) |",
                  "|---|---|---|---|---|---|---|---|"]
        for c in comparisons:
            lines.append(
                f"| {c.dataset} | {c.seed} | {row_label(c.model_a)} − {row_label(c.model_b)} | {c.num_examples} "
                f"| {c.difference['HR@20']:+.2f} | {c.p_value['HR@20']:.3g} "
                f"| {c.difference['MRR@20']:+.2f} | {c.p_value['MRR@20']:.3g} |")
    return "\n".join(lines) + "\n"


def _mean_std(row: ReproductionRow, metric: str) -> str:
    value = f"{row.mean[metric]:.2f}"
    return f"{value} ± {row.std[metric]:.2f}" if len(row.seeds) > 1 else value
