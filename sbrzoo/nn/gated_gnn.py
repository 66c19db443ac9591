"""Gated graph cell of SR-GNN (Wu et al., AAAI 2019, https://arxiv.org/abs/1811.00855): a node encoder.

Not DGL's ``GatedGraphConv``: SR-GNN normalises by in/out degree and feeds the two directions to
the GRU as separate halves of its input.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from sbrzoo.data.batch import SessionBatch
from sbrzoo.graph import ops
from sbrzoo.nn.state import SessionState, Widths

__all__ = ["GatedSessionGNN"]


class GatedSessionGNN(nn.Module):
    r"""One or more gated graph steps over the SR-GNN session graph (docs/MODELS.md §3.1).

    .. math::
        a^{in}_v &= \sum_{u \to v} \tfrac{1}{\deg^{in}(v)} (W_{in} h_u + c_{in}) + b_{iah} \\
        a^{out}_u &= \sum_{u \to v} \tfrac{1}{\deg^{out}(u)} (W_{out} h_v + c_{out}) + b_{oah} \\
        h_v' &= \mathrm{GRUCell}([a^{in}_v; a^{out}_v], h_v)

    The edge weights are read from ``graph.edata["in_weight"]`` and ``graph.edata["out_weight"]``
    (built by :func:`sbrzoo.data.graphs.session_graph_edges`). Gate order: reset, update, candidate.

    As a node encoder it reads ``batch.graphs["session"]`` and updates ``state.nodes``, and the
    released code's padding node (``state.padding``, reference fidelity), which has no neighbour.

    Args:
        widths: ``widths.nodes`` is the node feature size ``d``.
        gnn_steps: Number of propagation steps (SR-GNN default 1).
        vestigial: Also create the reference code's unused linear layer (reference fidelity).

    Shapes:
        propagate: graph with N nodes, feat (N, d) -> (N, d)
    """

    def __init__(self, widths: Widths, *, gnn_steps: int = 1, vestigial: bool = False) -> None:
        super().__init__()
        dim = widths.nodes
        self.dim = dim
        self.steps = gnn_steps
        self.out_widths = widths
        self.edge_in = nn.Linear(dim, dim)
        self.edge_out = nn.Linear(dim, dim)
        self.bias_in = nn.Parameter(torch.empty(dim))
        self.bias_out = nn.Parameter(torch.empty(dim))
        self.weight_ih = nn.Parameter(torch.empty(3 * dim, 2 * dim))
        self.weight_hh = nn.Parameter(torch.empty(3 * dim, dim))
        self.bias_ih = nn.Parameter(torch.empty(3 * dim))
        self.bias_hh = nn.Parameter(torch.empty(3 * dim))
        # The released SR-GNN/TAGNN/TAGNN++ code creates a third d x d linear it never uses; reference
        # fidelity keeps it so parameter counts match the published ones (docs/MODELS.md §3.6).
        self.unused_edge = nn.Linear(dim, dim) if vestigial else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter ``U(-1/sqrt(d), 1/sqrt(d))``, as the reference code does."""
        bound = self.dim**-0.5
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def forward(self, batch: SessionBatch, state: SessionState) -> SessionState:
        padding = None if state.padding is None else self.isolated(state.padding)
        return state.with_(nodes=self.propagate(batch.graphs["session"], state.nodes), padding=padding)

    def propagate(self, graph: Any, feat: Tensor) -> Tensor:  # noqa: ANN401 - DGL or torch graph
        """The gated steps over ``graph``."""
        if feat.dim() != 2 or feat.shape[1] != self.dim:
            raise ValueError(f"expected node features of shape (N, {self.dim}), got {tuple(feat.shape)}")
        in_weight, out_weight = graph.edata["in_weight"], graph.edata["out_weight"]
        has_in = ops.in_sum(graph, torch.ones_like(feat[:, :1]), in_weight)  # 1 where v has predecessors
        has_out = ops.out_sum(graph, torch.ones_like(feat[:, :1]), out_weight)
        hidden = feat
        for _ in range(self.steps):
            a_in = ops.in_sum(graph, hidden @ self.edge_in.weight.T, in_weight)
            a_in = a_in + has_in * self.edge_in.bias + self.bias_in
            a_out = ops.out_sum(graph, hidden @ self.edge_out.weight.T, out_weight)
            a_out = a_out + has_out * self.edge_out.bias + self.bias_out
            hidden = self._gru(a_in, a_out, hidden)
        return hidden

    def isolated(self, feat: Tensor) -> Tensor:
        """The steps applied to nodes without any neighbour (the reference code's padding node).

        Shapes:
            feat: (M, d) -> (M, d)
        """
        hidden = feat
        for _ in range(self.steps):
            hidden = self._gru(self.bias_in.expand_as(hidden), self.bias_out.expand_as(hidden), hidden)
        return hidden

    def _gru(self, a_in: Tensor, a_out: Tensor, hidden: Tensor) -> Tensor:
        gates_x = torch.cat([a_in, a_out], dim=1) @ self.weight_ih.T + self.bias_ih
        gates_h = hidden @ self.weight_hh.T + self.bias_hh
        x_r, x_z, x_n = gates_x.chunk(3, dim=1)
        h_r, h_z, h_n = gates_h.chunk(3, dim=1)
        reset = torch.sigmoid(x_r + h_r)
        update = torch.sigmoid(x_z + h_z)
        candidate = torch.tanh(x_n + reset * h_n)
        return (1 - update) * candidate + update * hidden

    def extra_repr(self) -> str:
        return f"{self.dim}, steps={self.steps}"
