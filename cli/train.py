"""`sbrzoo train`: train one model, select its epoch on validation, report test metrics."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from cli.options import build_config, model_choice, training_options


@click.command("train", short_help="Train a model and report its test metrics.")
@click.option("--model", type=model_choice(), default="tagnnpp", show_default=True, help="See `sbrzoo models`.")
@training_options
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run folder (default: runs/<model>-<dataset>-<time>).")
@click.option("--resume", "resume_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Continue an interrupted run from its last finished epoch (other options are ignored).")
@click.option("--json", "as_json", is_flag=True, help="Also print the final metrics as JSON on stdout.")
def train_command(*, model: str, out: Path | None, resume_dir: Path | None, as_json: bool, **options: Any) -> None:
    """Train MODEL on a dataset (default: the built-in synthetic one) and evaluate it on the test set.

    The reported epoch is the best one on the validation split (the last 10% of training sessions);
    the run folder holds config.json, metrics.json, best.pt and last.pt.
    """
    from sbrzoo.config import RunConfig
    from sbrzoo.console import console
    from sbrzoo.experiment import baseline_metrics, load_run_dataset, run_training
    from sbrzoo.report import metrics_table

    if resume_dir is not None:
        config, out_dir = RunConfig.load(resume_dir / "config.json"), resume_dir
    else:
        config = build_config(model, options)
        out_dir = out or Path("runs") / f"{config.model}-{config.dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
    dataset = load_run_dataset(config)
    console.print(
        f"[bold]{config.model}[/] on [bold]{dataset.name}[/]: {len(dataset.train):,} train / "
        f"{len(dataset.valid) if dataset.valid is not None else 0:,} valid ({dataset.valid_split}) / "
        f"{len(dataset.test):,} test examples, {dataset.num_items:,} items; device {config.device}, "
        f"backend {config.backend}, seed {config.seed} -> {out_dir}"
    )
    result = run_training(config, out_dir, resume=resume_dir is not None, dataset=dataset)
    rows = [(f"{config.model} (epoch {result.best_epoch})", result.test)]
    if config.model != "pop":
        rows.append(("pop (baseline)", baseline_metrics(config, dataset)))
    protocol = {"valid": "epoch selected on validation", "test": "epoch selected ON THE TEST SET (papers' protocol)",
                "last": "last epoch"}[config.select_on]
    console.print(metrics_table(f"Test metrics (%), {dataset.name}, {len(dataset.test):,} examples", rows,
                                note=f"{protocol}; results in {out_dir}"))
    if as_json:
        click.echo(json.dumps({"run": str(out_dir), "best_epoch": result.best_epoch, "test": result.test}))
