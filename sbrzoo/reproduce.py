"""Reproduction of the paper's Tables I and II: the experiment matrix's cells over datasets beside the
paper's figures, paired tests between two models, and ``reproduction.{json,csv,md}``.

The runs live in ``<runs_dir>/<dataset>/<model>/seed-<n>`` (see :mod:`sbrzoo.matrix`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sbrzoo.data.pickles import atomic_write_bytes
from sbrzoo.errors import DataError
from sbrzoo.figures import pyplot, save_figure
from sbrzoo.matrix import PAPER_METRICS, Cell, run_folder
from sbrzoo.models import get_spec
from sbrzoo.models.families import TABLE_I_MODELS, TABLE_II_MODELS
from sbrzoo.report import METRIC_COLUMNS, write_result_files
from sbrzoo.run_record import RANKS_FILE, load_ranks
from sbrzoo.significance import paired_comparison

__all__ = ["PairedComparison", "compare_models", "cells_not_run", "write_tables", "markdown", "plot", "csv_record",
           "TOLERANCE"]

#: Points of HR@20 / MRR@20 within which a cell counts as reproducing its paper figure
TOLERANCE = 0.5


def within_tolerance(row: Cell) -> str:
    """``"yes / no"``: whether each paper metric of ``row`` is within :data:`TOLERANCE` of the paper's
    figure (``"–"`` for one without a figure)."""
    verdicts = [row.difference(metric) for metric in PAPER_METRICS]
    if all(difference is None for difference in verdicts):
        return "–"
    return " / ".join("–" if d is None else ("yes" if _within(d) else "no") for d in verdicts)


def _within(difference: float) -> bool:
    """Within :data:`TOLERANCE` as the tables print it (two decimals: a printed +0.50 is within)."""
    return abs(round(difference, 2)) <= TOLERANCE


@dataclass(frozen=True)
class PairedComparison:
    """Model ``a`` against model ``b`` on the same test examples of one seed.

    Attributes:
        num_sessions: The test sessions the examples come from: the paired observations.
        difference: ``a - b`` in points for HR@k and MRR@k.
        p_value: Wilcoxon signed-rank tests over the sessions of the per-session mean hit (HR@k) and
            mean reciprocal rank (MRR@k), sessions where the two models are equal left out
            (:func:`sbrzoo.significance.paired_comparison`).
    """

    dataset: str
    seed: int
    model_a: str
    model_b: str
    num_examples: int
    num_sessions: int
    difference: dict[str, float]
    p_value: dict[str, float]


def compare_models(runs_dir: Path, dataset: str, model_a: str, model_b: str, seeds: Sequence[int],
                   sessions: np.ndarray) -> list[PairedComparison]:
    """Paired comparisons for every seed where both models have finished (saved test ranks).

    Args:
        sessions: (E,) the test session of every test example (:meth:`Examples.sessions`).

    Raises:
        DataError: a ranks file cannot be read, or the two rank different test sets (or another
            one than ``sessions``).
    """
    comparisons = []
    for seed in seeds:
        paths = [run_folder(runs_dir / dataset, model, seed) / RANKS_FILE for model in (model_a, model_b)]
        if not all(path.is_file() for path in paths):
            continue
        ranks_a, ranks_b = (load_ranks(path) for path in paths)
        if not len(ranks_a) == len(ranks_b) == len(sessions):
            raise DataError(f"{paths[0]} and {paths[1]} rank different test sets ({len(ranks_a)} and "
                            f"{len(ranks_b)} examples; the {dataset} test split has {len(sessions)})")
        difference, p_value = paired_comparison(ranks_a, ranks_b, sessions)
        comparisons.append(PairedComparison(dataset, seed, model_a, model_b, len(ranks_a), int(sessions.max()) + 1,
                                            difference, p_value))
    return comparisons


# -- output files ------------------------------------------------------------------------------

def cells_not_run(on_disk: dict[str, dict[str, list[int]]],
                  planned: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """The cells with no run folder on disk: the paper's (a model of Table I or II on a dataset it has a
    figure for), then the other ``planned`` ones.

    Args:
        on_disk: dataset -> model -> seeds, as :func:`sbrzoo.matrix.runs_on_disk` finds them.
        planned: ``(dataset, model)`` pairs asked for besides the paper's.

    Returns:
        ``(dataset, model)`` pairs, the paper's in table order (Table I, then Table II).
    """
    models = dict.fromkeys(TABLE_I_MODELS + TABLE_II_MODELS)
    datasets = dict.fromkeys(dataset for name in models for dataset in get_spec(name).reference)
    paper = [(dataset, name) for dataset in datasets for name in models if dataset in get_spec(name).reference]
    return [(dataset, name) for dataset, name in dict.fromkeys([*paper, *planned])
            if name not in on_disk.get(dataset, {})]


def write_tables(rows: Sequence[Cell], comparisons: Sequence[PairedComparison], out_dir: Path,
                 *, extra: dict[str, Any]) -> list[Path]:
    """Write ``reproduction.json``, ``.csv`` and ``.md`` into ``out_dir``; return their paths."""
    payload = {**extra, "rows": [row.to_dict() for row in rows], "paired": [asdict(c) for c in comparisons]}
    paths = write_result_files(out_dir, "reproduction", payload, [csv_record(row) for row in rows])
    atomic_write_bytes(out_dir / "reproduction.md", markdown(rows, comparisons, extra).encode())
    plot(rows, out_dir / "reproduction.png")
    return [*paths, out_dir / "reproduction.md", out_dir / "reproduction.png"]


def plot(rows: Sequence[Cell], path: Path) -> None:
    """``path``: ours (mean, with the seeds' standard deviation as error bars where there are two or
    more) beside the paper, per cell and metric."""
    figure, axes = pyplot().subplots(1, len(PAPER_METRICS), figsize=(max(6.0, 0.55 * len(rows) + 2), 4), squeeze=False)
    labels = [f"{row.label}\n{row.dataset}" for row in rows]
    positions = range(len(rows))
    for axis, metric in zip(axes[0], PAPER_METRICS):
        axis.bar([x - 0.2 for x in positions], [row.mean[metric] for row in rows], width=0.4, label="ours",
                 yerr=[row.std.get(metric, float("nan")) for row in rows], capsize=3, color="tab:blue")
        axis.bar([x + 0.2 for x in positions], [row.paper.get(metric, float("nan")) for row in rows], width=0.4,
                 label="paper", color="tab:gray")
        axis.set_xticks(list(positions), labels, rotation=60, ha="right", fontsize=7)
        axis.set_title(f"test {metric} (%)")
        axis.legend(fontsize=7)
    save_figure(figure, path, dpi=110)


def csv_record(row: Cell) -> dict[str, Any]:
    """One row of ``reproduction.csv`` / ``ablation.csv``: numbers rounded to 4 decimals, "" where absent."""
    record: dict[str, Any] = {"dataset": row.dataset, "model": row.model, "label": row.label,
                              "seeds": " ".join(map(str, row.seeds))}
    record |= {m: round(row.mean[m], 4) for m in METRIC_COLUMNS}
    for metric in PAPER_METRICS:
        difference = row.difference(metric)
        record[f"{metric} std"] = round(row.std[metric], 4) if metric in row.std else ""
        record[f"{metric} paper"] = row.paper.get(metric, "")
        record[f"{metric} diff"] = "" if difference is None else round(difference, 4)
        record[f"{metric} best-test"] = round(row.best_test[metric], 4) if metric in row.best_test else ""
        record[f"{metric} within {TOLERANCE}"] = "" if difference is None else _within(difference)
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


def markdown(rows: Sequence[Cell], comparisons: Sequence[PairedComparison], extra: dict[str, Any]) -> str:
    """The readable report: the table, the protocol, unfinished runs, cells not started and the paired tests."""
    lines = [
        "# Reproduction of TAGNN++ Tables I and II",
        "",
        f"Protocol: {extra.get('protocol', '')}",
        "Test metrics in %, mean ± std over the finished seeds. Δ = ours − paper (paper P@20 = HR@20);",
        f"'within {TOLERANCE}': whether HR@20 / MRR@20 are within {TOLERANCE} points of the paper's figures.",
        "'best-test' is what the original papers' protocol (best test value over epochs) would report for the",
        "same runs: optimistic, shown only so that the protocols can be compared.",
        "",
        f"| dataset | model | seeds | HR@20 | paper | Δ | MRR@20 | paper | Δ | within {TOLERANCE} | HR@10 | MRR@10 "
        "| NDCG@20 | best-test HR@20 | best-test MRR@20 | selected epoch | epochs run | s / run | device | commit "
        "| deviations from preset |",
        "|" + "---|" * 21,
    ]
    for row in rows:
        cells = [row.dataset, row.label, " ".join(map(str, row.seeds))]
        for metric in PAPER_METRICS:
            cells.append(row.mean_std(metric))
            cells.append(f"{row.paper[metric]:.2f}" if metric in row.paper else "–")
            difference = row.difference(metric)
            cells.append("–" if difference is None else f"{difference:+.2f}")
        cells.append(within_tolerance(row))
        cells += [f"{row.mean[m]:.2f}" for m in METRIC_COLUMNS if m not in PAPER_METRICS]
        cells += [f"{row.best_test[m]:.2f}" if m in row.best_test else "–" for m in PAPER_METRICS]
        cells += [" ".join(map(str, row.selected_epochs)), " ".join(map(str, row.epochs_run)),
                  f"{row.seconds:.0f}", row.device, row.git_commit, "; ".join(row.deviations) or "none"]
        lines.append("| " + " | ".join(cells) + " |")
    sources = {row.label: get_spec(row.model).reference_source for row in rows if get_spec(row.model).reference_source}
    for label, source in sources.items():
        lines += ["", f"{label}'s paper figures: {source}."]
    pending = [f"- {row.dataset} {row.label}: {line}" for row in rows for line in row.pending]
    pending += [f"- {item}" for item in extra.get("unfinished", [])]
    if pending:
        lines += ["", "Unfinished (the `sbrzoo reproduce` call that started them resumes them):", "", *pending]
    not_run = extra.get("not_run", [])
    if not_run:
        lines += ["", "Not started (each runs with `sbrzoo reproduce --models MODEL --datasets DATASET`; "
                  "the GPU-track commands are in docs/RESULTS.md):", "",
                  *(f"- {dataset} {get_spec(name).label} (`--models {name} --datasets {dataset}`)"
                    for dataset, name in not_run)]
    if comparisons:
        lines += ["", "## Paired tests on the test sessions", "",
                  "Each test session is one paired observation (its prefixes are not independent): "
                  "two-sided Wilcoxon signed-rank tests of the per-session mean hit at 20 and mean "
                  "reciprocal rank at 20.", "",
                  "| dataset | seed | a − b | examples | sessions | ΔHR@20 | p | ΔMRR@20 | p |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for c in comparisons:
            lines.append(
                f"| {c.dataset} | {c.seed} | {get_spec(c.model_a).label} − {get_spec(c.model_b).label} "
                f"| {c.num_examples} | {c.num_sessions} "
                f"| {c.difference['HR@20']:+.2f} | {c.p_value['HR@20']:.3g} "
                f"| {c.difference['MRR@20']:+.2f} | {c.p_value['MRR@20']:.3g} |")
    return "\n".join(lines) + "\n"
