"""Full-ranking evaluation of a model over a loader of batches, on the model's device."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.metrics import MetricAccumulator, target_ranks

__all__ = ["MetricReport", "evaluate"]


@dataclass(frozen=True)
class MetricReport:
    """Metrics (percent), example count, wall time, tied targets, and every example's rank (CPU)."""

    metrics: dict[str, float]
    num_examples: int
    seconds: float
    ties: int
    ranks: Tensor

    def to_dict(self) -> dict[str, Any]:
        return {**self.metrics, "num_examples": self.num_examples, "seconds": round(self.seconds, 3),
                "ties": self.ties}


def evaluate(
    model: nn.Module,
    loader: Iterable[SessionBatch],
    *,
    device: torch.device | str = "cpu",
    ks: Sequence[int] = (10, 20),
    progress: Callable[..., None] | None = None,
) -> MetricReport:
    """Rank every target among all items with ``model`` in eval mode, without gradients.

    Scores, ranks and metric sums stay on ``device``; the host syncs once at the end.

    Args:
        progress: Called with the number of examples after each batch.
    """
    was_training = model.training
    model.eval()
    accumulator = MetricAccumulator(ks)
    started = time.perf_counter()
    try:
        with torch.inference_mode():
            for batch in loader:
                batch = batch.to(device, non_blocking=True)
                accumulator.add(*target_ranks(model(batch), batch.targets))
                if progress is not None:
                    progress(batch.batch_size)
        metrics = accumulator.result()
    finally:
        model.train(was_training)
    return MetricReport(metrics, accumulator.count, time.perf_counter() - started, accumulator.ties,
                        accumulator.ranks())
