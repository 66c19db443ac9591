"""Ranking metrics by full ranking over every item (MODELS.md §5).

Tie policy: the optimistic rank ``1 + #{k : z_k > z_target}`` equals the reference code's
``torch.topk`` result whenever no other item has exactly the target's score; the pessimistic rank
``#{k : z_k >= z_target}`` is also computed and the number of examples where the two differ is
reported as ``ties``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["target_ranks", "metrics_from_ranks", "MetricAccumulator"]


def target_ranks(logits: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """Optimistic and pessimistic 1-based rank of each target among all items.

    Args:
        logits: (B, N) scores, column ``k`` for item ``k + 1``.
        targets: (B,) item ids ``1..N``.

    Returns:
        ``(optimistic, pessimistic)``, each (B,) int64.

    Raises:
        ValueError: the logits contain NaN (a NaN target score would otherwise rank first).
    """
    if torch.isnan(logits).any():
        raise ValueError("logits contain NaN; the model diverged")
    target_score = logits.gather(1, (targets - 1).view(-1, 1))
    optimistic = (logits > target_score).sum(1) + 1
    pessimistic = (logits >= target_score).sum(1)
    return optimistic, pessimistic


def _per_example(ranks: Tensor, k: int) -> dict[str, Tensor]:
    hit = ranks <= k
    ranks = ranks.to(torch.float64)
    return {
        f"HR@{k}": hit.to(torch.float64),
        f"MRR@{k}": torch.where(hit, 1.0 / ranks, torch.zeros_like(ranks)),
        f"NDCG@{k}": torch.where(hit, 1.0 / torch.log2(1.0 + ranks), torch.zeros_like(ranks)),
    }


def metrics_from_ranks(ranks: Tensor, ks: Sequence[int] = (10, 20)) -> dict[str, float]:
    r"""Means over examples, in percent.

    .. math::
        HR@K = [r \le K], \quad MRR@K = [r \le K] / r, \quad NDCG@K = [r \le K] / \log_2(1 + r)
    """
    accumulator = MetricAccumulator(ks)
    accumulator.add(ranks, ranks)
    return accumulator.result()


class MetricAccumulator:
    """Sums per-example metrics on the ranks' device across batches; one host sync in :meth:`result`.

    Args:
        ks: Cut-offs ``K``.
    """

    def __init__(self, ks: Sequence[int] = (10, 20)) -> None:
        self.ks = tuple(ks)
        self._totals: dict[str, Tensor] = {}
        self._ranks: list[Tensor] = []
        self._ties: Tensor | None = None
        self.count = 0

    def add(self, optimistic: Tensor, pessimistic: Tensor) -> None:
        """Add one batch of ranks, each (B,)."""
        for k in self.ks:
            for name, values in _per_example(optimistic, k).items():
                self._totals[name] = self._totals.get(name, 0) + values.sum()
        ties = (pessimistic != optimistic).sum()
        self._ties = ties if self._ties is None else self._ties + ties
        self._ranks.append(optimistic)
        self.count += len(optimistic)

    def result(self) -> dict[str, float]:
        """Metric name (``"HR@20"``, ``"MRR@20"``, ``"NDCG@20"``, ...) -> mean in percent."""
        if not self.count:
            raise ValueError("no examples were evaluated")
        order = sorted(self._totals, key=lambda n: (-int(n.split("@")[1]), n))
        return {name: float(self._totals[name]) * 100.0 / self.count for name in order}

    @property
    def ties(self) -> int:
        """Examples whose target shares its score with another item."""
        return 0 if self._ties is None else int(self._ties)

    def ranks(self) -> Tensor:
        """Optimistic rank of every example so far, in order, on the CPU (for paired tests)."""
        return torch.cat(self._ranks).cpu() if self._ranks else torch.zeros(0, dtype=torch.long)
