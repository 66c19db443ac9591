"""The trainer reports the test metrics of the epoch chosen on validation, evaluates the test split only
then (unless asked to track it), and stops after ``patience`` epochs without a better score."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import run_config

from sbrzoo.data.dataset import SessionDataset
from sbrzoo.data.examples import Examples
from sbrzoo.evaluator import MetricReport
from sbrzoo.trainer import Trainer

NUM_ITEMS = 12
EXAMPLES = Examples.from_lists([[1, 2], [3, 4, 5], [6], [7, 8], [9, 10, 11], [12, 1]], [3, 6, 7, 9, 12, 2])
VALID_HR = [10.0, 30.0, 20.0, 25.0, 15.0, 40.0]  # epoch 6 would win, but patience 2 stops after epoch 4


class ScriptedTrainer(Trainer):
    """Validation HR@20 follows ``VALID_HR``; every evaluation notes its split and the weights it saw."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.evaluated: list[tuple[str, torch.Tensor]] = []

    def evaluate(self, examples: Examples, label: str) -> MetricReport:
        weights = torch.cat([p.detach().flatten() for p in self.model.parameters()]).clone()
        self.evaluated.append((label, weights))
        hr = VALID_HR[sum(name == "valid" for name, _ in self.evaluated) - 1] if label == "valid" else 50.0
        ranks = torch.ones(len(examples), dtype=torch.long)
        return MetricReport({"HR@20": hr, "MRR@20": hr / 3}, len(examples), 0.0, ranks, ranks)


@pytest.mark.parametrize("track_test", [False, True])
def test_the_test_split_is_scored_once_with_the_weights_of_the_best_validation_epoch(
        tmp_path: Path, track_test: bool) -> None:
    config = run_config("srgnn", "tiny", dim=8, epochs=len(VALID_HR), patience=2, batch_size=3, seed=1,
                        track_test=track_test)
    trainer = ScriptedTrainer(config, SessionDataset("tiny", NUM_ITEMS, EXAMPLES, EXAMPLES, EXAMPLES, "test",
                                                     "last_sessions"), tmp_path)
    result = trainer.fit()
    assert result.best_epoch == 2 and len(result.epochs) == 4  # epochs 3 and 4 not better: stopped
    labels = [name for name, _ in trainer.evaluated]
    assert labels == (["valid", "test"] * 4 if track_test else ["valid"] * 4) + ["test"]
    after_epoch = [weights for name, weights in trainer.evaluated if name == "valid"]
    final_test = trainer.evaluated[-1][1]
    assert torch.equal(final_test, after_epoch[1])  # the weights of epoch 2, reloaded from best.pt
    assert not torch.equal(final_test, after_epoch[3])
    assert result.test["HR@20"] == 50.0
