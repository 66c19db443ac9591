"""`sbrzoo train`: train one model, select its epoch on validation, report test metrics."""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from pathlib import Path
from typing import Any

import click

from cli.options import (
    RESUMABLE_CHANGES,
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
                   f"({', '.join('--' + name.replace('_', '-') for name in RESUMABLE_CHANGES)} may change; "
                   "any other differing option is refused).")
@click.option("--dry-run", is_flag=True,
              help="Check the options and the data, print the resolved settings, train and write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the test metrics as JSON on stdout instead of a table.")
@click.option("--tensorboard", is_flag=True,
              help="Also write every epoch (loss, lr, validation and tracked test metrics) as TensorBoard event "
                   'files into RUN/tensorboard (needs the tensorboard package: pip install -e ".[tensorboard]").')
@click.option("--nproc", type=click.IntRange(min=1), default=None,
              help="Train data-parallel in this many processes on this machine (one per GPU, or CPU processes): "
                   "torchrun with DistributedDataParallel, same optimisation as one process (docs/DISTRIBUTED.md).")
def train_command(*, nproc: int | None, **arguments: Any) -> None:
    """Train MODEL on a dataset (default: the built-in synthetic one) and evaluate it on the test set.

    The reported epoch is the best one on the validation split (the last 10% of training sessions);
    the run folder holds config.json, metrics.json, epochs.csv, curves.png, test_ranks.npy, best.pt and
    last.pt (and tensorboard/ with --tensorboard).
    """
    from sbrzoo import distributed
    from sbrzoo.curves import check_tensorboard
    from sbrzoo.errors import ConfigError

    if arguments["resume_dir"] is not None and (arguments["out"] is not None or arguments["overwrite"]):
        raise ConfigError(f"--resume {arguments['resume_dir']} continues that run in its own folder; "
                          f"drop {'--out' if arguments['out'] is not None else '--overwrite'}")
    if arguments["tensorboard"]:
        check_tensorboard()  # before any data is read or process started
    if nproc is not None and nproc > 1 and arguments["engine"] != "eager":
        raise ConfigError("--engine static trains in one process; drop --nproc or use --engine eager")
    if distributed.launched():  # a worker of torchrun (or of --nproc)
        with distributed.worker() as context:
            _train(context=context, **arguments)
    elif nproc is not None and nproc > 1 and not arguments["dry_run"]:
        distributed.launch(nproc, ["-m", "sbrzoo.cli", *distributed.without_option(sys.argv[1:], "--nproc")],
                           verbose=logging.getLogger("sbrzoo").getEffectiveLevel() <= logging.DEBUG)
    else:
        _train(context=None, **arguments)


def _train(*, context: Any, model: str, out: Path | None, overwrite: bool, resume_dir: Path | None,  # noqa: ANN401
           dry_run: bool, as_json: bool, tensorboard: bool, **options: Any) -> None:
    """The train command in one process (``context`` None) or on one rank of a distributed job."""
    from rich.markup import escape

    from sbrzoo import distributed
    from sbrzoo.console import say
    from sbrzoo.errors import Interrupted
    from sbrzoo.experiment import baseline_metrics, load_run_dataset, run_training
    from sbrzoo.report import metrics_table, show_json, show_table, tie_rows
    from sbrzoo.run_record import evaluation_record, remove_run_files

    given = given_options(click.get_current_context(), ("model", *options))
    main = context is None or context.is_main

    def setup() -> tuple[Any, Path, list[str]]:  # reads the run folder: on rank 0 only in a distributed job
        if resume_dir is not None:
            config, changes = resume_config(resume_dir, {"model": model, **options}, given)
            return config, resume_dir, changes
        config = build_config(model, options)
        out_dir = out or Path("runs") / f"{config.model}-{config.dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
        check_run_folder(out_dir, overwrite=overwrite)
        return config, out_dir, []

    config, out_dir, changes = setup() if context is None else distributed.from_rank0(context, setup)
    if context is not None:
        context, device = distributed.use_device(context, config.device)
        config = dataclasses.replace(config, device=device)
    for change in changes if main else []:
        say(f"resuming with {change}", markup=False, highlight=False, soft_wrap=True)
    dataset = load_run_dataset(config)
    if main:
        say(
            f"[bold]{config.model}[/] on [bold]{escape(dataset.name)}[/]: {len(dataset.train):,} train / "
            f"{len(dataset.valid) if dataset.valid is not None else 0:,} valid ({dataset.valid_split}) / "
            f"{len(dataset.test):,} test examples, {dataset.num_items:,} items; device {config.device}, "
            f"backend {config.backend}, seed {config.seed} -> {escape(str(out_dir))}"
            + (f"; {context.world_size} processes ({context.backend})" if context is not None else "")
        )
    if dry_run:
        if not main:
            return
        show_table(settings_table(config, title=f"{config.model} on {config.dataset}: resolved settings "
                                                f"(dry run: nothing trained or written)"))
        return
    if overwrite and resume_dir is None and main:
        remove_run_files(out_dir)
    try:
        if context is None:
            result = run_training(config, out_dir, resume=resume_dir is not None, dataset=dataset,
                                  tensorboard=tensorboard)
        else:
            from sbrzoo.progress import progress_bar

            result = distributed.run_training(context, config, out_dir, resume=resume_dir is not None,
                                              dataset=dataset, progress=progress_bar, tensorboard=tensorboard)
    except KeyboardInterrupt:
        if not (out_dir / "last.pt").is_file():
            raise Interrupted("Interrupted before the first epoch finished; start it again with --overwrite") from None
        raise Interrupted(f"Interrupted; continue with: sbrzoo train --resume {out_dir}") from None
    if not main:
        return
    if as_json:
        show_json(evaluation_record(out_dir, config, "test", result.best_epoch, result.test_report))
        return
    rows = [*tie_rows(f"{config.model} (epoch {result.best_epoch})", result.test, result.test_pessimistic),
            ("pop (baseline)", baseline_metrics(config, dataset))]
    protocol = {"valid": "epoch selected on validation", "test": "epoch selected ON THE TEST SET (papers' protocol)",
                "last": "last epoch"}[config.select_on]
    show_table(metrics_table(f"Test metrics (%), {dataset.name}, {len(dataset.test):,} examples", rows,
                             note=f"{protocol}; results in {out_dir}"))
