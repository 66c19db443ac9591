"""Metrics: hand-computed ranks, reference topk semantics (docs/MODELS.md §5.1), ties and NaN."""

from __future__ import annotations

import math

import pytest
import torch

from sbrzoo.metrics import MetricAccumulator, metric_names, metrics_from_ranks, target_ranks

NAMES = ["HR@20", "MRR@20", "NDCG@20", "HR@10", "MRR@10", "NDCG@10"]


def logits_with_rank(
    rank: int, num_items: int = 50, target: int = 7
) -> tuple[torch.Tensor, torch.Tensor]:
    """One row (1, num_items) of distinct scores where ``rank - 1`` items beat ``target``."""
    scores = -torch.arange(num_items, dtype=torch.float32)  # descending: rank r has score -(r-1)
    order = list(range(num_items))
    order.remove(rank - 1)
    order.insert(target - 1, rank - 1)  # the rank-th best score goes on the target's column
    return scores[order][None, :], torch.tensor([target])


def topk_reference(
    logits: torch.Tensor, targets: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example hit and reciprocal rank exactly as the reference codes compute them."""
    top = logits.topk(k, dim=1).indices + 1  # (B, k) item ids, best first
    found = top == targets[:, None]
    hit = found.any(1)
    position = found.float().argmax(1) + 1
    zero = torch.zeros(len(hit), dtype=torch.float64)
    return hit.double(), torch.where(hit, 1.0 / position.double(), zero)


@pytest.mark.parametrize(
    ("rank", "expected"),
    [
        (1, {"HR@20": 100.0, "MRR@20": 100.0, "NDCG@20": 100.0, "HR@10": 100.0, "MRR@10": 100.0}),
        (2, {"MRR@20": 50.0, "NDCG@20": 100 / math.log2(3), "NDCG@10": 100 / math.log2(3)}),
        (3, {"HR@20": 100.0, "MRR@20": 100 / 3, "NDCG@20": 50.0, "HR@10": 100.0, "NDCG@10": 50.0}),
        (7, {"MRR@20": 100 / 7, "NDCG@20": 100 / 3, "NDCG@10": 100 / 3}),
        (10, {"HR@10": 100.0, "MRR@10": 10.0, "NDCG@10": 100 / math.log2(11)}),
        (11, {"HR@20": 100.0, "HR@10": 0.0, "MRR@10": 0.0, "NDCG@10": 0.0, "MRR@20": 100 / 11}),
        (20, {"HR@20": 100.0, "MRR@20": 5.0, "NDCG@20": 100 / math.log2(21), "HR@10": 0.0}),
        (21, {"HR@20": 0.0, "MRR@20": 0.0, "NDCG@20": 0.0, "HR@10": 0.0, "MRR@10": 0.0}),
        (50, {"HR@20": 0.0, "MRR@20": 0.0, "NDCG@20": 0.0}),
    ],
)
def test_hand_computed(rank: int, expected: dict[str, float]) -> None:
    logits, target = logits_with_rank(rank)
    optimistic, pessimistic = target_ranks(logits, target)
    assert optimistic.dtype == pessimistic.dtype == torch.int64
    assert optimistic.tolist() == pessimistic.tolist() == [rank]
    metrics = metrics_from_ranks(optimistic)
    assert list(metrics) == NAMES
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value), name


def test_means_over_examples_in_percent() -> None:
    metrics = metrics_from_ranks(torch.tensor([1, 2, 21, 4]), ks=(20,))
    assert list(metrics) == ["HR@20", "MRR@20", "NDCG@20"]
    assert metrics["HR@20"] == pytest.approx(75.0)
    assert metrics["MRR@20"] == pytest.approx((1 + 1 / 2 + 0 + 1 / 4) / 4 * 100)
    expected_ndcg = (1 + 1 / math.log2(3) + 0 + 1 / math.log2(5)) / 4 * 100
    assert metrics["NDCG@20"] == pytest.approx(expected_ndcg)


def test_metric_names_and_ks_validation() -> None:
    assert metric_names() == NAMES
    assert metric_names((5, 20, 5)) == ["HR@20", "MRR@20", "NDCG@20", "HR@5", "MRR@5", "NDCG@5"]
    for bad in [(), (0,), (-1, 20), (2.5,), (True,)]:
        with pytest.raises(ValueError, match="ks"):
            MetricAccumulator(bad)


def test_ties_give_optimistic_and_pessimistic_ranks() -> None:
    # Item 3 (the target) ties with items 2 and 4; item 1 is strictly better.
    logits = torch.tensor([[5.0, 3.0, 3.0, 3.0, 1.0], [5.0, 4.0, 3.0, 2.0, 1.0]])
    targets = torch.tensor([3, 3])
    optimistic, pessimistic = target_ranks(logits, targets)
    assert optimistic.tolist() == [2, 3]
    assert pessimistic.tolist() == [4, 3]
    accumulator = MetricAccumulator(ks=(2,))
    accumulator.add_logits(logits, targets)
    assert accumulator.ties == 1
    assert accumulator.result()["HR@2"] == pytest.approx(50.0)  # from the optimistic ranks 2 and 3
    assert accumulator.ranks().tolist() == [2, 3]
    assert accumulator.pessimistic_ranks().tolist() == [4, 3]
    plain = MetricAccumulator(ks=(2,))
    plain.add(optimistic)  # no pessimistic ranks given: no ties
    assert (plain.ties, plain.pessimistic_ranks().tolist()) == (0, [2, 3])


def test_ties_with_minus_inf() -> None:
    logits = torch.tensor([[-math.inf, 1.0, -math.inf]])
    assert [r.item() for r in target_ranks(logits, torch.tensor([1]))] == [2, 3]


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_topk_semantics_without_ties(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    num_examples, num_items = 64, 1000
    logits = torch.randn(num_examples, num_items, generator=generator)
    assert all(len(row.unique()) == num_items for row in logits)  # tie-free
    # Half the targets inside the top 40 (so that hits, misses and both cut-offs all occur).
    targets = torch.randint(1, num_items + 1, (num_examples,), generator=generator)
    near_top = logits.topk(40, dim=1).indices + 1
    pick = torch.randint(0, 40, (num_examples,), generator=generator)
    targets[::2] = near_top[torch.arange(num_examples), pick][::2]

    optimistic, pessimistic = target_ranks(logits, targets)
    assert torch.equal(optimistic, pessimistic)
    by_score = logits.argsort(1, descending=True) + 1  # item ids, best first
    sorted_position = (by_score == targets[:, None]).float().argmax(1) + 1
    assert torch.equal(optimistic, sorted_position)

    metrics = metrics_from_ranks(optimistic)
    for k in (10, 20):
        hit, reciprocal = topk_reference(logits, targets, k)
        assert 0 < hit.sum() < num_examples
        assert metrics[f"HR@{k}"] == pytest.approx(hit.mean().item() * 100, abs=1e-9)
        assert metrics[f"MRR@{k}"] == pytest.approx(reciprocal.mean().item() * 100, abs=1e-9)


def test_accumulating_batches_equals_one_pass() -> None:
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(100, 30, generator=generator).round(decimals=1)  # plenty of ties
    targets = torch.randint(1, 31, (100,), generator=generator)
    optimistic, pessimistic = target_ranks(logits, targets)

    accumulator = MetricAccumulator()
    for chunk_logits, chunk_targets in zip(logits.split(17), targets.split(17)):
        accumulator.add_logits(chunk_logits, chunk_targets)
    assert accumulator.num_examples == 100
    one_pass = metrics_from_ranks(optimistic)
    result = accumulator.result()
    assert list(result) == list(one_pass)
    assert result == pytest.approx(one_pass, rel=1e-12)
    ranks = accumulator.ranks()
    assert ranks.dtype == torch.int64 and ranks.device.type == "cpu"
    assert torch.equal(ranks, optimistic)
    assert torch.equal(accumulator.pessimistic_ranks(), pessimistic)
    assert accumulator.ties == int((optimistic != pessimistic).sum()) > 0
    assert accumulator.nan_targets == 0


def test_accumulator_reads_again_after_more_batches() -> None:
    accumulator = MetricAccumulator(ks=(1,))
    accumulator.add(torch.tensor([1]))
    assert accumulator.result() == {"HR@1": 100.0, "MRR@1": 100.0, "NDCG@1": 100.0}
    accumulator.add(torch.tensor([2]), torch.tensor([3]))
    assert accumulator.result()["HR@1"] == pytest.approx(50.0)
    assert accumulator.ties == 1
    assert accumulator.ranks().tolist() == [1, 2]


def test_empty_is_an_error() -> None:
    with pytest.raises(ValueError, match="no examples"):
        MetricAccumulator().result()
    with pytest.raises(ValueError, match="no examples"):
        metrics_from_ranks(torch.zeros(0, dtype=torch.long))
    assert MetricAccumulator().ranks().shape == (0,)


def test_nan_ranks_below_everything() -> None:
    nan = math.nan
    logits = torch.tensor(
        [
            [nan, 1.0, 2.0, -math.inf],  # NaN target ranks last, not first
            [nan, nan, nan, nan],  # all NaN: still last, not a tie at rank 1
            [nan, 1.0, nan, 0.5],  # NaN elsewhere never beats a numeric target
            [nan, -math.inf, 3.0, 0.5],  # ... not even a -inf one
        ]
    )
    targets = torch.tensor([1, 2, 4, 2])
    optimistic, pessimistic = target_ranks(logits, targets)
    assert optimistic.tolist() == [4, 4, 2, 3]
    assert pessimistic.tolist() == [4, 4, 2, 3]
    accumulator = MetricAccumulator(ks=(1, 3))
    accumulator.add_logits(logits, targets)
    assert accumulator.nan_targets == 2
    assert accumulator.ties == 0
    assert accumulator.result()["HR@3"] == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("logits", "targets", "match"),
    [
        (torch.zeros(2, 5), torch.tensor([0, 1]), r"1\.\.5"),  # padding id
        (torch.zeros(2, 5), torch.tensor([1, 6]), r"1\.\.5"),  # beyond the catalogue
        (torch.zeros(2, 5), torch.tensor([1]), "targets must be"),
        (torch.zeros(5), torch.tensor([1]), "logits must be"),
        (torch.zeros(2, 5), torch.tensor([1.0, 2.0]), "integer"),
        (torch.zeros(1, 0), torch.tensor([1]), "N = 0"),
    ],
)
def test_bad_input_is_an_error(logits: torch.Tensor, targets: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        target_ranks(logits, targets)


def test_int32_targets_and_half_logits() -> None:
    logits, target = logits_with_rank(5)
    optimistic, _ = target_ranks(logits.half(), target.int())
    assert optimistic.tolist() == [5] and optimistic.dtype == torch.int64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu_without_per_batch_sync() -> None:
    generator = torch.Generator().manual_seed(5)
    logits = torch.randn(256, 5000, generator=generator).round(decimals=2)
    logits[3, :] = math.nan
    targets = torch.randint(1, 5001, (256,), generator=generator)
    cpu = MetricAccumulator()
    for chunk_logits, chunk_targets in zip(logits.split(50), targets.split(50)):
        cpu.add_logits(chunk_logits, chunk_targets)

    device_logits, device_targets = logits.cuda(), targets.cuda()
    gpu = MetricAccumulator()
    gpu.add_logits(device_logits[:50], device_targets[:50])  # first batch builds the cached ks
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        chunks = zip(device_logits[50:].split(50), device_targets[50:].split(50))
        for chunk_logits, chunk_targets in chunks:
            gpu.add_logits(chunk_logits, chunk_targets)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert gpu.result() == pytest.approx(cpu.result(), rel=1e-12)
    assert torch.equal(gpu.ranks(), cpu.ranks())
    assert torch.equal(gpu.pessimistic_ranks(), cpu.pessimistic_ranks())
    assert (gpu.ties, gpu.nan_targets) == (cpu.ties, cpu.nan_targets) != (0, 0)
