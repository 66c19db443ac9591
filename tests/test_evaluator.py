"""The evaluator ranks through a model on real batches and restores the model's mode."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sbrzoo.data.collate import SessionCollator
from sbrzoo.data.examples import Examples
from sbrzoo.evaluator import evaluate


class FixedScores(nn.Module):
    """Scores item i as -i, so item 1 ranks first; a dropout records the mode it was called in."""

    def __init__(self, num_items: int) -> None:
        super().__init__()
        self.scores = -torch.arange(1, num_items + 1, dtype=torch.float32)
        self.modes: list[bool] = []

    def forward(self, batch) -> torch.Tensor:  # noqa: ANN001
        self.modes.append(self.training)
        return self.scores.expand(batch.batch_size, -1)


def test_ranks_follow_the_targets_and_mode_is_restored() -> None:
    examples = Examples.from_lists([[1], [2, 3], [4], [5, 1]], [1, 3, 21, 2])
    collator = SessionCollator(examples, 30, ("session",), "torch")
    loader = [collator([0, 1]), collator([2, 3])]
    model = FixedScores(30).train()
    report = evaluate(model, loader)
    assert report.ranks.tolist() == [1, 3, 21, 2]
    assert report.num_examples == 4
    assert report.metrics["HR@20"] == pytest.approx(75.0)
    assert report.metrics["MRR@20"] == pytest.approx((1 + 1 / 3 + 0 + 1 / 2) / 4 * 100)
    assert model.modes == [False, False]
    assert model.training
    assert set(report.to_dict()) >= {"HR@20", "MRR@20", "NDCG@20", "HR@10", "num_examples", "seconds", "ties"}
