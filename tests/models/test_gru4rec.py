"""GRU4Rec (docs/MODELS.md §3.8.1): the composition equals a naive per-session GRU written out from its
equations (scores and gradients), with and without the projection to the embedding width, and trains on
the synthetic data clearly above popularity."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import assert_same_scores_and_gradients, collate, naive_gru, settings_for, train_run
from torch import Tensor, nn

from sbrzoo.models import create_model, get_spec

NUM_ITEMS = 12
PREFIXES = [[5, 3, 7, 3, 9], [2, 2, 6], [4], [1, 8, 1, 8, 1], [11, 12, 10, 12, 3, 3, 7, 1], [6, 9]]
TARGETS = torch.tensor([2, 7, 1, 12, 5, 9])


def make_model(seed: int = 0, **overrides: object) -> nn.Module:
    torch.manual_seed(seed)
    return create_model("gru4rec", NUM_ITEMS, settings_for("gru4rec", dim=16, **overrides)[0])


def naive_logits(model: nn.Module, prefix: list[int]) -> Tensor:
    (encoder,) = model.sequence_encoders
    last = naive_gru(encoder.gru, model.embedding.weight[torch.tensor(prefix)])[-1]
    project = model.readout.project
    session = last if project is None else project.weight @ last + project.bias
    return model.embedding.weight[1:] @ session  # s . E_i, items 1..N


@pytest.mark.parametrize("hidden_size", [16, 24])
def test_scores_and_gradients_equal_the_gru_equations(hidden_size: int) -> None:
    model = make_model(hidden_size=hidden_size).eval()
    assert (model.readout.project is None) == (hidden_size == 16)
    batch = collate(PREFIXES, (), num_items=NUM_ITEMS)
    logits = model(batch)
    naive = torch.stack([naive_logits(model, prefix) for prefix in PREFIXES])
    assert_same_scores_and_gradients(model, logits, naive, TARGETS)


def test_dropout_acts_in_training_only_and_padded_clicks_stay_zero() -> None:
    model = make_model(input_dropout=0.5, hidden_dropout=0.5)
    batch = collate(PREFIXES, (), num_items=NUM_ITEMS)
    state = model.train().encode(batch)
    assert torch.all(state.clicks[~batch.mask] == 0)
    assert not torch.allclose(model(batch), model(batch))
    model.eval()
    torch.testing.assert_close(model(batch), model(batch), rtol=0, atol=0)


def test_registered_with_its_parts_and_the_papers_figures() -> None:
    spec = get_spec("gru4rec")
    assert spec.parts() == ["items", "click_gru", "last_hidden", "dot"]
    assert spec.graph_kinds == ()
    assert spec.reference["yoochoose1_64"] == {"HR@20": 60.64, "MRR@20": 22.89}
    assert spec.reference["diginetica"] == {"HR@20": 29.45, "MRR@20": 8.33}
    settings, training = settings_for("gru4rec", "diginetica")
    assert settings == {"dim": 100, "hidden_size": 100, "input_dropout": 0.3, "hidden_dropout": 0.0}
    assert (training.optimizer, training.lr, training.weight_decay, training.lr_step) == ("adam", 1e-2, 0.0, 0)


def test_trains_on_synthetic_data_clearly_above_popularity(tmp_path: Path) -> None:
    gru4rec = train_run(tmp_path, "gru4rec", "--model", "gru4rec", "--epochs", "1", "--max-train-batches", "150",
                     "--valid-split", "none", "--select-on", "last")["test"]
    pop = train_run(tmp_path, "pop", "--model", "pop", "--valid-split", "none", "--select-on", "last")["test"]
    assert gru4rec["HR@20"] > pop["HR@20"] + 15
    assert gru4rec["MRR@20"] > pop["MRR@20"] + 5
