"""`sbrzoo reproduce`: train the paper's Table I and II cells, resumably, and tabulate them beside the paper."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.options import DEFAULT_SEED, build_config, expand_models, jobs_option, parse_seeds, training_options
from sbrzoo.models.families import TABLE_I_MODELS, TABLE_II_MODELS

if TYPE_CHECKING:
    import numpy as np

_FIXED = ("dataset", "data_dir", "seed", "select_on", "track_test")


def _names(_: click.Context, __: click.Parameter, value: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise click.BadParameter("give at least one name")
    return names


def _test_sessions(run: Path, data_root: Path | None) -> np.ndarray | None:
    """The test session of every test example of the run in ``run`` (its data from ``data_root`` when
    given, else from where it was trained, else from the dataset's usual place), or None where that data
    is not found or not grouped."""
    from sbrzoo.config import RunConfig
    from sbrzoo.data.registry import load_dataset
    from sbrzoo.errors import DataError, UnknownNameError

    config = RunConfig.load(run / "config.json")
    data_dir = data_root / config.dataset if data_root and config.dataset != "synthetic" else config.data_dir
    places = dict.fromkeys([Path(data_dir) if data_dir else None, None])  # where it was, then the usual place
    for place in places:
        try:
            return load_dataset(config.dataset, data_dir=place, valid_split="none").test.sessions()
        except (DataError, UnknownNameError):  # not there; a dataset only its folder named
            continue
    return None


@click.command("reproduce", short_help="Train Table I/II cells over datasets and seeds; compare with the paper.")
@click.option("--models", default=",".join(dict.fromkeys(TABLE_I_MODELS + TABLE_II_MODELS)), show_default=True,
              help="Comma-separated model names or fnmatch patterns.")
@click.option("--datasets", default="diginetica,yoochoose1_64", show_default=True, callback=_names,
              help="Comma-separated registered datasets.")
@click.option("--seeds", default=str(DEFAULT_SEED), show_default=True, callback=parse_seeds,
              help="Comma-separated seeds.")
@click.option("--data-root", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Folder holding one folder per dataset (default: $SBRZOO_DATA_DIR or ../shared/datasets).")
@click.option("--time-budget", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds: start no run after it and pause a run (after an epoch) that would overrun it.")
@jobs_option
@click.option("--compare", default="tagnnpp,tagnn", show_default=True, callback=_names,
              help="Two models compared example by example on the test set (paired tests).")
@training_options(without=_FIXED)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("results"), show_default=True,
              help="Writes reproduction.{json,csv,md} here and keeps the runs in reproduction/ below it.")
@click.option("--report-only", is_flag=True,
              help="Train nothing: rewrite the tables from the runs under --out, whatever their settings.")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON on stdout instead.")
def reproduce_command(*, models: str, datasets: list[str], seeds: list[int], data_root: Path | None,
                      time_budget: float | None, jobs: int, compare: list[str], out: Path, report_only: bool,
                      as_json: bool, **options: Any) -> None:
    """Train every (dataset, model, seed) with its preset and validation-based epoch selection, the
    test set tracked every epoch only to show what the papers' best-test protocol would report.
    Finished runs are kept, unfinished ones resume from their last epoch, so the same command can
    be repeated (e.g. on a GPU lent for a few minutes at a time) until the table is complete."""
    from rich.markup import escape

    from cli.options import check_out_folder
    from sbrzoo.config import RunConfig
    from sbrzoo.console import console, say
    from sbrzoo.data.registry import get_dataset_info
    from sbrzoo.experiment import train_cell
    from sbrzoo.matrix import plan_matrix, run_folder, runs_on_disk, summarize_cell, train_runs, unfinished_runs
    from sbrzoo.models import get_spec, list_models
    from sbrzoo.report import show_json, show_table
    from sbrzoo.reproduce import cells_not_run, compare_models, write_tables

    if len(compare) != 2:
        raise click.BadParameter(f"name two models, got {compare}", param_hint="--compare")
    compare = [get_spec(name).name for name in compare]  # a misspelt name: did-you-mean, not no tests
    names = expand_models(models, "--models", options["fidelity"])
    for dataset in datasets:  # a misspelt name: did-you-mean, before anything trains
        get_dataset_info(dataset)
    check_out_folder(out)
    runs_dir = out / "reproduction"
    deadline = time.monotonic() + time_budget if time_budget else None
    # --report-only plans nothing: the table is what is on disk
    asked = [] if report_only else [(dataset, name) for dataset in datasets for name in names]
    rows, unfinished = [], []
    plans = []  # every dataset's runs checked before any trains
    for dataset in dict.fromkeys(dataset for dataset, _ in asked):
        data_dir = data_root / dataset if data_root and dataset != "synthetic" else None
        fixed = {"dataset": dataset, "data_dir": data_dir, "seed": 0, "select_on": "valid", "track_test": True}
        plans.append(plan_matrix({name: build_config(name, {**options, **fixed}) for name in names}, seeds,
                                 runs_dir / dataset))
    for todo in plans:
        train_runs(todo, train_cell, deadline=deadline, jobs=jobs)
    # The table holds every cell on disk, also those of earlier calls with other --models/--datasets.
    on_disk = runs_on_disk(runs_dir)
    planned = {dataset: dict.fromkeys(names, seeds) for dataset, _ in asked}
    for dataset in dict.fromkeys([*datasets, *on_disk]):
        cells = {**on_disk.get(dataset, {}), **planned.get(dataset, {})}
        for name in (n for n in list_models() if n in on_disk.get(dataset, {})):
            cell_seeds = sorted(set(cells[name]) | set(on_disk.get(dataset, {}).get(name, [])))
            row = summarize_cell(runs_dir / dataset / name, dataset, name, cell_seeds)
            if row is None:
                unfinished += [f"{dataset} {name}: {line}"
                               for line in unfinished_runs(runs_dir / dataset / name, cell_seeds)]
            else:
                rows.append(row)
    comparisons = []
    if importlib.util.find_spec("scipy") is None:
        console.print("[yellow]scipy is not installed: paired tests skipped[/]")
    else:
        for row in (row for row in rows if row.model == compare[0] and compare[1] in on_disk.get(row.dataset, {})):
            sessions = _test_sessions(run_folder(runs_dir / row.dataset, row.model, row.seeds[0]), data_root)
            if sessions is None:
                say(f"paired tests on {row.dataset} skipped: its test split is not found or not in SR-GNN's "
                    "order, so its examples cannot be grouped by session")
            else:
                comparisons += compare_models(runs_dir, row.dataset, compare[0], compare[1], row.seeds, sessions)
    # the settings of every cell in the table, from its first seed's folder
    configs = {dataset: {name: RunConfig.load(run_folder(runs_dir / dataset, name, cell_seeds[0]) / "config.json")
                         for name, cell_seeds in by_model.items()} for dataset, by_model in on_disk.items()}
    not_run = cells_not_run(on_disk, planned=asked)
    paths = write_tables(rows, comparisons, out, extra={
        "protocol": _protocol(configs), "seeds": seeds, "datasets": datasets, "models": names,
        "unfinished": unfinished, "not_run": not_run,
        "configs": {d: {n: c.to_dict() for n, c in by_model.items()} for d, by_model in configs.items()},
    })
    for line in unfinished + [f"{r.dataset} {r.model}: {p}" for r in rows for p in r.pending]:
        console.print(f"[yellow]unfinished[/] {escape(line)}")
    for dataset, name in (cell for cell in not_run if cell in asked):
        console.print(f"[yellow]not started[/] {escape(dataset)} {name}")
    say("saved " + ", ".join(map(str, paths)), markup=False, highlight=False, soft_wrap=True)
    if as_json:
        show_json(json.loads(paths[0].read_text()))
    else:
        show_table(_table(rows))


def _protocol(configs: dict[str, dict[str, Any]]) -> str:
    """The table's protocol line: how the runs on disk select their epoch (RunConfig per dataset and model)."""
    splits = {(c.valid_split, c.valid_fraction, c.select_metric) for by_model in configs.values()
              for c in by_model.values() if c.select_on == "valid"}
    if len(splits) == 1:
        ((split, fraction, metric),) = splits
        selection = f"epoch selected on {metric} of the validation split ({split}, {fraction:.0%} of training)"
    else:
        selection = "epoch selected as each run's config.json says (the configs of the JSON table)"
    return f"presets per model and dataset (every deviation from them in the last column); {selection}"


def _table(rows: list) -> Any:  # noqa: ANN401 - rich Table (lazy import)
    from sbrzoo.report import LiteralTable

    table = LiteralTable(title="Reproduction (test %, epoch selected on validation)")
    for column in ("dataset", "model", "seeds", "HR@20", "paper", "Δ", "MRR@20", "paper", "Δ", "best-test HR@20"):
        table.add_column(column, justify="left" if column in ("dataset", "model") else "right")
    for row in rows:
        cells = [row.dataset, row.label, " ".join(map(str, row.seeds))]
        for metric in ("HR@20", "MRR@20"):
            difference = row.difference(metric)
            cells += [f"{row.mean[metric]:.2f}", f"{row.paper[metric]:.2f}" if metric in row.paper else "-",
                      "-" if difference is None else f"{difference:+.2f}"]
        cells.append(f"{row.best_test['HR@20']:.2f}" if "HR@20" in row.best_test else "-")
        table.add_row(*cells)
    return table
