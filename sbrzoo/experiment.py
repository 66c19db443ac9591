"""One training run from a :class:`RunConfig`: load data, train, write the run folder."""

from __future__ import annotations

from pathlib import Path

from sbrzoo.config import RunConfig
from sbrzoo.data.dataset import SessionDataset
from sbrzoo.progress import progress_bar
from sbrzoo.trainer import Trainer, TrainResult

__all__ = ["load_run_dataset", "run_training"]


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
                 dataset: SessionDataset | None = None, deadline: float | None = None) -> TrainResult:
    """Train ``config``'s model into ``out_dir`` (continuing from its last epoch when ``resume``;
    pausing before ``deadline``, see :meth:`Trainer.fit`)."""
    dataset = dataset or load_run_dataset(config)
    return Trainer(config, dataset, out_dir, progress=progress_bar).fit(resume=resume, deadline=deadline)


def baseline_metrics(config: RunConfig, dataset: SessionDataset) -> dict[str, float]:
    """Test metrics of the most-popular ranking on the same data, for context beside a model."""
    from sbrzoo.evaluator import evaluate
    from sbrzoo.loader import batch_indices, make_loader
    from sbrzoo.models.popularity import PopularityModel

    model = PopularityModel(dataset.num_items)
    model.fit(dataset.train)
    batches = batch_indices(len(dataset.test), config.eval_batch_size)
    loader = make_loader(dataset.test, dataset.num_items, (), config.backend, batches)
    return evaluate(model, loader).metrics
