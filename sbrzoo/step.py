"""One optimisation step, the same in the eager loop (:mod:`sbrzoo.trainer`) and the static engine
(:mod:`sbrzoo.engine.step`), and the bookkeeping of the first step whose loss was not finite."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from sbrzoo.agc import adaptive_clip_
from sbrzoo.data.batch import SessionBatch
from sbrzoo.presets import TrainingSettings

if TYPE_CHECKING:
    from sbrzoo.models import ModelSpec

__all__ = ["clipped_parameters", "train_step", "first_non_finite"]


def clipped_parameters(model: nn.Module, spec: ModelSpec, hp: TrainingSettings) -> list[nn.Parameter] | None:
    """The parameters Adaptive Gradient Clipping clips in training, or None where the model's spec asks
    for no AGC. The released TAGNN++ code builds its clipper but never calls it, so its
    reference-fidelity variants train without (docs/DECISIONS.md, P13)."""
    return model.agc_parameters(exclude_items=hp.agc_exclude_items) if spec.agc else None


def train_step(model: nn.Module, batch: SessionBatch, optimizer: torch.optim.Optimizer, hp: TrainingSettings,
               agc_parameters: list[nn.Parameter] | None) -> Tensor:
    """One optimisation step on a batch already on the model's device: loss, backward, Adaptive
    Gradient Clipping of ``agc_parameters`` (None: no AGC), optimizer step. Returns the detached loss."""
    loss = model.loss(batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if agc_parameters is not None:
        adaptive_clip_(agc_parameters, hp.agc_clipping, hp.agc_eps)
    optimizer.step()
    return loss.detach()


def first_non_finite(first_bad_step: Tensor, loss: Tensor, step: int | Tensor) -> Tensor:
    """``step`` if ``loss`` is the first non-finite loss of the epoch, else ``first_bad_step`` (0: none
    yet); on the device, so that the loop never waits for the host."""
    return torch.where((first_bad_step == 0) & ~torch.isfinite(loss), step, first_bad_step)
