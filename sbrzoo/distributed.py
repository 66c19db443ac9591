"""Data-parallel training on ``torch.distributed``: DistributedDataParallel, launched by ``torchrun``
(docs/DISTRIBUTED.md).

One process per device (gloo between CPU processes, NCCL between GPUs). Every optimisation step is
the one-process step on the same global batch:

* **Data.** Every rank draws the epoch's shuffled batches exactly as one process does
  (:func:`~sbrzoo.data.loader.batch_indices`, seeded ``[seed, epoch]``) and builds only its own
  contiguous slice of each of them (:func:`shard`); the graphs are collated per rank.
* **Gradients.** DDP averages the ranks' gradients. A rank's loss is the mean over its slice, so it
  is weighted by ``n_rank * world / n_batch`` first: the average of the weighted means is the mean
  over the whole batch, also for the unequal slices of a last, smaller batch. A batch with fewer
  examples than ranks goes whole to every rank (weight 1). AGC and the optimizer then run on every
  rank on the same averaged gradients, so the replicas stay identical.
* **BatchNorm** (LESSR) normalises with the statistics of the whole global batch
  (:class:`SyncBatchNorm`, which also runs on CPU, unlike ``torch.nn.SyncBatchNorm``).
* **Dropout** draws from a per-rank stream reseeded at every epoch from ``(seed, epoch, rank)``, so a
  resumed run continues as it would have.
* **Evaluation.** The evaluation batches are dealt out whole, round robin; the ranks' ranks are
  gathered and the metric sums are re-added batch by batch in example order, so the metrics and
  ``test_ranks.npy`` are exactly those of one process evaluating the same weights.
* **Files.** Rank 0 alone writes the run folder; what the others need from it (``last.pt`` to
  resume, ``best.pt`` at the end) rank 0 reads and broadcasts, so the folder may live on one node.
* **Failures.** A rank that fails reports itself (one line, its rank named, and the launcher's error
  file); a rank that loses a peer, or learns that rank 0 failed, waits silently for the launcher to
  stop it, so one message names the root cause.

What one process does with a model is unchanged: :class:`DistributedTrainer` is a
:class:`~sbrzoo.trainer.Trainer` that fills in its per-rank hooks.

A model that keeps training-time state outside its parameters other than BatchNorm statistics (CSRM's
memory of recent sessions) trains with that state per rank; rank 0's copy is broadcast before every
evaluation and is the one saved, so its runs are data-parallel but not the one-process optimisation.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from sbrzoo.config import RunConfig
from sbrzoo.data.dataset import SessionDataset
from sbrzoo.data.examples import Examples
from sbrzoo.data.loader import batch_indices
from sbrzoo.errors import ConfigError, SbrzooError
from sbrzoo.evaluator import MetricReport
from sbrzoo.evaluator import evaluate as evaluate_loader
from sbrzoo.metrics import MetricAccumulator
from sbrzoo.trainer import Trainer, TrainResult

__all__ = ["Context", "DistributedTrainer", "SyncBatchNorm", "StoppedByPeer", "convert_batch_norms", "exit_job",
           "init", "launch", "launched", "rank_seed", "shard", "shard_batches", "worker"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How long a rank that lost a peer waits for the launcher to stop it before it exits by itself.
STOP_WAIT_SECONDS = 60.0
#: Set by :func:`launch` in its workers: the launcher reports a failure, the failing rank stays quiet.
LAUNCHER_ENV = "SBRZOO_DISTRIBUTED_LAUNCHER"
_PEER_LOST = ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "Connection refused")


class StoppedByPeer(SbrzooError):
    """Another rank failed (it reports why); this one stops without a message of its own."""


@dataclass(frozen=True)
class Context:
    """This process's place in the job.

    Attributes:
        rank, world_size: Global rank and number of processes.
        local_rank: Rank on this machine (its GPU index).
        group: The process group of the training tensors (NCCL on CUDA); None: the default (gloo)
            group, which also carries every Python object.
        backend: ``"gloo"`` or ``"nccl"``: what the gradients travel on.
    """

    rank: int
    world_size: int
    local_rank: int
    group: Any = None  # noqa: ANN401 - a ProcessGroup
    backend: str = "gloo"

    @property
    def is_main(self) -> bool:
        return self.rank == 0


# -- process group -----------------------------------------------------------------------------------
def launched() -> bool:
    """Whether this process is a worker started by ``torchrun`` (or ``sbrzoo train --nproc``)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and "MASTER_ADDR" in os.environ


def init(*, init_method: str | None = None, rank: int | None = None, world_size: int | None = None,
         timeout_minutes: float = 30.0) -> Context:
    """Join the job: a gloo default group (torchrun's environment unless ``init_method``, ``rank`` and
    ``world_size`` are given, e.g. ``file://`` for tests). :func:`use_device` adds NCCL for GPUs."""
    if not dist.is_available():
        raise ConfigError("this torch build has no torch.distributed")
    if not dist.is_initialized():
        placed = {} if rank is None else {"rank": rank, "world_size": world_size}
        dist.init_process_group("gloo", init_method=init_method, timeout=timedelta(minutes=timeout_minutes),
                                **placed)
    local_rank = int(os.environ.get("LOCAL_RANK", dist.get_rank() if rank is None else rank))
    return Context(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank)


def use_device(context: Context, device: str) -> tuple[Context, str]:
    """Place this rank on ``device``: CPU stays ``"cpu"`` on gloo; ``cuda`` / ``cuda:N`` becomes
    ``"cuda"`` on GPU ``local_rank`` (the current device) with an NCCL group for the gradients.

    Returns:
        ``(context, device)``: the context with its tensor group, the device name for the run config.
    """
    if torch.device(device).type != "cuda":
        return replace(context, group=None, backend="gloo"), device
    if context.local_rank >= torch.cuda.device_count():
        raise ConfigError(f"rank {context.rank} has local rank {context.local_rank} but this machine has "
                          f"{torch.cuda.device_count()} CUDA device(s); start at most that many processes per node")
    torch.cuda.set_device(context.local_rank)
    return replace(context, group=dist.new_group(backend="nccl"), backend="nccl"), "cuda"


def exit_job() -> NoReturn:
    """End this process after its part of a job succeeded: wait for every rank (a barrier), flush
    the outputs and exit with status 0 at once, leaving the connections to the operating system.

    It does not destroy the process group. In torch 2.2 the gloo group's destructor joins gloo's
    worker threads while it holds the GIL, and a worker thread still releasing the tensors of the
    last collective (the evaluation's ``all_gather_object``) waits for the GIL: a deadlock, which
    left rank 0 hanging after it had printed its results in about one exit in five on 2 CPU cores,
    with or without a barrier before ``destroy_process_group``.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def from_rank0(context: Context, function: Callable[[], T]) -> T:
    """``function()`` run on rank 0 only, its result given to every rank (tensors on the CPU).

    An exception on rank 0 is raised there as is; the other ranks raise :class:`StoppedByPeer`.
    """
    payload: list[Any] = [None]
    error: BaseException | None = None
    if context.is_main:
        try:
            payload[0] = ("ok", _to_cpu(function()))
        except Exception as caught:  # noqa: BLE001 - re-raised below, after the others know
            error, payload[0] = caught, ("error", f"{type(caught).__name__}: {caught}")
    if context.world_size > 1:
        dist.broadcast_object_list(payload, src=0)
    if error is not None:
        raise error
    kind, value = payload[0]
    if kind == "error":
        raise StoppedByPeer(f"rank 0 failed: {value}")
    return value


def _to_cpu(value: Any) -> Any:  # noqa: ANN401 - a checkpoint's containers
    if isinstance(value, Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_to_cpu(v) for v in value)
    return value


# -- data ----------------------------------------------------------------------------------------------
def shard(batch: np.ndarray, rank: int, world_size: int) -> tuple[np.ndarray, float]:
    """Rank ``rank``'s contiguous slice of a global ``batch`` and its loss weight ``n_rank * world / n``.

    Slices differ in size by at most one. A batch smaller than the world goes whole to every rank
    (weight 1): the average of identical gradients is that gradient.
    """
    size = len(batch)
    if size < world_size:
        return batch, 1.0
    part = batch[size * rank // world_size: size * (rank + 1) // world_size]
    return part, len(part) * world_size / size


def shard_batches(batches: Sequence[np.ndarray], rank: int, world_size: int) -> tuple[list[np.ndarray], list[float]]:
    """:func:`shard` of every batch: ``(this rank's slices, their loss weights)``."""
    shards = [shard(batch, rank, world_size) for batch in batches]
    return [s for s, _ in shards], [w for _, w in shards]


def rank_seed(seed: int, epoch: int, rank: int) -> int:
    """The torch seed of ``rank`` in 0-based ``epoch`` (dropout), from ``(seed, epoch, rank)``."""
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1, dtype=np.uint64)[0]) >> 1


# -- BatchNorm over the global batch ------------------------------------------------------------------
class SyncBatchNorm(_BatchNorm):
    """BatchNorm whose training statistics are those of the whole global batch, on every device.

    Two differentiable all-reduces per call (the sum and count, then the squared deviations), so the
    gradient also flows through the other ranks' statistics. In eval mode, or in a world of one, it is
    the BatchNorm it replaced. Same parameters, buffers and ``state_dict`` keys as that BatchNorm.
    """

    def __init__(self, source: _BatchNorm, group: Any = None) -> None:  # noqa: ANN401 - a ProcessGroup
        super().__init__(source.num_features, source.eps, source.momentum, source.affine, source.track_running_stats,
                         device="meta")
        self.weight, self.bias = source.weight, source.bias
        self.running_mean, self.running_var = source.running_mean, source.running_var
        self.num_batches_tracked = source.num_batches_tracked
        self.training = source.training
        self.group = group

    def _check_input_dim(self, input: Tensor) -> None:  # noqa: A002 - torch's name
        if input.dim() < 2:
            raise ValueError(f"expected 2D or more input (got {input.dim()}D input)")

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - torch's name
        from torch.distributed.nn import functional as dist_nn

        self._check_input_dim(input)
        if not self.training or not dist.is_initialized() or dist.get_world_size(self.group) == 1:
            return super().forward(input)
        dims = [0, *range(2, input.dim())]
        shape = [1, -1] + [1] * (input.dim() - 2)
        group = dist.group.WORLD if self.group is None else self.group
        count = torch.tensor([input.numel() // input.shape[1]], dtype=input.dtype, device=input.device)
        totals = dist_nn.all_reduce(torch.cat([input.sum(dims), count]), group=group)
        total = totals[-1]
        mean = totals[:-1] / total
        centred = input - mean.reshape(shape)
        var = dist_nn.all_reduce((centred * centred).sum(dims), group=group) / total
        out = centred * torch.rsqrt(var + self.eps).reshape(shape)
        if self.affine:
            out = out * self.weight.reshape(shape) + self.bias.reshape(shape)
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach(), total.detach())
        return out

    @torch.no_grad()
    def _update_running_stats(self, mean: Tensor, var: Tensor, total: Tensor) -> None:
        """As ``torch.nn.BatchNorm``: momentum average (cumulative when momentum is None), unbiased var."""
        # called only with track_running_stats, where _NormBase registers these buffers as tensors
        assert self.num_batches_tracked is not None and self.running_mean is not None and self.running_var is not None
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        unbiased = var * total / (total - 1).clamp_min(1)
        self.running_mean.mul_(1 - factor).add_(mean.to(self.running_mean.dtype), alpha=factor)
        self.running_var.mul_(1 - factor).add_(unbiased.to(self.running_var.dtype), alpha=factor)


def convert_batch_norms(module: nn.Module, group: Any = None) -> int:  # noqa: ANN401 - a ProcessGroup
    """Replace every BatchNorm below ``module`` by a :class:`SyncBatchNorm` holding its tensors; returns how many."""
    converted = 0
    for name, child in module.named_children():
        if isinstance(child, _BatchNorm) and not isinstance(child, (SyncBatchNorm, nn.SyncBatchNorm)):
            setattr(module, name, SyncBatchNorm(child, group))
            converted += 1
        else:
            converted += convert_batch_norms(child, group)
    return converted


# -- training ------------------------------------------------------------------------------------------
class _RankLoss(nn.Module):
    """What DDP wraps: the model's loss on this rank's slice, times the slice's weight (:func:`shard`).
    DDP's gradient hooks are armed by its ``forward``, so the loss must be computed through it.

    Some parameters idle in some steps (LESSR's EOPA GRU on a slice without edges; the ``*_ref``
    variants' parameters that the released code never uses), so DDP looks for unused parameters at
    every step; a parameter left unused on every rank keeps no gradient, as in one process. ``idle``
    is never used, not even by the optimizer: DDP always finds it, so it does not warn that its search
    found nothing.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.idle = nn.Parameter(torch.zeros((), device=next(model.parameters()).device))

    def forward(self, batch: Any, weight: float) -> Tensor:  # noqa: ANN401 - a SessionBatch
        loss = self.model.loss(batch)
        return loss if weight == 1.0 else loss * weight


class _StepModel:
    """Stands in for the model in :func:`~sbrzoo.trainer.train_step`: ``loss(batch)`` through DDP, with the
    weight of each step's slice in turn."""

    def __init__(self, ddp: nn.Module, weights: Sequence[float]) -> None:
        self.ddp = ddp
        self._weights = iter(weights)

    def loss(self, batch: Any) -> Tensor:  # noqa: ANN401 - a SessionBatch
        return self.ddp(batch, next(self._weights))


class DistributedTrainer(Trainer):
    """A :class:`~sbrzoo.trainer.Trainer` on one rank of a data-parallel job (module docstring).

    Every rank builds it with the same config and data; rank 0 writes the run folder. ``config.device``
    is ``"cpu"`` or ``"cuda"`` (the rank's GPU, see :func:`use_device`).

    Args:
        context: This rank (from :func:`init` and :func:`use_device`).
        progress: Used on rank 0 only.
        tensorboard: Rank 0 writes TensorBoard event files too.
    """

    def __init__(self, config: RunConfig, dataset: SessionDataset, out_dir: Path, context: Context,
                 progress: Callable | None = None, tensorboard: bool = False) -> None:
        super().__init__(config, dataset, out_dir, progress=progress if context.is_main else None,
                         tensorboard=tensorboard)
        self.context = context
        self.is_writer = context.is_main
        if self.device.type == "cuda":
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.environment = {**self.environment, "distributed": {"world_size": context.world_size,
                                                                "backend": context.backend}}
        if context.world_size > 1:
            convert_batch_norms(self.model, context.group)
        self._ddp: nn.Module | None = None

    def fit(self, *, resume: bool = False, deadline: float | None = None) -> TrainResult:
        if deadline is not None:  # the ranks' clocks would not agree on when to pause
            raise ConfigError("a distributed run cannot pause at a deadline; stop it and --resume instead")
        if self.config.engine != "eager":  # reached under torchrun; `sbrzoo train --nproc` refuses it earlier
            raise ConfigError("--engine static trains in one process; use --engine eager with torchrun")
        return super().fit(resume=resume)

    def ddp(self) -> nn.Module:
        """The DDP module around the model's loss (built at the first epoch, after any restore)."""
        if self._ddp is None:
            from torch.nn.parallel import DistributedDataParallel

            self._ddp = DistributedDataParallel(
                _RankLoss(self.model),
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                process_group=self.context.group,
                broadcast_buffers=False,  # BatchNorm statistics agree already; other buffers: see evaluate
                find_unused_parameters=True,  # LESSR's GRU idles on a batch without edges; *_ref variants
            )
        return self._ddp

    # -- Trainer hooks ---------------------------------------------------------------------------------
    def _rank_view(self, epoch: int, batches: list[np.ndarray]) -> tuple[Any, list[np.ndarray]]:
        torch.manual_seed(rank_seed(self.config.seed, epoch, self.context.rank))
        shards, weights = shard_batches(batches, self.context.rank, self.context.world_size)
        return _StepModel(self.ddp(), weights), shards

    def _reduce_loss(self, total_loss: Tensor) -> Tensor:
        total = total_loss.detach().clone()
        dist.all_reduce(total, group=self.context.group)
        return total / self.context.world_size

    def _from_writer(self, function: Callable[[], T]) -> T:
        return from_rank0(self.context, function)

    def evaluate(self, examples: Examples, label: str) -> MetricReport:
        """The one-process evaluation of ``examples``, computed on every rank's share of the batches."""
        rank, world = self.context.rank, self.context.world_size
        started = time.perf_counter()
        self._broadcast_buffers()
        batches = batch_indices(len(examples), self.config.eval_batch_size)
        mine = batches[rank::world]
        ranks = pessimistic_ranks = torch.zeros(0, dtype=torch.long)
        if mine:
            with self.progress(f"eval {label}", sum(len(b) for b in mine)) as advance:
                report = evaluate_loader(self.model, self._loader(examples, mine), device=self.device,
                                         progress=advance)
            ranks, pessimistic_ranks = report.ranks, report.pessimistic_ranks
        gathered: list[Any] = [None] * world
        dist.all_gather_object(gathered, (ranks, pessimistic_ranks))
        return _merge_reports(gathered, [len(b) for b in batches], self.device, started)

    def _broadcast_buffers(self) -> None:
        """Rank 0's buffers to every rank, where training may have moved them (CSRM's memory; BatchNorm
        statistics are equal anyway). A model fitted by counting has the same buffers everywhere."""
        if self.context.world_size > 1 and any(p.requires_grad for p in self.model.parameters()):
            for buffer in self.model.buffers():
                dist.broadcast(buffer, 0, group=self.context.group)


def _merge_reports(gathered: Sequence[tuple[Tensor, Tensor]], batch_sizes: Sequence[int], device: torch.device,
                   started: float) -> MetricReport:
    """One report from the ranks' ``(optimistic ranks, pessimistic ranks)``; rank ``r`` evaluated
    batches ``r, r + world, ...``.

    The metric sums are re-added batch by batch in batch order, as one process adds them, so the
    floating-point results are the same to the last bit.
    """
    world = len(gathered)
    pieces: list[tuple[Tensor, Tensor] | None] = [None] * len(batch_sizes)
    for rank, (optimistic, pessimistic) in enumerate(gathered):
        indices = range(rank, len(batch_sizes), world)
        sizes = [batch_sizes[i] for i in indices]
        for index, optimistic_piece, pessimistic_piece in zip(
                indices, torch.split(optimistic, sizes), torch.split(pessimistic, sizes), strict=True):
            pieces[index] = (optimistic_piece, pessimistic_piece)
    accumulator = MetricAccumulator()
    for piece in pieces:
        assert piece is not None  # the ranks' batches r, r + world, ... cover every batch
        optimistic, pessimistic = piece
        accumulator.add(optimistic.to(device), pessimistic.to(device))
    return MetricReport(accumulator.result(), accumulator.num_examples, time.perf_counter() - started,
                        accumulator.ranks(), accumulator.pessimistic_ranks())


def run_training(context: Context, config: RunConfig, out_dir: Path, *, resume: bool = False,
                 dataset: SessionDataset, progress: Callable | None = None, tensorboard: bool = False) -> TrainResult:
    """:func:`sbrzoo.experiment.run_training` on this rank of the job."""
    return DistributedTrainer(config, dataset, out_dir, context, progress=progress,
                              tensorboard=tensorboard).fit(resume=resume)


# -- processes -----------------------------------------------------------------------------------------
@contextmanager
def worker() -> Iterator[Context]:
    """This torchrun worker's job, and the reporting of its failures (module docstring). When the
    job succeeds the process ends there (:func:`exit_job`): nothing after the ``with`` block runs.

    A :class:`~sbrzoo.errors.SbrzooError` is re-raised naming the rank (under ``sbrzoo train --nproc``
    the launcher says it instead); a lost peer or rank 0's failure waits to be stopped; any other
    exception keeps its traceback. Each failure is written to torchrun's error file first.
    """
    context = init()
    if not context.is_main:  # one log of the run: rank 0's
        logging.getLogger("sbrzoo").setLevel(max(logging.WARNING, logging.getLogger("sbrzoo").level))
    try:
        yield context
        exit_job()  # inside the try: a peer that failed after the last collective is a lost peer here too
    except BaseException as error:
        if isinstance(error, SystemExit) and not error.code:
            raise
        _stop_on(error, context)
        raise


def _stop_on(error: BaseException, context: Context) -> None:
    """What :func:`worker` does with ``error`` on ``context``'s rank; returns to re-raise it unchanged."""
    where = f"rank {context.rank} of {context.world_size}"
    if isinstance(error, StoppedByPeer) or _peer_lost(error):
        log.debug("%s: %s", where, error)
        _wait_to_be_stopped()
        raise SystemExit(1) from None
    if isinstance(error, KeyboardInterrupt) or getattr(error, "exit_code", None) == 130:
        if not context.is_main:
            raise SystemExit(130) from None
        return
    message = _user_error(error)
    _write_error_file(f"{where}: {message if message is not None else f'{type(error).__name__}: {error}'}")
    if message is not None:  # one line, as the CLI reports it; under `sbrzoo train --nproc` the launcher says it
        code = error.exit_code if isinstance(error, SbrzooError) else 1  # the CLI exits 1 on click's errors too
        if os.environ.get(LAUNCHER_ENV):
            raise SystemExit(code) from None
        prefixed = SbrzooError(f"{where}: {message}")
        prefixed.exit_code = code
        raise prefixed from None


def _user_error(error: BaseException) -> str | None:
    """The one-line message of an error the user can fix (sbrzoo's or click's); None for anything else."""
    import click

    if isinstance(error, SbrzooError):
        return str(error)
    if isinstance(error, click.ClickException):
        return error.format_message()
    return None


def _peer_lost(error: BaseException) -> bool:
    """A collective failed because another process went away (it reports its own failure)."""
    return isinstance(error, RuntimeError) and any(text in str(error) for text in _PEER_LOST)


def _wait_to_be_stopped() -> None:
    """Sleep until the launcher, which has seen the failed rank, terminates this one (bounded)."""
    if os.environ.get("TORCHELASTIC_RUN_ID"):
        time.sleep(STOP_WAIT_SECONDS)
    sys.stderr.write("stopped: another rank of the job failed\n")


def _write_error_file(message: str) -> None:
    """The message torchrun shows as the failure's root cause (its ``TORCHELASTIC_ERROR_FILE``)."""
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if path:
        with suppress(OSError):
            Path(path).write_text(json.dumps({"message": message, "timestamp": int(time.time())}))


def without_option(argv: Sequence[str], option: str) -> list[str]:
    """``argv`` without ``option VALUE`` / ``option=VALUE``."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == option:
            skip = True
        elif not arg.startswith(option + "="):
            out.append(arg)
    return out


def launch(nproc: int, command: Sequence[str], *, verbose: bool = False) -> None:
    """``torchrun --standalone --nproc-per-node nproc *command`` in this process (one machine), e.g.
    ``command = ["-m", "sbrzoo.cli", "train", ...]``.

    CPU workers get ``OMP_NUM_THREADS = cores // nproc`` unless it is set. torchrun's own logging is
    silenced unless ``verbose``; a failure becomes one :class:`~sbrzoo.errors.SbrzooError` naming the
    rank that failed first and its message.

    Raises:
        SbrzooError: a worker failed (every worker was stopped).
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    os.environ[LAUNCHER_ENV] = "1"
    if not verbose:  # torch's elastic loggers set their own levels, so each one is quieted
        for name in list(logging.root.manager.loggerDict):
            if name.startswith("torch.distributed"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
    args = get_args_parser().parse_args(["--standalone", "--nproc-per-node", str(nproc), "--monitor-interval", "1",
                                         *command])
    try:
        run(args)
    except SignalException:  # Ctrl-C or a kill: the workers were stopped, rank 0 said how to resume
        raise SystemExit(130) from None
    except ChildFailedError as failure:
        rank, first = failure.get_first_failure()
        if first.exitcode == 130 or first.exitcode == -2:
            raise SystemExit(130) from None
        recorded = first.error_file_data.get("message") not in (None, "<NONE>")
        message = first.message if recorded else (
            f"rank {rank} of {nproc} exited with code {first.exitcode}"
            + (f" ({first.message})" if first.exitcode < 0 else "; its output above says why"))
        error = SbrzooError(f"{message}; all {nproc} processes were stopped")
        error.exit_code = first.exitcode if 0 < first.exitcode < 128 else 1
        raise error from None
