"""Options shared by `train` and `ablation`, and their conversion into a RunConfig."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from sbrzoo.models import list_models

_TRAINING_OPTIONS = [
    click.option("--dataset", default=None, help="Registered dataset (see `sbrzoo datasets`); default: synthetic."),
    click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                 help="Folder of SR-GNN pickles (all_train_seq.txt or train.txt, and test.txt)."),
    click.option("--epochs", type=click.IntRange(min=0), default=None, help="Training epochs (preset by default)."),
    click.option("--batch-size", type=click.IntRange(min=1), default=None),
    click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Learning rate."),
    click.option("--weight-decay", type=click.FloatRange(min=0), default=None, help="L2 penalty."),
    click.option("--dim", type=click.IntRange(min=1), default=None, help="Embedding / hidden size."),
    click.option("--heads", type=click.IntRange(min=1), default=None, help="Transformer heads."),
    click.option("--dropout", type=click.FloatRange(min=0, max=1, max_open=True), default=None),
    click.option("--num-layers", type=click.IntRange(min=1), default=None, help="LESSR layers."),
    click.option("--patience", type=click.IntRange(min=1), default=None, help="Early-stopping patience (epochs)."),
    click.option("--fidelity", type=click.Choice(["paper", "reference"]), default=None,
                 help="paper: the described model; reference: the released code's behaviour."),
    click.option("--valid-split", type=click.Choice(["last_sessions", "random", "none"]), default="last_sessions",
                 show_default=True,
                 help="last_sessions: last 10%% of training sessions (leak-free); random: 10%% of prefixes "
                      "as the reference scripts do (leaky)."),
    click.option("--valid-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.1,
                 show_default=True),
    click.option("--select-on", type=click.Choice(["valid", "test", "last"]), default="valid", show_default=True,
                 help="Which split picks the reported epoch; 'test' mimics the original papers (optimistic)."),
    click.option("--select-metric", default="HR@20", show_default=True),
    click.option("--track-test/--no-track-test", default=False,
                 help="Also evaluate the test set every epoch (to report the papers' best-test protocol)."),
    click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto."),
    click.option("--backend", type=click.Choice(["dgl", "torch"]), default=None,
                 help="Graph backend (default: dgl where it imports, else torch)."),
    click.option("--seed", type=int, default=0, show_default=True),
    click.option("--num-workers", type=click.IntRange(min=0), default=0, show_default=True,
                 help="DataLoader worker processes."),
    click.option("--max-train-batches", type=click.IntRange(min=1), default=None,
                 help="Cut every epoch after this many batches (quick looks)."),
    click.option("--eval-batch-size", type=click.IntRange(min=1), default=500, show_default=True),
]

HP_OPTIONS = ("epochs", "batch_size", "lr", "weight_decay", "dim", "heads", "dropout", "num_layers", "patience",
              "fidelity")


def training_options(command: Callable) -> Callable:
    """Decorate a click command with every shared training option."""
    for option in reversed(_TRAINING_OPTIONS):
        command = option(command)
    return command


def model_choice() -> click.Choice:
    return click.Choice(list_models())


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise click.BadParameter("CUDA is not available on this machine", param_hint="--device")
    return name


def build_config(model: str, options: dict[str, Any]):  # noqa: ANN201 - RunConfig (lazy import)
    """Turn parsed options into a resolved :class:`~sbrzoo.config.RunConfig`."""
    from sbrzoo.config import RunConfig
    from sbrzoo.graph import resolve_backend
    from sbrzoo.models import get_spec
    from sbrzoo.presets import resolve_hyperparameters

    data_dir: Path | None = options["data_dir"]
    dataset = options["dataset"] or (data_dir.name if data_dir else "synthetic")
    spec = get_spec(model)
    hp = resolve_hyperparameters(spec.family, dataset, {k: options[k] for k in HP_OPTIONS})
    return RunConfig(
        model=model,
        dataset=dataset,
        data_dir=str(data_dir.resolve()) if data_dir else None,
        valid_split=options["valid_split"],
        valid_fraction=options["valid_fraction"],
        select_on=options["select_on"],
        select_metric=options["select_metric"],
        track_test=options["track_test"],
        seed=options["seed"],
        device=resolve_device(options["device"]),
        backend=resolve_backend(options["backend"]),
        num_workers=options["num_workers"],
        max_train_batches=options["max_train_batches"],
        eval_batch_size=options["eval_batch_size"],
        hp=hp,
    )
