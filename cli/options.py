"""Options shared by `train` and `ablation`, and their conversion into a RunConfig."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from sbrzoo.models import list_models

_TRAINING_OPTIONS: dict[str, Callable[[Callable], Callable]] = {
    "dataset": click.option(
        "--dataset", default=None, help="Registered dataset (see `sbrzoo datasets`); default: synthetic."),
    "data_dir": click.option(
        "--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="Folder of SR-GNN pickles (all_train_seq.txt or train.txt, and test.txt)."),
    "epochs": click.option(
        "--epochs", type=click.IntRange(min=0), default=None, help="Training epochs (preset by default)."),
    "batch_size": click.option("--batch-size", type=click.IntRange(min=1), default=None),
    "lr": click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Learning rate."),
    "weight_decay": click.option("--weight-decay", type=click.FloatRange(min=0), default=None, help="L2 penalty."),
    "dim": click.option("--dim", type=click.IntRange(min=1), default=None, help="Embedding / hidden size."),
    "heads": click.option("--heads", type=click.IntRange(min=1), default=None, help="Transformer heads."),
    "dropout": click.option("--dropout", type=click.FloatRange(min=0, max=1, max_open=True), default=None),
    "num_layers": click.option("--num-layers", type=click.IntRange(min=1), default=None, help="LESSR layers."),
    "patience": click.option(
        "--patience", type=click.IntRange(min=1), default=None, help="Early-stopping patience (epochs)."),
    "fidelity": click.option(
        "--fidelity", type=click.Choice(["paper", "reference"]), default=None,
        help="paper: the described model; reference: the released code's behaviour."),
    "valid_split": click.option(
        "--valid-split", type=click.Choice(["last_sessions", "random", "none"]), default="last_sessions",
        show_default=True,
        help="last_sessions: last 10%% of training sessions (leak-free); random: 10%% of prefixes "
             "as the reference scripts do (leaky)."),
    "valid_fraction": click.option(
        "--valid-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.1,
        show_default=True),
    "select_on": click.option(
        "--select-on", type=click.Choice(["valid", "test", "last"]), default="valid", show_default=True,
        help="Which split picks the reported epoch; 'test' mimics the original papers (optimistic)."),
    "select_metric": click.option("--select-metric", default="HR@20", show_default=True),
    "track_test": click.option(
        "--track-test/--no-track-test", default=False,
        help="Also evaluate the test set every epoch (to report the papers' best-test protocol)."),
    "device": click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto."),
    "backend": click.option(
        "--backend", type=click.Choice(["dgl", "torch"]), default=None,
        help="Graph backend (default: dgl where it imports, else torch)."),
    "seed": click.option("--seed", type=int, default=0, show_default=True),
    "num_workers": click.option(
        "--num-workers", type=click.IntRange(min=0), default=0, show_default=True, help="DataLoader worker processes."),
    "max_train_batches": click.option(
        "--max-train-batches", type=click.IntRange(min=1), default=None,
        help="Cut every epoch after this many batches (quick looks)."),
    "eval_batch_size": click.option(
        "--eval-batch-size", type=click.IntRange(min=1), default=500, show_default=True),
}

HP_OPTIONS = ("epochs", "batch_size", "lr", "weight_decay", "dim", "heads", "dropout", "num_layers", "patience",
              "fidelity")


def training_options(command: Callable | None = None, *, without: Sequence[str] = ()) -> Callable:
    """Decorate a click command with the shared training options, except those named in ``without``.

    Usable bare (``@training_options``) or called (``@training_options(without=("seed",))``).
    """
    unknown = set(without) - set(_TRAINING_OPTIONS)
    if unknown:
        raise ValueError(f"no training options named {sorted(unknown)}")

    def decorate(function: Callable) -> Callable:
        for name, option in reversed(_TRAINING_OPTIONS.items()):
            if name not in without:
                function = option(function)
        return function

    return decorate if command is None else decorate(command)


def parse_seeds(_: click.Context | None, __: click.Parameter | None, value: str) -> list[int]:
    """Click callback: ``"1,2,3"`` -> ``[1, 2, 3]``."""
    try:
        seeds = [int(s) for s in value.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None
    if not seeds:
        raise click.BadParameter("give at least one seed")
    return seeds


def expand_models(patterns: str, option: str) -> list[str]:
    """Comma-separated model names or fnmatch patterns -> registered names, in order, without repeats."""
    names: list[str] = []
    for pattern in (p.strip() for p in patterns.split(",") if p.strip()):
        matched = list_models(pattern)
        if not matched:
            raise click.BadParameter(f"{pattern!r} matches no model (see `sbrzoo models`)", param_hint=option)
        names += [m for m in matched if m not in names]
    return names


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
