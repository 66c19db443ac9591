"""Full-ranking evaluation of a model over a loader of :class:`SessionBatch` (docs/MODELS.md §5).

Every item ``1..N`` is ranked for every example; see :mod:`sbrzoo.metrics` for the formulas, the
tie policy (optimistic rank, pessimistic when it differs) and the NaN policy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.metrics import MetricAccumulator, metrics_from_ranks

__all__ = ["MetricReport", "evaluate", "TIE_WARNING_POINTS"]

logger = logging.getLogger(__name__)

# HR@K points between optimistic and pessimistic ranks above which a result depends on tie-breaking
TIE_WARNING_POINTS = 0.1


@dataclass(frozen=True)
class MetricReport:
    """The result of :func:`evaluate`.

    Attributes:
        metrics: ``"HR@20"``, ``"MRR@20"``, ``"NDCG@20"``, ``"HR@10"``, ... -> mean in percent.
        num_examples: Examples evaluated.
        seconds: Wall time of the whole evaluation, the final device sync included.
        ranks: (num_examples,) CPU int64 optimistic rank of every example, in loader order
            (for paired tests between models).
        pessimistic_ranks: (num_examples,) CPU int64 pessimistic rank of every example, in the same
            order: above ``ranks`` where the target shares its score with other items.
    """

    metrics: dict[str, float]
    num_examples: int
    seconds: float
    ranks: Tensor
    pessimistic_ranks: Tensor

    @property
    def ties(self) -> int:
        """Examples whose target shares its score with another item."""
        return int((self.pessimistic_ranks != self.ranks).sum())

    @property
    def pessimistic(self) -> dict[str, float]:
        """The metrics of the pessimistic ranks (ties count against the target): ``metrics`` itself
        where no target ties."""
        if not self.ties:
            return dict(self.metrics)
        return metrics_from_ranks(self.pessimistic_ranks, sorted({int(name.split("@")[1]) for name in self.metrics}))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``{**metrics, "num_examples", "seconds", "ties"}`` (no ranks)."""
        return {
            **self.metrics,
            "num_examples": self.num_examples,
            "seconds": round(self.seconds, 3),
            "ties": self.ties,
        }

    def warn_if_ties_matter(self, label: str) -> None:
        """Log a warning when tie-breaking moves HR@K (largest K) by more than
        :data:`TIE_WARNING_POINTS`: the optimistic figure then flatters the model."""
        name = next(iter(self.metrics))  # HR at the largest K
        optimistic, pessimistic = self.metrics[name], self.pessimistic[name]
        if optimistic - pessimistic > TIE_WARNING_POINTS:
            logger.warning("%s: %d of %d targets share their score with other items; %s is %.2f with ties "
                           "counted against the target (%.2f reported, ties in its favour)", label, self.ties,
                           self.num_examples, name, pessimistic, optimistic)


def evaluate(
    model: nn.Module,
    loader: Iterable[SessionBatch],
    *,
    device: torch.device | str = "cpu",
    ks: Sequence[int] = (10, 20),
    progress: Callable[[int], object] | None = None,
) -> MetricReport:
    """Rank every target among all items with ``model`` in eval mode, under inference mode.

    Each batch is moved to ``device`` (``non_blocking``); logits ``model(batch)`` (B, N), ranks and
    metric sums stay there, and the host syncs once at the end. The model must already be on
    ``device``. The train/eval mode of the model and of each of its submodules is restored
    afterwards, also when an exception escapes.

    Args:
        model: Maps a :class:`SessionBatch` to (B, N) logits, column ``k`` for item ``k + 1``.
        loader: Batches with ``targets`` (item ids ``1..N``), in a fixed order.
        device: Where the batches go and the ranks are computed.
        ks: Cut-offs ``K`` of HR/MRR/NDCG.
        progress: Called with the number of examples of each batch after it is added
            (e.g. a progress bar's ``advance``).

    Returns:
        A :class:`MetricReport`.

    Raises:
        ValueError: A batch has no targets, the logits are not (B, N) (N: the model's ``num_items``, where
            it has one; else the targets must lie in ``1..width``), or the loader is empty.
    """
    device = torch.device(device)
    num_items = getattr(model, "num_items", None)
    modes = [(module, module.training) for module in model.modules()]
    accumulator = MetricAccumulator(ks)
    started = time.perf_counter()
    try:
        model.eval()
        with torch.inference_mode():
            for index, batch in enumerate(loader):
                if batch.targets is None:
                    raise ValueError(f"batch {index} has no targets; evaluation needs them")
                batch = batch.to(device, non_blocking=True)
                assert batch.targets is not None  # checked above; to() moves them
                logits = model(batch)
                if num_items is not None and logits.shape[1:] != (num_items,):
                    raise ValueError(f"batch {index}: the model scored {tuple(logits.shape)}, not (B, {num_items}) "
                                     "for its catalogue of items 1..N")
                accumulator.add_logits(logits, batch.targets)
                if progress is not None:
                    progress(batch.batch_size)
        metrics = accumulator.result()  # the one host sync
        ranks, pessimistic_ranks = accumulator.ranks(), accumulator.pessimistic_ranks()
    finally:
        model.train(modes[0][1])
        for module, training in modes:
            module.training = training
    seconds = time.perf_counter() - started
    if accumulator.nan_targets:
        logger.warning(
            "%d of %d examples had a NaN target score (ranked last); the model may have diverged",
            accumulator.nan_targets, accumulator.num_examples,
        )
    return MetricReport(metrics, accumulator.num_examples, seconds, ranks, pessimistic_ranks)
