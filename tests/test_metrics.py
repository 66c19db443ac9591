"""Metrics against hand-computed ranks, the reference topk semantics, and ties."""

from __future__ import annotations

import math

import pytest
import torch

from sbrzoo.metrics import MetricAccumulator, metrics_from_ranks, target_ranks


def logits_with_rank(rank: int, num_items: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """One row whose target (item 7) has exactly ``rank - 1`` items scored above it."""
    scores = -torch.arange(num_items, dtype=torch.float32)  # item k+1 has score -k
    target_column = rank - 1
    order = list(range(num_items))
    order.remove(target_column)
    order.insert(6, target_column)  # put that score on item 7's column
    return scores[order][None, :], torch.tensor([7])


@pytest.mark.parametrize(
    ("rank", "hr20", "mrr20", "ndcg20", "hr10"),
    [(1, 100.0, 100.0, 100.0, 100.0), (3, 100.0, 100 / 3, 50.0, 100.0), (20, 100.0, 5.0, 100 / math.log2(21), 0.0),
     (21, 0.0, 0.0, 0.0, 0.0)],
)
def test_hand_computed(rank: int, hr20: float, mrr20: float, ndcg20: float, hr10: float) -> None:
    logits, target = logits_with_rank(rank)
    optimistic, pessimistic = target_ranks(logits, target)
    assert optimistic.item() == pessimistic.item() == rank
    metrics = metrics_from_ranks(optimistic)
    assert metrics["HR@20"] == pytest.approx(hr20)
    assert metrics["MRR@20"] == pytest.approx(mrr20)
    assert metrics["NDCG@20"] == pytest.approx(ndcg20)
    assert metrics["HR@10"] == pytest.approx(hr10)


def test_ties_give_optimistic_and_pessimistic_ranks() -> None:
    logits = torch.tensor([[5.0, 3.0, 3.0, 3.0, 1.0]])
    optimistic, pessimistic = target_ranks(logits, torch.tensor([3]))  # item 3 ties with items 2 and 4
    assert (optimistic.item(), pessimistic.item()) == (2, 4)
    accumulator = MetricAccumulator()
    accumulator.add(optimistic, pessimistic)
    assert accumulator.ties == 1


def test_matches_topk_semantics_without_ties() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 1000, generator=generator)
    targets = torch.randint(1, 1001, (64,), generator=generator)
    top = logits.topk(20, dim=1).indices + 1  # item ids
    hits = (top == targets[:, None])
    position = hits.float().argmax(1) + 1
    expected_hr = hits.any(1).float().mean().item() * 100
    expected_mrr = torch.where(hits.any(1), 1.0 / position, torch.zeros(64)).mean().item() * 100
    metrics = metrics_from_ranks(target_ranks(logits, targets)[0])
    assert metrics["HR@20"] == pytest.approx(expected_hr)
    assert metrics["MRR@20"] == pytest.approx(expected_mrr, rel=1e-6)


def test_accumulating_batches_equals_one_pass() -> None:
    ranks = torch.randint(1, 60, (100,))
    accumulator = MetricAccumulator()
    for chunk in ranks.split(17):
        accumulator.add(chunk, chunk)
    assert accumulator.result() == pytest.approx(metrics_from_ranks(ranks))
    assert torch.equal(accumulator.ranks(), ranks)


def test_nan_logits_are_an_error() -> None:
    with pytest.raises(ValueError, match="NaN"):
        target_ranks(torch.tensor([[float("nan"), 1.0]]), torch.tensor([1]))
