"""Training with validation-based model selection, early stopping, checkpoints and exact resume."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sbrzoo.checkpoint import load_checkpoint, load_weights
from sbrzoo.config import RunConfig
from sbrzoo.curves import (
    CURVES_FILE,
    EPOCHS_FILE,
    TENSORBOARD_DIR,
    RunCurves,
    TensorBoardLog,
    plot_curves,
    write_epochs_csv,
)
from sbrzoo.data.dataset import SessionDataset
from sbrzoo.data.examples import Examples
from sbrzoo.data.fingerprint import compare_fingerprints, data_fingerprint
from sbrzoo.data.loader import batch_indices, make_loader, prefetch_in_thread
from sbrzoo.engine.step import StaticEngine
from sbrzoo.errors import ConfigError, DataError, TrainingDiverged
from sbrzoo.evaluator import MetricReport, evaluate
from sbrzoo.models import create_model, get_spec
from sbrzoo.results import METRICS_FILE, EpochRecord, RunRecord, epoch_seconds
from sbrzoo.run_record import RANKS_FILE, environment_info, save_ranks, save_torch_atomic, write_json_atomic
from sbrzoo.seed import seed_everything
from sbrzoo.step import clipped_parameters, first_non_finite, train_step

__all__ = ["Trainer", "TrainResult", "build_optimizer", "load_optimizer_state", "learning_rate", "stale_epochs"]

log = logging.getLogger(__name__)

_CHECK_EVERY = 20  # steps between checks that the training loss is still finite
# ``last.pt``: tensors and plain containers only, so that it loads with ``weights_only=True``.
_RESUME_KEYS: dict[str, type | tuple[type, ...]] = {
    "epoch": int, "model": dict, "optimizer": dict, "epochs": list, "best_epoch": (int, type(None)),
    "best_score": (float, int), "stale": int, "torch_rng": torch.Tensor, "cuda_rng": (list, type(None)),
}


@dataclass
class TrainResult(RunRecord):
    """Outcome of :meth:`Trainer.fit`: the run's record (what ``metrics.json`` holds), and the
    state of the selection: the best validation score so far, the selected epoch's test report,
    and whether training paused before a deadline."""

    best_score: float = -math.inf
    test_report: MetricReport | None = None
    paused: bool = False

    def record(self) -> RunRecord:
        """The :class:`RunRecord` part, as saved."""
        return RunRecord(**{f.name: getattr(self, f.name) for f in fields(RunRecord)})


# How an optimizer runs, set by build_optimizer for this device and engine: never taken from a checkpoint
_PLACEMENT_KEYS = ("fused", "capturable", "foreach")


def load_optimizer_state(optimizer: torch.optim.Optimizer, saved: dict[str, Any]) -> None:
    """``optimizer.load_state_dict(saved)``, keeping how ``optimizer`` runs here (fused, capturable):
    a run resumed on another device or engine (``--resume --device cpu``) must not inherit the
    fused CUDA kernels of the machine it was saved on. Adam's step counts go where the kernels
    expect them (beside the parameters when fused or capturable, else on the CPU)."""
    placement = [{key: group[key] for key in _PLACEMENT_KEYS if key in group} for group in optimizer.param_groups]
    optimizer.load_state_dict(saved)
    for group, own in zip(optimizer.param_groups, placement, strict=True):
        group.update(own)
        beside = bool(group.get("fused") or group.get("capturable"))
        for parameter in group["params"]:
            step = optimizer.state.get(parameter, {}).get("step")
            if torch.is_tensor(step):
                optimizer.state[parameter]["step"] = step.to(parameter.device if beside else "cpu")


def build_optimizer(model: nn.Module, config: RunConfig) -> torch.optim.Optimizer:
    """Adam with L2 (SR-GNN family) or AdamW without decay on biases, norms and PReLU (LESSR, P15).

    On CUDA the fused kernels update every parameter in one launch (same arithmetic); with the static
    engine the update is also ``capturable`` (its step count lives on the GPU, so CUDA graphs can hold it).
    """
    hp = config.training
    fused: dict[str, Any] = {"fused": True} if torch.device(config.device).type == "cuda" else {}
    if fused and config.engine == "static":
        fused["capturable"] = True
    if hp.optimizer == "adamw":
        decayed: list[nn.Parameter] = []
        plain: list[nn.Parameter] = []
        for name, parameter in model.named_parameters():
            # LESSR's code exempts every name containing "bias", GRU's bias_ih_l0 / bias_hh_l0 included
            no_decay = any(k in name for k in ("bias", "norm", "prelu", "activation"))
            (plain if no_decay else decayed).append(parameter)
        groups = [{"params": decayed, "weight_decay": hp.weight_decay}, {"params": plain, "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=hp.lr, **fused)
    return torch.optim.Adam(model.parameters(), lr=hp.lr, weight_decay=hp.weight_decay, **fused)


def stale_epochs(rule: str, stale: int, improved: bool, earlier: Sequence[Mapping[str, Any]],
                 record: Mapping[str, Any], split: str) -> int:
    """The epochs counted against the patience after ``record`` (the ``stale`` ones before it), by the
    training setting ``stop_rule`` (docs/MODELS.md §4.3).

    Args:
        improved: ``record`` raised the selection score.
        earlier: The records of the epochs before ``record``.
        split: The split the epochs are selected on (``"valid"``, ``"test"``; ``"last"`` has no
            metrics, so every rule counts as ``"selected_metric"`` there).
    """
    if rule == "selected_metric" or split not in record:
        return 0 if improved else stale + 1
    now, before = record[split], [epoch[split] for epoch in earlier if split in epoch]
    best = {name: max(metrics[name] for metrics in before) for name in now} if before else {}
    if rule == "any_metric":  # LESSR's code: any metric strictly better resets the count
        return 0 if not best or any(now[name] > best[name] for name in now) else stale + 1
    # the SR-GNN family's code: reaching the best HR@20 or MRR@20 (ties count) is no bad epoch; never reset
    reached = not best or now["HR@20"] >= best["HR@20"] or now["MRR@20"] >= best["MRR@20"]
    return stale if reached else stale + 1


def learning_rate(config: RunConfig, epoch: int) -> float:
    """Learning rate of 0-based ``epoch``: ``lr * gamma ** floor(epoch / step)`` (docs/MODELS.md §4.3).

    ``lr_step_offset = 1`` (the ``*_ref`` presets) reproduces the SR-GNN-family code's off-by-one:
    ``floor((epoch + 1) / step)``, because it steps the scheduler at the start of every epoch.
    """
    hp = config.training
    if hp.lr_step <= 0:
        return hp.lr
    return hp.lr * hp.lr_gamma ** ((epoch + hp.lr_step_offset) // hp.lr_step)


class Trainer:
    """Fits one model on one dataset and writes the run folder.

    The folder holds ``config.json`` (resolved config), ``epochs.csv`` and ``curves.png`` (the per-epoch
    log and its plot), ``metrics.json`` (per-epoch records, the
    selected epoch, test metrics at that epoch), ``test_ranks.npy`` (the selected model's rank of
    every test example, in test order, for paired tests), ``best.pt`` (weights of the selected epoch,
    loadable with ``torch.load(weights_only=True)``) and ``last.pt`` (full state for ``--resume``).
    Every file is written atomically. With ``tensorboard``, ``tensorboard/`` holds the epochs as
    TensorBoard event files too (:class:`~sbrzoo.curves.TensorBoardLog`).

    Args:
        config: The run's resolved configuration.
        dataset: Its data (already split).
        out_dir: The run folder.
        progress: Factory of progress reporters (see :func:`sbrzoo.progress.progress_bar`).
        tensorboard: Also write every epoch as TensorBoard scalars.

    Raises:
        ConfigError: ``tensorboard`` without the tensorboard package.
    """

    def __init__(self, config: RunConfig, dataset: SessionDataset, out_dir: Path,
                 progress: Callable | None = None, tensorboard: bool = False) -> None:
        self.config = config
        self.dataset = dataset
        self.out_dir = Path(out_dir)
        self.progress = progress or _silent_progress
        self.tensorboard = TensorBoardLog(self.out_dir / TENSORBOARD_DIR) if tensorboard else None
        self.device = torch.device(config.device)
        self.spec = get_spec(config.model)
        seed_everything(config.seed, deterministic=config.deterministic)
        self.model = create_model(config.model, dataset.num_items, config.settings).to(self.device)
        self.environment = environment_info(self.device)
        self.data_fingerprint = data_fingerprint(dataset)
        # False on the ranks > 0 of a distributed run (sbrzoo.distributed): they write nothing.
        self.is_writer = True
        self.engine: StaticEngine | None = None  # with --engine static, made by fit() once the optimizer exists

    # -- data ------------------------------------------------------------------------------------
    def _loader(self, examples: Examples, batches: list) -> Iterable:
        loader = make_loader(
            examples, self.dataset.num_items, self.spec.graph_kinds, self.config.backend, batches,
            num_workers=self.config.num_workers, pin_memory=self.device.type == "cuda",
        )
        if self.device.type == "cuda" and self.config.num_workers == 0:
            return prefetch_in_thread(loader)  # overlap collation with the GPU step
        return loader

    def evaluate(self, examples: Examples, label: str) -> MetricReport:
        """Full-ranking metrics of the current model on ``examples``."""
        batches = batch_indices(len(examples), self.config.eval_batch_size)
        with self.progress(f"eval {label}", len(examples)) as advance:
            return evaluate(self.model, self._loader(examples, batches), device=self.device, progress=advance)

    # -- training --------------------------------------------------------------------------------
    def fit(self, *, resume: bool = False, deadline: float | None = None) -> TrainResult:
        """Train (or fit, for non-neural baselines), select the epoch, evaluate the test set.

        Args:
            resume: Continue from ``last.pt`` (the last finished epoch).
            deadline: A :func:`time.monotonic` time. When the next epoch, as long as the last one,
                would end after it, training pauses after saving ``last.pt``: the result has
                ``paused=True`` and no test metrics, and ``fit(resume=True)`` continues it later.
        """
        if self.is_writer:
            try:
                self.out_dir.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise ConfigError(f"{self.out_dir}: cannot create the run folder ({error.strerror or error})") from None
            write_json_atomic(self.out_dir / "config.json", self.config.to_dict())
        started = time.perf_counter()
        self.model.fit_statistics(self.dataset.train)
        if not any(p.requires_grad for p in self.model.parameters()):
            return self._finish_without_training(time.perf_counter() - started)
        optimizer = build_optimizer(self.model, self.config)
        result, start_epoch, stale = self._new_result(), 0, 0
        if resume:
            result, start_epoch, stale = self._restore(optimizer)
        self.engine = self._static_engine(optimizer) if self.config.engine == "static" else None
        for epoch in range(start_epoch, self.config.training.epochs):
            if stale >= self.config.training.patience:
                break
            record = self._train_epoch(epoch, optimizer)
            score = self._select_score(record)
            improved = score > result.best_score or result.best_epoch is None
            stale = stale_epochs(self.config.training.stop_rule, stale, improved, result.epochs, record,
                                 self.config.select_on)
            if improved:
                result.best_score, result.best_epoch = score, epoch + 1
                self._save_best(epoch + 1)
            result.epochs.append(record)
            self._save_last(epoch + 1, optimizer, result, stale)
            self._write_record(result)
            log.info("epoch %d: %s", epoch + 1, _summary(record))
            more_to_do = epoch + 1 < self.config.training.epochs and stale < self.config.training.patience
            if more_to_do and deadline is not None and time.monotonic() + epoch_seconds(record) > deadline:
                log.info("pausing %s after epoch %d (time budget); resume to continue", self.out_dir, epoch + 1)
                result.paused = True
                return result
        return self._finish(result)

    def _train_epoch(self, epoch: int, optimizer: torch.optim.Optimizer) -> EpochRecord:
        config, hp = self.config, self.config.training
        lr = learning_rate(config, epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batches = batch_indices(len(self.dataset.train), hp.batch_size, shuffle_seed=[config.seed, epoch],
                                drop_last=hp.drop_last)
        if config.max_train_batches is not None:
            batches = batches[: config.max_train_batches]
        num_examples = sum(len(b) for b in batches)
        step_model, batches = self._rank_view(epoch, batches)  # one process: (model, batches)
        self.model.train()
        started = time.perf_counter()
        with self.progress(f"epoch {epoch + 1}/{hp.epochs}", sum(len(b) for b in batches)) as advance:
            if self.engine is not None:
                total_loss, first_bad_step = self.engine.run_epoch(batches, advance)
            else:
                total_loss, first_bad_step = self._eager_epoch(epoch, step_model, batches, optimizer, advance)
        self._stop_if_diverged(epoch, first_bad_step)
        seconds = time.perf_counter() - started
        record: EpochRecord = {
            "epoch": epoch + 1,
            "lr": lr,
            "train_loss": float(self._reduce_loss(total_loss)) / max(len(batches), 1),
            "train_examples": num_examples,
            "train_seconds": round(seconds, 3),
            "train_examples_per_s": round(num_examples / seconds, 1),
        }
        if self.dataset.valid is not None:
            report = self.evaluate(self.dataset.valid, "valid")
            record["valid"] = report.metrics
            record["valid_seconds"] = round(report.seconds, 3)
        if config.track_test or config.select_on == "test":
            report = self.evaluate(self.dataset.test, "test")
            record["test"] = report.metrics
            record["test_seconds"] = round(report.seconds, 3)
        return record

    def _eager_epoch(self, epoch: int, step_model: nn.Module, batches: list, optimizer: torch.optim.Optimizer,
                     advance: Callable[..., None]) -> tuple[torch.Tensor, torch.Tensor]:
        """Steps on collated batches; returns the summed loss and the first non-finite step (0: none)."""
        agc_parameters = clipped_parameters(self.model, self.spec, self.config.training)
        total_loss = torch.zeros((), device=self.device)
        first_bad_step = torch.zeros((), dtype=torch.long, device=self.device)  # 0: every loss finite so far
        for step, batch in enumerate(self._loader(self.dataset.train, batches), start=1):
            loss = train_step(step_model, batch.to(self.device, non_blocking=True), optimizer, self.config.training,
                              agc_parameters)
            total_loss += loss
            first_bad_step = first_non_finite(first_bad_step, loss, step)
            if step % _CHECK_EVERY == 0:  # one host sync every few steps, not one per step
                self._stop_if_diverged(epoch, first_bad_step)
            advance(batch.batch_size, loss=loss.detach() if step % 20 == 0 else None)
        return total_loss, first_bad_step

    def _static_engine(self, optimizer: torch.optim.Optimizer) -> StaticEngine:
        """The static-shape engine over the training split (CUDA graphs on CUDA)."""
        return StaticEngine(self.model, optimizer, self.dataset.train, self.dataset.num_items,
                            self.config.training.batch_size, self.config.training,
                            clipped_parameters(self.model, self.spec, self.config.training), self.device,
                            capture=self.device.type == "cuda")

    # -- what a distributed rank does differently (sbrzoo.distributed.DistributedTrainer) -----------
    def _rank_view(self, epoch: int, batches: list) -> tuple[Any, list]:
        """What computes the loss of ``batches`` on this process, and its share of them: the model and
        every batch here; a rank's DDP module and its slice of each batch in a distributed run."""
        return self.model, batches

    def _reduce_loss(self, total_loss: torch.Tensor) -> torch.Tensor:
        """The epoch's summed batch losses over every process (here: this one's)."""
        return total_loss

    def _from_writer(self, function: Callable[[], Any]) -> Any:  # noqa: ANN401 - what function returns
        """``function()`` (which reads the run folder) run by the process that writes the folder, its
        result handed to every process; here: just ``function()``."""
        return function()

    def _stop_if_diverged(self, epoch: int, first_bad_step: torch.Tensor) -> None:
        step = int(first_bad_step)
        if step:
            kept = (f"the last good checkpoint (after epoch {epoch}) is {self.out_dir / 'last.pt'}" if epoch
                    else "no epoch had finished, so there is no checkpoint")
            raise TrainingDiverged(f"the training loss became non-finite (nan or inf) at epoch {epoch + 1}, "
                                   f"step {step}; stopped, {kept}. Try a lower --lr")

    def _select_score(self, record: Mapping[str, Any]) -> float:
        if self.config.select_on == "last":
            return float(record["epoch"])
        split = record[self.config.select_on]
        if self.config.select_metric not in split:
            raise ConfigError(f"unknown selection metric {self.config.select_metric!r}; have {sorted(split)}")
        return split[self.config.select_metric]

    def _finish(self, result: TrainResult) -> TrainResult:
        if result.best_epoch is not None:
            path = self.out_dir / "best.pt"
            best = self._from_writer(lambda: load_checkpoint(path, keys={"state_dict": dict}, map_location=self.device))
            load_weights(self.model, best["state_dict"], path)
        report = self.evaluate(self.dataset.test, "test")
        result.test, result.test_report = {**report.metrics, "seconds": round(report.seconds, 3)}, report
        result.test_ties, result.test_pessimistic = report.ties, report.pessimistic
        if self.is_writer:
            report.warn_if_ties_matter(f"{self.config.model} on the test split")
            save_ranks(self.out_dir / RANKS_FILE, report.ranks)
        self._write_record(result, plot=True)
        return result

    def _new_result(self, **state: Any) -> TrainResult:  # noqa: ANN401
        return TrainResult(model=self.config.model, dataset=self.config.dataset, selected_on=self.config.select_on,
                           select_metric=self.config.select_metric, environment=self.environment,
                           data=self.data_fingerprint, **state)

    def _write_record(self, result: TrainResult, *, plot: bool = False) -> None:
        """``metrics.json`` and ``epochs.csv`` (and, with ``plot``, ``curves.png`` and the selected epoch's
        test metrics in TensorBoard) of the run so far."""
        if not self.is_writer:
            return
        record = result.record().to_dict()
        write_json_atomic(self.out_dir / METRICS_FILE, record)
        curves = RunCurves.from_dict(record)
        write_epochs_csv(curves, self.out_dir / EPOCHS_FILE)
        if plot and any("train_loss" in epoch for epoch in curves.epochs):
            plot_curves(curves, self.out_dir / CURVES_FILE, overwrite=True)
        if self.tensorboard is not None:
            self.tensorboard.write(curves, final=plot)

    def _finish_without_training(self, fit_seconds: float) -> TrainResult:
        """A model without trainable parameters (fitted by counting) has one "epoch" 0: its statistics,
        counted in ``fit_seconds`` (its ``train_seconds``), and their validation."""
        self._save_best(0)
        result = self._new_result(best_epoch=0)
        record: EpochRecord = {"epoch": 0, "train_seconds": round(fit_seconds, 3)}
        if self.dataset.valid is not None:
            report = self.evaluate(self.dataset.valid, "valid")
            record |= {"valid": report.metrics, "valid_seconds": round(report.seconds, 3)}
        result.epochs.append(record)
        return self._finish(result)

    # -- checkpoints -----------------------------------------------------------------------------
    def _save_best(self, epoch: int) -> None:
        if not self.is_writer:
            return
        save_torch_atomic(self.out_dir / "best.pt", {
            "state_dict": self.model.state_dict(),
            "model": self.config.model,
            "num_items": self.dataset.num_items,
            "epoch": epoch,
            "settings": dict(self.config.settings),
        })

    def _save_last(self, epoch: int, optimizer: torch.optim.Optimizer, result: TrainResult, stale: int) -> None:
        if not self.is_writer:
            return
        save_torch_atomic(self.out_dir / "last.pt", {
            "epoch": epoch,
            "model": self.model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "epochs": result.epochs,
            "best_epoch": result.best_epoch,
            "best_score": result.best_score,
            "stale": stale,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
        })

    def _restore(self, optimizer: torch.optim.Optimizer) -> tuple[TrainResult, int, int]:
        path = self.out_dir / "last.pt"
        state = self._from_writer(lambda: self._read_last(path))
        load_weights(self.model, state["model"], path)
        try:
            load_optimizer_state(optimizer, state["optimizer"])
        except (ValueError, KeyError, TypeError) as error:
            raise DataError(f"{path}: the optimizer state does not fit this model ({error})") from None
        torch.set_rng_state(state["torch_rng"].cpu())
        if state["cuda_rng"] is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda_rng"]])
        result = self._new_result(epochs=state["epochs"], best_epoch=state["best_epoch"],
                                  best_score=state["best_score"])
        log.info("resuming %s after epoch %d", self.out_dir, state["epoch"])
        return result, state["epoch"], state["stale"]

    def _read_last(self, path: Path) -> dict[str, Any]:
        if not path.is_file():
            raise ConfigError(f"{path}: no finished epoch to resume from")
        check_same_data(self.out_dir, self.data_fingerprint)
        return load_checkpoint(path, keys=_RESUME_KEYS, map_location=self.device)


def check_same_data(run_dir: Path, fingerprint: dict[str, Any]) -> None:
    """Refuse to continue or evaluate the run in ``run_dir`` on data other than it was trained on.

    Raises:
        DataError: listing what differs (files, sizes, checksums, example counts).
    """
    record = RunRecord.load(run_dir)  # None: nothing recorded yet; empty data: a run from before fingerprints
    differences = compare_fingerprints(record.data, fingerprint) if record is not None and record.data else []
    if differences:
        raise DataError(f"{run_dir} was trained on other data: {'; '.join(differences)}; "
                        "point --data-dir at the run's data")


def _summary(record: Mapping[str, Any]) -> str:
    parts = [f"loss {record['train_loss']:.4f}", f"{record['train_examples_per_s']:.0f} ex/s"]
    for split in ("valid", "test"):
        if split in record:
            parts.append(f"{split} HR@20 {record[split]['HR@20']:.2f} MRR@20 {record[split]['MRR@20']:.2f}")
    return ", ".join(parts)


@contextmanager
def _silent_progress(description: str, total: int) -> Iterator[Callable[..., None]]:
    yield lambda advance, **_: None
