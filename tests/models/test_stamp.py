"""STAMP (docs/MODELS.md §3.8.2): the composition equals a naive per-session implementation of the paper's
equations (scores and gradients) and trains on the synthetic data clearly above popularity."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import assert_same_scores_and_gradients, collate, settings_for, train_run
from torch import Tensor, nn

from sbrzoo.models import create_model, get_spec

NUM_ITEMS = 12
PREFIXES = [[5, 3, 7, 3, 9], [2, 2, 6], [4], [1, 8, 1, 8, 1], [11, 12, 10, 12, 3, 3, 7, 1], [6, 9]]
TARGETS = torch.tensor([2, 7, 1, 12, 5, 9])


def make_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return create_model("stamp", NUM_ITEMS, settings_for("stamp", dim=16)[0])


def naive_logits(model: nn.Module, prefix: list[int]) -> Tensor:
    """m_s, m_t, alpha_i, m_a, h_s, h_t and the trilinear product <h_s, h_t, x_i> for one session."""
    r = model.readout
    x = model.embedding.weight[torch.tensor(prefix)]
    m_s, m_t = x.mean(dim=0), x[-1]
    m_a = torch.zeros_like(m_t)
    for x_i in x:
        alpha = r.w0.weight[0] @ torch.sigmoid(r.w1.weight @ x_i + r.w2.weight @ m_t + r.w3.weight @ m_s + r.w3.bias)
        m_a = m_a + alpha * x_i
    h_s = torch.tanh(r.mlp_s.weight @ m_a + r.mlp_s.bias)
    h_t = torch.tanh(r.mlp_t.weight @ m_t + r.mlp_t.bias)
    return torch.stack([(h_s * h_t * e).sum() for e in model.embedding.weight[1:]])


@pytest.mark.parametrize("seed", [0, 1])
def test_scores_and_gradients_equal_the_papers_equations(seed: int) -> None:
    model = make_model(seed).eval()
    batch = collate(PREFIXES, (), num_items=NUM_ITEMS)
    logits = model(batch)
    naive = torch.stack([naive_logits(model, prefix) for prefix in PREFIXES])
    assert_same_scores_and_gradients(model, logits, naive, TARGETS)


def test_a_session_scores_the_same_alone_or_among_longer_ones() -> None:
    model = make_model().eval()
    together = model(collate(PREFIXES, (), num_items=NUM_ITEMS))
    for row, prefix in enumerate(PREFIXES):
        alone = model(collate([prefix], (), num_items=NUM_ITEMS))[0]
        torch.testing.assert_close(alone, together[row], atol=1e-6, rtol=1e-5)


def test_registered_with_its_parts_and_the_sr_gnn_papers_figures() -> None:
    spec = get_spec("stamp")
    assert spec.parts() == ["items", "stamp_attention", "dot"]
    assert spec.reference["yoochoose1_64"] == {"HR@20": 68.74, "MRR@20": 29.67}
    assert spec.reference["diginetica"] == {"HR@20": 45.64, "MRR@20": 14.32}
    settings, training = settings_for("stamp", "diginetica")
    assert settings == {"dim": 100}
    assert (training.batch_size, training.lr, training.epochs, training.weight_decay, training.lr_step) == (
        512, 3e-3, 10, 0.0, 0)


def test_trains_on_synthetic_data_clearly_above_popularity(tmp_path: Path) -> None:
    stamp = train_run(tmp_path, "stamp", "--model", "stamp", "--epochs", "1", "--valid-split", "none",
                   "--select-on", "last")["test"]
    pop = train_run(tmp_path, "pop", "--model", "pop", "--valid-split", "none", "--select-on", "last")["test"]
    assert stamp["HR@20"] > pop["HR@20"] + 15
    assert stamp["MRR@20"] > pop["MRR@20"] + 5
