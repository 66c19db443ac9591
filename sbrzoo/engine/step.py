"""The static-shape training engine: whole training steps on device-built batches, captured per shape.

An eager GPU step of TAGNN++ is ~1,000 small kernels launched one by one from Python, and the GPU
waits for the launches (docs/RESULTS.md). :class:`StaticEngine` removes the launch cost: each batch is
built on the device in one of a few padded shapes (:mod:`sbrzoo.engine.static_batch`), and on CUDA the
whole step of a shape -- batch building, forward, backward, AGC, optimizer update, loss bookkeeping --
is captured once as a CUDA graph and then replayed, one launch per step. Every input of a replay lives
in a fixed buffer (the batch's example ids and their count); every output (summed loss, first bad step)
accumulates in one, so the epoch runs without a host synchronisation.

On the CPU (and with ``capture=False``) the same step runs eagerly: that is what the tests check
against the eager trainer, and it runs at 0.91-1.22x the eager path's speed there (docs/RESULTS.md: padding
is wasted work when launches are cheap), so the trainer only uses it when asked (``--engine static``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from sbrzoo.data.examples import Examples
from sbrzoo.engine.static_batch import BatchShape, DeviceExamples, build_static_batch
from sbrzoo.presets import TrainingSettings
from sbrzoo.step import first_non_finite, train_step

__all__ = ["StaticEngine"]

log = logging.getLogger(__name__)


class StaticEngine:
    """Runs training epochs of static-shape steps over one split.

    Args:
        model: The model, on ``device``.
        optimizer: Its optimizer; on CUDA with ``capture``, built with ``capturable=True``.
        examples: The training examples (copied to ``device`` once).
        num_items: Largest item id.
        batch_size: Examples per step (the last batch of an epoch may be smaller).
        hp: Training settings (AGC's constants).
        agc_parameters: Parameters AGC clips, or None without AGC.
        device: Where batches are built and steps run.
        capture: Capture each shape's step as a CUDA graph (CUDA only).
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, examples: Examples, num_items: int,
                 batch_size: int, hp: TrainingSettings, agc_parameters: list[nn.Parameter] | None,
                 device: torch.device, *, capture: bool) -> None:
        if capture and device.type != "cuda":
            raise ValueError("CUDA graphs need a CUDA device")
        self.model, self.optimizer, self.hp, self.agc_parameters = model, optimizer, hp, agc_parameters
        self.batch_size, self.device, self.capture = batch_size, device, capture
        self.data = DeviceExamples(examples, num_items, device)
        # the step's inputs and outputs: fixed buffers, read and written in place by every replay
        self.indices = torch.zeros(batch_size, dtype=torch.long, device=device)
        self.num_real = torch.zeros((), dtype=torch.long, device=device)
        self.total_loss = torch.zeros((), dtype=next(model.parameters()).dtype, device=device)
        self.steps = torch.zeros((), dtype=torch.long, device=device)
        self.first_bad_step = torch.zeros((), dtype=torch.long, device=device)
        self.graphs: dict[BatchShape, torch.cuda.CUDAGraph] = {}
        self._captured_lr: list[float] = []
        self._pool = torch.cuda.graph_pool_handle() if capture else None

    def run_epoch(self, batches: Sequence[np.ndarray], advance: Callable[..., None]) -> tuple[Tensor, Tensor]:
        """Train on ``batches`` (arrays of example ids, each at most ``batch_size``).

        Returns:
            The summed batch losses and the 1-based step of the first non-finite loss (0 if none), both
            () tensors on the device: reading them is the epoch's only synchronisation.
        """
        lr = [group["lr"] for group in self.optimizer.param_groups]
        if lr != self._captured_lr:  # a captured optimizer step holds its learning rate: capture again
            self.graphs.clear()
            self._captured_lr = lr
        ids, counts = self._upload(batches)
        for buffer in (self.total_loss, self.steps, self.first_bad_step):
            buffer.zero_()
        for step, batch in enumerate(batches):
            shape = self.data.shape_for(batch, self.batch_size)
            self.indices.copy_(ids[step], non_blocking=True)
            self.num_real.copy_(counts[step], non_blocking=True)
            if self.capture:
                graph = self.graphs.get(shape) or self._capture(shape)
                graph.replay()
            else:
                self._step(shape)
            advance(len(batch))
        return self.total_loss, self.first_bad_step

    def _upload(self, batches: Sequence[np.ndarray]) -> tuple[Tensor, Tensor]:
        """Every batch's ids, right-padded to ``batch_size``, and its size: one copy to the device per epoch."""
        ids = np.zeros((len(batches), self.batch_size), dtype=np.int64)
        for row, batch in enumerate(batches):
            ids[row, : len(batch)] = batch
        counts = np.array([len(b) for b in batches], dtype=np.int64)
        return torch.from_numpy(ids).to(self.device), torch.from_numpy(counts).to(self.device)

    def _step(self, shape: BatchShape) -> None:
        """One training step on the batch in the input buffers, bookkept into the output buffers."""
        batch = build_static_batch(self.data, self.indices, self.num_real, shape)
        loss = train_step(self.model, batch, self.optimizer, self.hp, self.agc_parameters)
        self.steps += 1
        self.total_loss += loss
        self.first_bad_step.copy_(first_non_finite(self.first_bad_step, loss, self.steps))

    def _capture(self, shape: BatchShape) -> torch.cuda.CUDAGraph:
        """Capture the step of ``shape``. The warm-up step that capturing needs (it initialises the
        optimizer state and the libraries' workspaces) is undone: weights, optimizer state and the
        bookkeeping are restored in place (only the random numbers it drew stay drawn)."""
        saved = _snapshot(self.model, self.optimizer, (self.total_loss, self.steps, self.first_bad_step))
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            self._step(shape)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        self.optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph, pool=self._pool):
            self._step(shape)
        _restore(saved, self.optimizer)
        self.graphs[shape] = graph
        log.debug("captured the step of %s (%d shapes)", shape, len(self.graphs))
        return graph


def _snapshot(model: nn.Module, optimizer: torch.optim.Optimizer,
              buffers: Sequence[Tensor]) -> list[tuple[Tensor, Tensor]]:
    """``(tensor, copy)`` of every weight, optimizer-state tensor and buffer, to undo a step in place."""
    tensors = [*model.state_dict(keep_vars=True).values(), *buffers]
    tensors += [value for state in optimizer.state.values() for value in state.values() if torch.is_tensor(value)]
    return [(t.data if isinstance(t, nn.Parameter) else t, t.detach().clone()) for t in tensors]


@torch.no_grad()
def _restore(saved: list[tuple[Tensor, Tensor]], optimizer: torch.optim.Optimizer) -> None:
    """Undo to ``saved``; optimizer state created since starts from zero (Adam's and AdamW's fresh state)."""
    kept = {id(tensor) for tensor, _ in saved}
    for state in optimizer.state.values():
        for value in state.values():
            if torch.is_tensor(value) and id(value) not in kept:
                value.zero_()
    for tensor, copy in saved:
        tensor.copy_(copy)
