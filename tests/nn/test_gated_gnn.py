"""The DGL gated graph cell equals SR-GNN's dense formulation with M_in / M_out (docs/MODELS.md §2.1, §3.1)."""

from __future__ import annotations

import pytest
import torch

from sbrzoo.data.collate import SessionCollator
from sbrzoo.data.examples import Examples
from sbrzoo.nn.gated_gnn import GatedSessionGNN
from sbrzoo.nn.state import Widths


def dense_reference(cell: GatedSessionGNN, prefix: list[int], embedding: torch.Tensor) -> torch.Tensor:
    """SR-GNN's own computation for one session: dense A, normalised M_in/M_out, GRU gates."""
    nodes = sorted(set(prefix))
    alias = [nodes.index(i) for i in prefix]
    n = len(nodes)
    adjacency = torch.zeros(n, n)
    for a, b in zip(alias, alias[1:]):
        adjacency[a, b] = 1.0
    m_in = adjacency.T / adjacency.sum(0).clamp(min=1)[:, None]
    m_out = adjacency / adjacency.sum(1).clamp(min=1)[:, None]
    hidden = embedding[torch.tensor(nodes)]
    a_in = m_in @ cell.edge_in(hidden) + cell.bias_in
    a_out = m_out @ cell.edge_out(hidden) + cell.bias_out
    gi = torch.cat([a_in, a_out], 1) @ cell.weight_ih.T + cell.bias_ih
    gh = hidden @ cell.weight_hh.T + cell.bias_hh
    i_r, i_i, i_n = gi.chunk(3, 1)
    h_r, h_i, h_n = gh.chunk(3, 1)
    reset, update = torch.sigmoid(i_r + h_r), torch.sigmoid(i_i + h_i)
    new = torch.tanh(i_n + reset * h_n)
    return new + update * (hidden - new)


@pytest.mark.parametrize("backend", ["dgl", "torch"])
def test_matches_dense_sr_gnn(backend: str) -> None:
    torch.manual_seed(0)
    prefixes = [[5, 3, 7, 3, 9], [2, 2, 6], [4], [1, 8, 1, 8, 1]]
    cell = GatedSessionGNN(Widths(8, 8, 8))
    embedding = torch.randn(10, 8)
    batch = SessionCollator(Examples.from_lists(prefixes, [1] * 4), 9, ("session",), backend)(range(4))
    out = cell.propagate(batch.graphs["session"], embedding[batch.node_items])
    expected = torch.cat([dense_reference(cell, p, embedding) for p in prefixes])
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=1e-5)


def test_rejects_wrong_width() -> None:
    batch = SessionCollator(Examples.from_lists([[1, 2]], [3]), 3, ("session",), "torch")([0])
    with pytest.raises(ValueError, match="expected node features"):
        GatedSessionGNN(Widths(8, 8, 8)).propagate(batch.graphs["session"], torch.zeros(2, 4))
