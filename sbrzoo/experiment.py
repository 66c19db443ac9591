"""One training run from a :class:`RunConfig`: load data, train, write the run folder; and the one
way back from a run folder to its model, data and evaluation loader."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from sbrzoo.config import RunConfig
from sbrzoo.data.dataset import SessionDataset
from sbrzoo.data.examples import Examples
from sbrzoo.progress import progress_bar
from sbrzoo.trainer import Trainer, TrainResult, check_same_data

__all__ = ["LoadedRun", "load_run_dataset", "load_run", "run_training", "baseline_metrics", "evaluation_loader"]


def load_run_dataset(config: RunConfig) -> SessionDataset:
    """The dataset a config names, split as it says."""
    from sbrzoo.data.registry import load_dataset

    return load_dataset(
        config.dataset,
        data_dir=Path(config.data_dir) if config.data_dir else None,
        valid_split=config.valid_split,
        valid_fraction=config.valid_fraction,
        seed=config.seed,
    )


def run_training(config: RunConfig, out_dir: Path, *, resume: bool = False,
                 dataset: SessionDataset | None = None, deadline: float | None = None,
                 tensorboard: bool = False) -> TrainResult:
    """Train ``config``'s model into ``out_dir`` (continuing from its last epoch when ``resume``;
    pausing before ``deadline``, see :meth:`Trainer.fit`; with ``tensorboard``, also writing
    TensorBoard event files)."""
    dataset = dataset or load_run_dataset(config)
    return Trainer(config, dataset, out_dir, progress=progress_bar,
                   tensorboard=tensorboard).fit(resume=resume, deadline=deadline)


_LOADED: dict[tuple[str, int], SessionDataset] = {}  # the one dataset split this process holds


def train_cell(config: RunConfig, folder: Path, resume: bool, deadline: float | None) -> None:
    """Train one run of an experiment matrix (``sbrzoo reproduce`` and ``ablation``), keeping the last
    dataset split loaded for the next run; module-level, so that ``--jobs`` can run it in a worker."""
    from rich.markup import escape

    from sbrzoo.console import say

    key = (config.dataset, config.seed)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = load_run_dataset(config)
    resuming = " (resuming)" if resume else ""
    say(f"[bold]{escape(config.dataset)} {config.model}[/] seed {config.seed}{resuming}")
    run_training(config, folder, resume=resume, dataset=_LOADED[key], deadline=deadline)


def evaluation_loader(config: RunConfig, examples: Examples, num_items: int) -> Iterable:
    """Batches of ``examples`` in file order, with the graphs ``config``'s model needs."""
    from sbrzoo.data.loader import batch_indices, make_loader
    from sbrzoo.models import get_spec

    return make_loader(examples, num_items, get_spec(config.model).graph_kinds, config.backend,
                       batch_indices(len(examples), config.eval_batch_size))


@dataclass(frozen=True)
class LoadedRun:
    """A finished run rebuilt from its folder: settings, data, and the model with its selected weights.

    Attributes:
        config: The run's settings (device, backend and data folder as overridden when loading).
        dataset: Its data, split as during training.
        model: On ``config.device``, in eval mode, holding ``best.pt``'s weights.
        epoch: The selected epoch those weights come from.
    """

    run_dir: Path
    config: RunConfig
    dataset: SessionDataset
    model: nn.Module
    epoch: int


def load_run(run_dir: Path, *, device: str | None = None, backend: str | None = None,
             data_dir: Path | None = None) -> LoadedRun:
    """Rebuild the run in ``run_dir`` from ``config.json`` and ``best.pt`` (loaded as data only).

    Args:
        device: Override where it runs (None: where it was trained, or the CPU when this machine lacks
            that device).
        backend: Override the graph backend (None: as trained, if DGL imports here).
        data_dir: Where its data lives now, when it has moved.

    Raises:
        ConfigError: no run folder here, or ``device`` is not a device of this machine. DataError:
        ``best.pt`` is missing, damaged, refused as unsafe or does not fit the model; the data cannot
        be read or differs from the run's.
    """
    from sbrzoo.checkpoint import load_checkpoint, load_weights
    from sbrzoo.data.fingerprint import data_fingerprint
    from sbrzoo.devices import recorded_device_or_cpu, resolve_device
    from sbrzoo.graph import resolve_backend
    from sbrzoo.models import create_model

    run_dir = Path(run_dir)
    config = RunConfig.load(run_dir / "config.json")
    overrides: dict[str, Any] = {"device": resolve_device(device) if device else recorded_device_or_cpu(config.device),
                 "backend": resolve_backend(backend or config.backend)}
    if data_dir is not None:
        overrides["data_dir"] = str(Path(data_dir).resolve())
    config = dataclasses.replace(config, **overrides)
    path = run_dir / "best.pt"
    best = load_checkpoint(path, keys={"state_dict": dict, "epoch": int, "num_items": int}, map_location=config.device)
    dataset = load_run_dataset(config)
    check_same_data(run_dir, data_fingerprint(dataset))
    model = create_model(config.model, dataset.num_items, config.settings).to(config.device)
    model.fit_statistics(dataset.train)  # a counting model's statistics set the shapes of its buffers
    load_weights(model, best["state_dict"], path)
    return LoadedRun(run_dir, config, dataset, model.eval(), best["epoch"])


def baseline_metrics(config: RunConfig, dataset: SessionDataset) -> dict[str, float]:
    """Test metrics of the most-popular ranking on the same data, for context beside a model."""
    from sbrzoo.evaluator import evaluate
    from sbrzoo.models import create_model

    model = create_model("pop", dataset.num_items, {})
    model.fit_statistics(dataset.train)
    return evaluate(model, evaluation_loader(dataclasses.replace(config, model="pop", engine="eager"), dataset.test,
                                             dataset.num_items)).metrics
