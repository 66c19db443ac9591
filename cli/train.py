"""`sbrzoo train`: train one model, select its epoch on validation, report test metrics."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from cli.options import (
    build_config,
    check_run_folder,
    given_options,
    parse_model,
    resume_config,
    settings_table,
    training_options,
)


@click.command("train", short_help="Train a model and report its test metrics.")
@click.option("--model", callback=parse_model, default="tagnnpp", show_default=True, help="See `sbrzoo models`.")
@training_options
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Run folder (default: runs/<model>-<dataset>-<time>); must be new or empty.")
@click.option("--overwrite", is_flag=True, help="Replace the run files already in --out.")
@click.option("--resume", "resume_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Continue an interrupted run from its last finished epoch, with its own settings "
                   "(--epochs, --patience, --device, --backend, --num-workers, --eval-batch-size and "
                   "--data-dir may change; any other differing option is refused).")
@click.option("--dry-run", is_flag=True,
              help="Check the options and the data, print the resolved settings, train and write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the test metrics as JSON on stdout instead of a table.")
def train_command(*, model: str, out: Path | None, overwrite: bool, resume_dir: Path | None, dry_run: bool,
                  as_json: bool, **options: Any) -> None:
    """Train MODEL on a dataset (default: the built-in synthetic one) and evaluate it on the test set.

    The reported epoch is the best one on the validation split (the last 10% of training sessions);
    the run folder holds config.json, metrics.json, test_ranks.npy, best.pt and last.pt.
    """
    from sbrzoo.console import console
    from sbrzoo.errors import Interrupted
    from sbrzoo.experiment import baseline_metrics, load_run_dataset, run_training
    from sbrzoo.report import metrics_table, show_json, show_table
    from sbrzoo.run_record import evaluation_record, remove_run_files

    given = given_options(click.get_current_context(), ("model", *options))
    if resume_dir is not None:
        config, changes = resume_config(resume_dir, {"model": model, **options}, given)
        out_dir = resume_dir
        for change in changes:
            console.print(f"resuming with {change}")
    else:
        config = build_config(model, options)
        out_dir = out or Path("runs") / f"{config.model}-{config.dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
        check_run_folder(out_dir, overwrite=overwrite)
    dataset = load_run_dataset(config)
    console.print(
        f"[bold]{config.model}[/] on [bold]{dataset.name}[/]: {len(dataset.train):,} train / "
        f"{len(dataset.valid) if dataset.valid is not None else 0:,} valid ({dataset.valid_split}) / "
        f"{len(dataset.test):,} test examples, {dataset.num_items:,} items; device {config.device}, "
        f"backend {config.backend}, seed {config.seed} -> {out_dir}"
    )
    if dry_run:
        show_table(settings_table(config, title=f"{config.model} on {config.dataset}: resolved settings "
                                                f"(dry run: nothing trained or written)"))
        return
    if overwrite and resume_dir is None:
        remove_run_files(out_dir)
    try:
        result = run_training(config, out_dir, resume=resume_dir is not None, dataset=dataset)
    except KeyboardInterrupt:
        raise Interrupted(f"Interrupted; continue with: sbrzoo train --resume {out_dir}") from None
    if as_json:
        show_json(evaluation_record(out_dir, config, "test", result.best_epoch, result.test_report))
        return
    rows = [(f"{config.model} (epoch {result.best_epoch})", result.test)]
    if config.model != "pop":
        rows.append(("pop (baseline)", baseline_metrics(config, dataset)))
    protocol = {"valid": "epoch selected on validation", "test": "epoch selected ON THE TEST SET (papers' protocol)",
                "last": "last epoch"}[config.select_on]
    show_table(metrics_table(f"Test metrics (%), {dataset.name}, {len(dataset.test):,} examples", rows,
                             note=f"{protocol}; results in {out_dir}"))
