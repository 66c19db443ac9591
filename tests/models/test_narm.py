"""NARM (docs/MODELS.md §3.8.6): the composition equals a naive per-session implementation of the
paper's equations (scores and gradients) and trains on the synthetic data clearly above popularity."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import assert_same_scores_and_gradients, collate, settings_for, train_run
from torch import Tensor

from sbrzoo.models import create_model, get_spec

NUM_ITEMS = 12
PREFIXES = [[5, 3, 7, 3, 9], [2, 2, 6], [4], [1, 8, 1, 8, 1], [11, 12, 10, 12, 3, 3, 7, 1], [6, 9]]
TARGETS = torch.tensor([2, 7, 1, 12, 5, 9])


def make_model(seed: int = 0, **overrides: object) -> torch.nn.Module:
    torch.manual_seed(seed)
    return create_model("narm", NUM_ITEMS, settings_for("narm", dim=8, hidden_size=6, **overrides)[0])


def naive_scores(model: torch.nn.Module, prefix: list[int]) -> Tensor:
    """NARM for one session, click by click: GRU, global and local encoders, bilinear decoder."""
    gru, readout = model.sequence_encoders[0].gru, model.readout
    w_ir, w_iz, w_in = gru.weight_ih_l0.chunk(3)
    w_hr, w_hz, w_hn = gru.weight_hh_l0.chunk(3)
    b_ir, b_iz, b_in = gru.bias_ih_l0.chunk(3)
    b_hr, b_hz, b_hn = gru.bias_hh_l0.chunk(3)
    h = torch.zeros(gru.hidden_size)
    states = []
    for item in prefix:
        x = model.embedding.weight[item]
        r = torch.sigmoid(w_ir @ x + b_ir + w_hr @ h + b_hr)
        z = torch.sigmoid(w_iz @ x + b_iz + w_hz @ h + b_hz)
        n = torch.tanh(w_in @ x + b_in + r * (w_hn @ h + b_hn))
        h = (1 - z) * n + z * h
        states.append(h)
    c_global = states[-1]  # h_t
    attention = readout.attention
    a1, a2, v = attention.query.weight, attention.key.weight, attention.score.weight[0]
    c_local = sum(v @ torch.sigmoid(a1 @ c_global + a2 @ h_j) * h_j for h_j in states)  # sum_j alpha_tj h_j
    c = torch.cat([c_global, c_local])
    bilinear = readout.bilinear.weight  # B, d x 2H
    return model.embedding.weight[1:] @ (bilinear @ c)  # S_i = emb_i^T B c_t, items 1..N


def test_scores_and_gradients_equal_the_papers_equations() -> None:
    model = make_model().eval()
    batch = collate(PREFIXES, (), num_items=NUM_ITEMS)
    logits = model(batch)
    naive = torch.stack([naive_scores(model, prefix) for prefix in PREFIXES])
    assert_same_scores_and_gradients(model, logits, naive, TARGETS)


def test_a_session_scores_the_same_alone_and_next_to_longer_ones() -> None:
    model = make_model().eval()
    together = model(collate(PREFIXES, (), num_items=NUM_ITEMS))
    for index, prefix in enumerate(PREFIXES):
        torch.testing.assert_close(model(collate([prefix], (), num_items=NUM_ITEMS))[0], together[index],
                                   atol=1e-6, rtol=1e-5)


def test_widths_and_dropouts() -> None:
    model = make_model(input_dropout=0.3, context_dropout=0.6)
    encoder = model.sequence_encoders[0]
    assert (encoder.out_widths.dim, encoder.out_widths.clicks) == (8, 6)  # the GRU changes the click width
    assert model.readout.bilinear.weight.shape == (8, 12)  # B: d x 2H
    assert (encoder.input_dropout.p, model.readout.dropout.p) == (0.3, 0.6)
    state = model.eval().encode(collate(PREFIXES, (), num_items=NUM_ITEMS))
    assert state.clicks.shape[-1] == 6 and torch.all(state.clicks[~state.mask] == 0)


def test_registered_with_its_parts_and_the_papers_figures() -> None:
    spec = get_spec("narm")
    assert spec.parts() == ["items", "click_gru", "narm_attention", "dot"]
    assert spec.graph_kinds == ()
    assert spec.reference["yoochoose1_64"] == {"HR@20": 68.32, "MRR@20": 28.63}
    assert spec.reference["diginetica"] == {"HR@20": 49.70, "MRR@20": 16.17}
    settings, training = settings_for("narm", "yoochoose1_64")
    assert settings == {"dim": 50, "hidden_size": 100, "input_dropout": 0.25, "hidden_dropout": 0.0,
                        "context_dropout": 0.5}
    assert (training.optimizer, training.lr, training.batch_size, training.weight_decay, training.lr_step,
            training.epochs) == ("adam", 1e-3, 512, 0.0, 0, 30)


@pytest.mark.usefixtures("one_thread")
def test_trains_on_synthetic_data_clearly_above_popularity(tmp_path: Path) -> None:
    # one epoch (81 steps of 512) at a higher learning rate than the preset's: the point is that it learns
    narm = train_run(tmp_path, "narm", "--model", "narm", "--epochs", "1", "--lr", "0.005",
                     "--eval-batch-size", "2000")["test"]
    pop = train_run(tmp_path, "pop", "--model", "pop")["test"]
    assert narm["HR@20"] > pop["HR@20"] + 15
    assert narm["MRR@20"] > pop["MRR@20"] + 5
