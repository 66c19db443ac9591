"""GC-SAN (docs/MODELS.md §3.8.5): the composition equals a naive per-session implementation of the
paper's equations (scores and gradients), gives the same results on both graph backends, and trains on
the synthetic data clearly above popularity."""

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
    return create_model("gcsan", NUM_ITEMS, settings_for("gcsan", dim=16, **overrides)[0])


def naive_session_vector(model: torch.nn.Module, prefix: list[int], causal: bool) -> Tensor:
    """The paper's equations for one session, written out from its dense session graph."""
    (gnn,), (san,) = model.node_encoders, model.sequence_encoders
    nodes = sorted(set(prefix))
    alias = [nodes.index(item) for item in prefix]
    n = len(nodes)
    adjacency = torch.zeros(n, n)
    for u, v in zip(alias, alias[1:]):
        adjacency[u, v] = 1.0
    m_in = adjacency.T / adjacency.sum(0).clamp(min=1)[:, None]  # row v averages v's predecessors
    m_out = adjacency / adjacency.sum(1).clamp(min=1)[:, None]  # row u averages u's successors
    h = model.embedding.weight[torch.tensor(nodes)]
    for _ in range(gnn.steps):  # SR-GNN's gated cell
        a_in = m_in @ (h @ gnn.edge_in.weight.T + gnn.edge_in.bias) + gnn.bias_in
        a_out = m_out @ (h @ gnn.edge_out.weight.T + gnn.edge_out.bias) + gnn.bias_out
        x_r, x_z, x_n = (torch.cat([a_in, a_out], 1) @ gnn.weight_ih.T + gnn.bias_ih).chunk(3, 1)
        h_r, h_z, h_n = (h @ gnn.weight_hh.T + gnn.bias_hh).chunk(3, 1)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        c = torch.tanh(x_n + r * h_n)
        h = (1 - z) * c + z * h
    e = h[torch.tensor(alias)]  # the click sequence, (n_clicks, d)
    length, d = e.shape
    for block in san.blocks:  # E^(i) = SAN(E^(i-1))
        logits = (e @ block.query.weight.T) @ (e @ block.key.weight.T).T / d**0.5
        if causal:
            logits = logits.masked_fill(torch.ones(length, length).triu(1).bool(), float("-inf"))
        f = torch.softmax(logits, dim=1) @ (e @ block.value.weight.T)
        hidden = torch.relu(f @ block.feed_forward_in.weight.T + block.feed_forward_in.bias)
        e = hidden @ block.feed_forward_out.weight.T + block.feed_forward_out.bias + f
    omega = model.readout.omega
    return omega * e[-1] + (1 - omega) * h[alias[-1]]


@pytest.mark.parametrize(("num_layers", "causal", "gnn_steps"), [(1, False, 1), (2, False, 1), (2, True, 2)])
def test_scores_and_gradients_equal_the_papers_equations(num_layers: int, causal: bool, gnn_steps: int) -> None:
    model = make_model(num_layers=num_layers, causal=causal, gnn_steps=gnn_steps, omega=0.3).eval()
    batch = collate(PREFIXES, ("session",), num_items=NUM_ITEMS)
    logits = model(batch)
    sessions = torch.stack([naive_session_vector(model, prefix, causal) for prefix in PREFIXES])
    naive = sessions @ model.embedding.weight[1:].T  # S_f . v_i, items 1..N
    assert_same_scores_and_gradients(model, logits, naive, TARGETS)


def test_one_block_scores_the_same_with_or_without_the_causal_mask() -> None:
    batch = collate(PREFIXES, ("session",), num_items=NUM_ITEMS)
    full, causal = make_model(causal=False).eval(), make_model(causal=True).eval()
    torch.testing.assert_close(full(batch), causal(batch), atol=1e-6, rtol=1e-6)  # the last click sees every click


def test_padded_clicks_are_zero_and_omega_is_checked() -> None:
    model = make_model().eval()
    batch = collate(PREFIXES, ("session",), num_items=NUM_ITEMS)
    state = model.encode(batch)
    assert torch.all(state.clicks[~batch.mask] == 0)
    with pytest.raises(ValueError, match="omega must be in"):
        make_model(omega=1.5)


def test_backends_agree_with_two_causal_blocks() -> None:
    model = make_model(num_layers=2, causal=True, gnn_steps=2).eval()
    results = []
    for backend in ("dgl", "torch"):
        logits = model(collate(PREFIXES, ("session",), backend, NUM_ITEMS))
        grads = torch.autograd.grad(torch.nn.functional.cross_entropy(logits, TARGETS - 1), model.parameters())
        results.append((logits.detach(), grads))
    (dgl_logits, dgl_grads), (torch_logits, torch_grads) = results
    torch.testing.assert_close(dgl_logits, torch_logits, atol=1e-6, rtol=1e-5)
    for (name, _), a, b in zip(model.named_parameters(), dgl_grads, torch_grads):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=name)


def test_registered_with_its_parts_and_the_papers_figures() -> None:
    spec = get_spec("gcsan")
    assert spec.parts() == ["items", "gated_gnn", "self_attention", "weighted_last", "dot"]
    assert spec.graph_kinds == ("session",)
    assert spec.reference["yoochoose1_64"] == {"HR@20": 70.66, "MRR@20": 30.04}
    assert spec.reference["diginetica"] == {"HR@20": 51.70, "MRR@20": 17.61}
    settings, training = settings_for("gcsan", "diginetica")
    assert settings == {"dim": 100, "gnn_steps": 1, "num_layers": 1, "dropout": 0.2, "causal": False, "omega": 0.6}
    assert (training.lr, training.weight_decay, training.batch_size, training.lr_step) == (1e-3, 1e-5, 100, 3)


@pytest.mark.usefixtures("one_thread")
def test_trains_on_synthetic_data_clearly_above_popularity(tmp_path: Path) -> None:
    # 150 steps at a higher learning rate than the preset's: the point is that it learns, in about half a minute
    quick = ["--epochs", "1", "--max-train-batches", "150", "--lr", "0.005", "--eval-batch-size", "2000"]
    gcsan = train_run(tmp_path, "gcsan", "--model", "gcsan", *quick)["test"]
    pop = train_run(tmp_path, "pop", "--model", "pop")["test"]
    assert gcsan["HR@20"] > pop["HR@20"] + 15
    assert gcsan["MRR@20"] > pop["MRR@20"] + 5
