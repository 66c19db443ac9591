r"""Full-ranking metrics: every item ``1..N`` is a candidate (docs/MODELS.md §5, §9.5).

For one example with logits :math:`z \in \mathbb{R}^N` (column ``k`` is item ``k + 1``) and target
item :math:`y`, let :math:`t = z_{y-1}` be the target's score:

.. math::
    r_{opt} = 1 + \#\{k : z_k > t\}, \qquad r_{pes} = \#\{k : z_k \ge t\}

    \mathrm{HR@K} = [r \le K], \quad
    \mathrm{MRR@K} = \frac{[r \le K]}{r}, \quad
    \mathrm{NDCG@K} = \frac{[r \le K]}{\log_2(1 + r)}

Metrics are means over all examples, in percent (×100), computed from the optimistic rank.

Tie policy: the optimistic rank equals the reference code's ``torch.topk`` position whenever no
other item has exactly the target's score (``topk`` breaks exact ties in an unspecified order).
The pessimistic rank is kept as well; the examples where the two differ (the target shares its
score with at least one other item) are counted as ``ties``, and the metrics of the pessimistic
ranks are reported beside the optimistic ones (:attr:`sbrzoo.evaluator.MetricReport.pessimistic`),
so a deterministic result can always be qualified by how much it depends on tie-breaking.

NaN policy: NaN ranks *below* every number, ``-inf`` included, so a NaN never gives rank 1. A
NaN on another item never counts as scoring above the target (IEEE comparisons are False), and a
NaN target score ranks last: ``r_opt = r_pes = N``, even when other items are NaN too (so an
all-NaN row is a miss for every ``K < N``, not a tie at rank 1). This needs no host sync, so a
diverged model scores (near) zero instead of stopping the evaluation;
:attr:`MetricAccumulator.nan_targets` counts the examples whose target score was NaN, and
:func:`sbrzoo.evaluator.evaluate` logs a warning when it is not zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from sbrzoo.metric_names import KINDS
from sbrzoo.metric_names import metric_names as names_of

__all__ = ["target_ranks", "metrics_from_ranks", "MetricAccumulator", "metric_names"]




def _check_ks(ks: Sequence[int]) -> tuple[int, ...]:
    """Distinct cut-offs in descending order (the order of the metric keys)."""
    ks = tuple(ks)
    if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
        raise ValueError(f"ks must be a non-empty sequence of positive ints, got {ks!r}")
    return tuple(sorted(set(ks), reverse=True))


def metric_names(ks: Sequence[int] = (10, 20)) -> list[str]:
    """Metric keys in report order: ``["HR@20", "MRR@20", "NDCG@20", "HR@10", ...]``.

    Args:
        ks: Cut-offs ``K``; reported largest first.
    """
    return names_of(_check_ks(ks))


def _ranks_and_nan(logits: Tensor, targets: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(optimistic, pessimistic, target_is_nan)``, each (B,); see :func:`target_ranks`."""
    if logits.dim() != 2:
        raise ValueError(f"logits must be (B, N), got shape {tuple(logits.shape)}")
    if targets.dim() != 1 or len(targets) != len(logits):
        raise ValueError(
            f"targets must be (B,) with B = {len(logits)} (the logits' rows), got shape "
            f"{tuple(targets.shape)}"
        )
    if targets.dtype.is_floating_point or targets.dtype.is_complex or targets.dtype == torch.bool:
        raise ValueError(f"targets must be integer item ids, got dtype {targets.dtype}")
    num_items = logits.shape[1]
    if num_items == 0:
        raise ValueError("logits have no item columns (N = 0)")
    if targets.device.type == "cpu" and len(targets):
        # Free on the host; on an accelerator an out-of-range id fails inside gather instead
        # (checking there would cost one sync per batch).
        low, high = int(targets.min()), int(targets.max())
        if low < 1 or high > num_items:
            raise ValueError(
                f"target ids must lie in 1..{num_items} (item k+1 is column k; 0 is padding), "
                f"got ids in {low}..{high}"
            )
    targets = targets.to(device=logits.device, dtype=torch.long)
    target_score = logits.gather(1, (targets - 1).unsqueeze(1))  # (B, 1)
    # int32 counts (N < 2**31): 1.7x faster than int64 on the CPU, where ranking is most of an evaluation
    optimistic = (logits > target_score).sum(1, dtype=torch.int32).long() + 1  # NaN compares False either way
    pessimistic = (logits >= target_score).sum(1, dtype=torch.int32).long()
    target_nan = target_score.squeeze(1).isnan()
    # A NaN target ranks last (else every comparison is False and it would rank first).
    last = torch.full_like(optimistic, num_items)
    optimistic = torch.where(target_nan, last, optimistic)
    pessimistic = torch.where(target_nan, last, pessimistic)
    return optimistic, pessimistic, target_nan


def target_ranks(logits: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """Optimistic and pessimistic 1-based rank of each target among all ``N`` items.

    Vectorised comparison with the target's score on the logits' device; no sort, and no host sync
    when the inputs are on an accelerator (B×N bool temporaries). NaN ranks below every number
    (module docstring).

    Args:
        logits: (B, N) scores, column ``k`` for item ``k + 1`` (padding id 0 is no candidate).
        targets: (B,) integer item ids ``1..N``.

    Returns:
        ``(optimistic, pessimistic)``, each (B,) int64 on the logits' device:
        ``1 + #{k : z_k > z_target}`` and ``#{k : z_k >= z_target}``; equal unless the target ties.
        A NaN target score gets ``N`` for both.

    Raises:
        ValueError: Wrong shapes or dtype, or (for CPU targets) an id outside ``1..N``.
    """
    optimistic, pessimistic, _ = _ranks_and_nan(logits, targets)
    return optimistic, pessimistic


def _sum_dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64  # MPS has no float64


def _batch_sums(ranks: Tensor, ks: Tensor) -> Tensor:
    """(3K,) sums over the batch: HR@k for every k, then MRR@k, then NDCG@k (ks: (K,))."""
    hit = ranks.unsqueeze(1) <= ks  # (B, K)
    rank = ranks.to(_sum_dtype(ranks.device)).unsqueeze(1)  # (B, 1)
    zero = torch.zeros((), dtype=rank.dtype, device=rank.device)
    reciprocal = torch.where(hit, 1.0 / rank, zero)
    discounted = torch.where(hit, 1.0 / torch.log2(1.0 + rank), zero)
    return torch.cat([hit.sum(0).to(rank.dtype), reciprocal.sum(0), discounted.sum(0)])


class MetricAccumulator:
    """Sums HR/MRR/NDCG@K and NaN targets on the ranks' device across batches.

    Per batch only device ops are queued; :meth:`result`, :attr:`ties`, :attr:`nan_targets` and
    :meth:`ranks` share one transfer to the host, made the first time one of them is read after an
    :meth:`add`. The per-example ranks are kept (concatenated and moved to the CPU once): the
    optimistic ones so that two models can be compared example by example (paired tests), the
    pessimistic ones for the tie-breaking-free metrics.

    Args:
        ks: Cut-offs ``K`` (positive ints); keys are reported largest ``K`` first.

    Example:
        >>> acc = MetricAccumulator(ks=(20,))
        >>> acc.add_logits(torch.tensor([[0.1, 0.9, 0.5]]), torch.tensor([3]))
        >>> acc.result()["MRR@20"]
        50.0
    """

    def __init__(self, ks: Sequence[int] = (10, 20)) -> None:
        self.ks = _check_ks(ks)
        self.num_examples = 0
        self._totals: Tensor | None = None  # (3K + 1,) metric sums, NaN targets
        self._ranks: list[Tensor] = []  # optimistic, then pessimistic, of each batch
        self._ks_on: dict[torch.device, Tensor] = {}
        self._host: tuple[list[float], Tensor] | None = None

    def add(self, optimistic: Tensor, pessimistic: Tensor | None = None, *,
            target_nan: Tensor | None = None) -> None:
        """Add one batch of ranks.

        Args:
            optimistic: (B,) optimistic ranks (the metrics use these).
            pessimistic: (B,) pessimistic ranks; None = no ties.
            target_nan: (B,) bool, True where the target's score was NaN; None = none.
        """
        if optimistic.dim() != 1:
            raise ValueError(f"ranks must be (B,), got shape {tuple(optimistic.shape)}")
        if pessimistic is not None and pessimistic.shape != optimistic.shape:
            raise ValueError("optimistic and pessimistic ranks must have the same shape")
        device = optimistic.device
        ks = self._ks_on.get(device)
        if ks is None:
            ks = self._ks_on[device] = torch.tensor(self.ks, device=device)
        sums = _batch_sums(optimistic, ks)
        zero = torch.zeros(1, dtype=sums.dtype, device=device)
        nans = zero if target_nan is None else target_nan.sum().reshape(1)
        sums = torch.cat([sums, nans.to(sums.dtype)])
        self._totals = sums if self._totals is None else self._totals + sums.to(self._totals.device)
        self._ranks += [optimistic, optimistic if pessimistic is None else pessimistic]
        self.num_examples += len(optimistic)
        self._host = None

    def add_logits(self, logits: Tensor, targets: Tensor) -> None:
        """Rank one batch with :func:`target_ranks` and add it.

        Args:
            logits: (B, N) scores, column ``k`` for item ``k + 1``.
            targets: (B,) item ids ``1..N``.
        """
        optimistic, pessimistic, target_nan = _ranks_and_nan(logits, targets)
        self.add(optimistic, pessimistic, target_nan=target_nan)

    def _to_host(self) -> tuple[list[float], Tensor]:
        """The totals, and the (2, num_examples) optimistic and pessimistic ranks, on the host."""
        if self._host is None:
            if self._totals is None:
                totals = [0.0] * (3 * len(self.ks) + 1)
                ranks = torch.zeros(2, 0, dtype=torch.long)
            else:
                num_totals = len(self._totals)
                ranks = torch.cat([torch.cat([r.to(self._totals.device) for r in self._ranks[kind::2]])
                                   for kind in (0, 1)])
                if self._totals.dtype == torch.float64:
                    # One device->host copy of everything (float64 holds these ints exactly).
                    packed = torch.cat([self._totals, ranks.to(torch.float64)]).cpu()
                    totals, ranks = packed[:num_totals].tolist(), packed[num_totals:].long()
                else:
                    totals, ranks = self._totals.tolist(), ranks.long().cpu()
                ranks = ranks.reshape(2, -1)
            self._host = (totals, ranks)
        return self._host

    def result(self) -> dict[str, float]:
        """Metric name -> mean over all examples in percent.

        Returns:
            ``{"HR@20": ..., "MRR@20": ..., "NDCG@20": ..., "HR@10": ..., ...}`` (largest K first).

        Raises:
            ValueError: Nothing was added.
        """
        if not self.num_examples:
            raise ValueError("no examples were evaluated (empty loader or empty batches)")
        totals, _ = self._to_host()
        num_ks = len(self.ks)
        out: dict[str, float] = {}
        for i, k in enumerate(self.ks):
            for j, kind in enumerate(KINDS):
                out[f"{kind}@{k}"] = totals[j * num_ks + i] * 100.0 / self.num_examples
        return out

    @property
    def ties(self) -> int:
        """Examples whose target shares its score with another item (optimistic ≠ pessimistic)."""
        return int((self.pessimistic_ranks() != self.ranks()).sum())

    @property
    def nan_targets(self) -> int:
        """Examples whose target score was NaN (ranked below every number)."""
        return round(self._to_host()[0][-1])

    def ranks(self) -> Tensor:
        """Optimistic rank of every example added so far, in order.

        Returns:
            (num_examples,) int64 on the CPU.
        """
        return self._to_host()[1][0]

    def pessimistic_ranks(self) -> Tensor:
        """Pessimistic rank of every example added so far, in order (the optimistic one where
        :meth:`add` was given none).

        Returns:
            (num_examples,) int64 on the CPU.
        """
        return self._to_host()[1][1]


def metrics_from_ranks(ranks: Tensor, ks: Sequence[int] = (10, 20)) -> dict[str, float]:
    r"""HR, MRR and NDCG at every cut-off, means over examples in percent.

    .. math::
        \mathrm{HR@K} = [r \le K], \quad \mathrm{MRR@K} = [r \le K] / r, \quad
        \mathrm{NDCG@K} = [r \le K] / \log_2(1 + r)

    Args:
        ranks: (B,) 1-based ranks (optimistic ones for the reference semantics), B ≥ 1.
        ks: Cut-offs ``K``.

    Returns:
        ``{"HR@20": ..., "MRR@20": ..., "NDCG@20": ..., "HR@10": ..., ...}`` (largest K first).

    Raises:
        ValueError: ``ranks`` is empty or not one-dimensional, or a ``K`` is not a positive int.
    """
    accumulator = MetricAccumulator(ks)
    accumulator.add(ranks)
    return accumulator.result()
