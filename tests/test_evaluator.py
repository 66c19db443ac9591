"""The evaluator ranks through a model on real batches, in inference mode, and restores modes."""

from __future__ import annotations

import logging
import math

import pytest
import torch
from torch import nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.data.collate import SessionCollator
from sbrzoo.data.examples import Examples
from sbrzoo.evaluator import MetricReport, evaluate

NUM_ITEMS = 30


class FixedScores(nn.Module):
    """Scores item i as -i (item 1 ranks first) and records how it was called."""

    def __init__(self, scores: torch.Tensor | None = None) -> None:
        super().__init__()
        if scores is None:
            scores = -torch.arange(1, NUM_ITEMS + 1, dtype=torch.float32)
        self.scores = scores
        self.dropout = nn.Dropout(0.5)
        self.frozen = nn.BatchNorm1d(4)
        self.calls: list[tuple[bool, bool, bool]] = []

    def mixed_modes(self) -> FixedScores:
        """Training, but with ``frozen`` deliberately kept in eval mode."""
        self.train()
        self.frozen.eval()
        return self

    def forward(self, batch: SessionBatch) -> torch.Tensor:
        self.calls.append((self.training, self.dropout.training, torch.is_inference_mode_enabled()))
        return self.scores.expand(batch.batch_size, -1)


def make_loader(
    prefixes: list[list[int]], targets: list[int], batch_size: int = 2
) -> list[SessionBatch]:
    examples = Examples.from_lists(prefixes, targets)
    collator = SessionCollator(examples, NUM_ITEMS, ("session",), "torch")
    indices = list(range(len(targets)))
    return [collator(indices[i:i + batch_size]) for i in range(0, len(indices), batch_size)]


def test_ranks_metrics_progress_and_mode() -> None:
    loader = make_loader([[1], [2, 3], [4], [5, 1]], [1, 3, 21, 2])
    model = FixedScores().mixed_modes()
    seen: list[int] = []
    report = evaluate(model, loader, progress=seen.append)

    assert isinstance(report, MetricReport)
    assert report.ranks.tolist() == [1, 3, 21, 2]  # loader order
    assert report.ranks.dtype == torch.int64 and report.ranks.device.type == "cpu"
    assert not report.ranks.is_inference()  # usable (even in place) outside inference mode
    assert report.num_examples == 4 and report.ties == 0 and report.seconds > 0
    assert list(report.metrics) == ["HR@20", "MRR@20", "NDCG@20", "HR@10", "MRR@10", "NDCG@10"]
    assert report.metrics["HR@20"] == pytest.approx(75.0)
    assert report.metrics["MRR@20"] == pytest.approx((1 + 1 / 3 + 0 + 1 / 2) / 4 * 100)
    assert report.metrics["NDCG@10"] == pytest.approx((1 + 1 / 2 + 0 + 1 / math.log2(3)) / 4 * 100)
    assert seen == [2, 2]
    assert model.calls == [(False, False, True)] * 2  # eval mode, under inference mode
    assert model.training and model.dropout.training and not model.frozen.training

    as_dict = report.to_dict()
    assert list(as_dict) == [*report.metrics, "num_examples", "seconds", "ties"]
    assert as_dict["num_examples"] == 4


def test_ks_and_ties() -> None:
    scores = torch.zeros(NUM_ITEMS)
    scores[0] = 1.0  # item 1 first, every other item tied at rank 2..30
    report = evaluate(FixedScores(scores), make_loader([[1], [2], [3]], [1, 2, 3]), ks=(1, 5))
    assert list(report.metrics) == ["HR@5", "MRR@5", "NDCG@5", "HR@1", "MRR@1", "NDCG@1"]
    assert report.ranks.tolist() == [1, 2, 2]
    assert report.ties == 2
    assert report.metrics["HR@1"] == pytest.approx(100 / 3)
    # ties counted against the target: items 2 and 3 rank 30th (behind the 28 others they tie with)
    assert report.pessimistic_ranks.tolist() == [1, NUM_ITEMS, NUM_ITEMS]
    assert (report.metrics["HR@5"], report.pessimistic["HR@5"]) == pytest.approx((100.0, 100 / 3))
    assert list(report.pessimistic) == list(report.metrics)


def test_a_result_that_depends_on_tie_breaking_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    scores = torch.zeros(NUM_ITEMS)
    scores[0] = 1.0
    tied = evaluate(FixedScores(scores), make_loader([[1], [2], [3]], [1, 2, 3]))
    untied = evaluate(FixedScores(), make_loader([[1], [2], [3]], [1, 2, 3]))
    assert untied.pessimistic == untied.metrics and untied.ties == 0
    with caplog.at_level(logging.WARNING, logger="sbrzoo.evaluator"):
        untied.warn_if_ties_matter("untied")
        tied.warn_if_ties_matter("tied")
    assert [r.getMessage()[:40] for r in caplog.records] == ["tied: 2 of 3 targets share their score w"]
    assert "HR@20 is 33.33 with ties counted against the target (100.00 reported" in caplog.records[0].getMessage()


def test_paired_ranks_between_models() -> None:
    loader = make_loader([[1], [2], [3], [4]], [1, 5, 10, 30], batch_size=3)
    first = evaluate(FixedScores(), loader)
    second = evaluate(FixedScores(torch.arange(1, NUM_ITEMS + 1, dtype=torch.float32)), loader)
    assert first.ranks.tolist() == [1, 5, 10, 30]
    assert (first.ranks + second.ranks).tolist() == [NUM_ITEMS + 1] * 4  # reversed order


def test_eval_mode_is_kept_and_restored_after_an_error() -> None:
    class Failing(FixedScores):
        def forward(self, batch: SessionBatch) -> torch.Tensor:
            raise RuntimeError("boom")

    model = Failing().mixed_modes()
    with pytest.raises(RuntimeError, match="boom"):
        evaluate(model, make_loader([[1]], [1]))
    assert model.training and model.dropout.training and not model.frozen.training

    model = FixedScores().eval()
    evaluate(model, make_loader([[1]], [1]))
    assert not any(m.training for m in model.modules())


def test_nan_scores_rank_last_and_warn(caplog: pytest.LogCaptureFixture) -> None:
    model = FixedScores(torch.full((NUM_ITEMS,), math.nan))
    with caplog.at_level(logging.WARNING, logger="sbrzoo.evaluator"):
        report = evaluate(model, make_loader([[1], [2]], [1, 2]))
    assert report.ranks.tolist() == [NUM_ITEMS, NUM_ITEMS]
    assert report.metrics["HR@20"] == 0.0
    assert "NaN" in caplog.text


def test_bad_loaders_are_errors() -> None:
    batch = make_loader([[1]], [1])[0]
    with pytest.raises(ValueError, match="no targets"):
        evaluate(FixedScores(), [batch.__class__(**{**batch.__dict__, "targets": None})])
    with pytest.raises(ValueError, match="no examples"):
        evaluate(FixedScores(), [])
    with pytest.raises(ValueError, match=r"1\.\.30"):
        evaluate(FixedScores(), make_loader([[1]], [31]))
    one_column_too_many = FixedScores(-torch.arange(0, NUM_ITEMS + 1, dtype=torch.float32))  # a padding column
    one_column_too_many.num_items = NUM_ITEMS
    with pytest.raises(ValueError, match=r"batch 0: the model scored \(1, 31\), not \(B, 30\)"):
        evaluate(one_column_too_many, make_loader([[1]], [2]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu() -> None:
    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(NUM_ITEMS, generator=generator)
    targets = torch.randint(1, NUM_ITEMS + 1, (9,), generator=generator).tolist()
    loader = make_loader([[t] for t in targets], targets, batch_size=4)
    cpu = evaluate(FixedScores(scores), loader)
    gpu = evaluate(FixedScores(scores.cuda()), loader, device="cuda")
    assert gpu.metrics == pytest.approx(cpu.metrics, rel=1e-12)
    assert torch.equal(gpu.ranks, cpu.ranks) and gpu.ranks.device.type == "cpu"
