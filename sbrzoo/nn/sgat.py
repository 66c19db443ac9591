"""Shortcut graph attention of LESSR (Chen & Wong, KDD 2020, https://doi.org/10.1145/3394486.3403170)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from sbrzoo.graph import ops

__all__ = ["SGATConv"]


class SGATConv(nn.Module):
    r"""Shortcut graph attention (SGAT) over the LESSR shortcut graph (docs/MODELS.md §3.5).

    From "Handling Information Loss of Graph Neural Networks for Session-based Recommendation"
    (Chen & Wong, KDD 2020).

    .. math::
        \tilde X &= \mathrm{Dropout}_p(\mathrm{BN}(X)), \quad
        q = \tilde X W_q^\top + b_q, \quad k = \tilde X W_k^\top, \quad v = \tilde X W_v^\top \\
        e_{u \to v} &= w_e^\top \sigma(q_u + k_v), \quad
        a_{u \to v} = \operatorname{softmax}_{u' \to v}(e_{u' \to v}) \\
        h_v' &= \mathrm{PReLU}\Big(\sum_{u \to v} a_{u \to v}\, v_u\Big)

    The query comes from the source and the key from the destination. The shortcut graph has a
    self-loop at every node, so every node has at least one in-edge; a node without in-edges would
    get ``PReLU(0) = 0``.

    Args:
        in_dim: Input node feature size ``D_k``.
        out_dim: Output node feature size ``d``.
        dropout: Feature dropout ``p`` after the batch norm.

    Shapes:
        graph: batched shortcut graph with N nodes; feat: (N, in_dim) -> (N, out_dim)
    """

    def __init__(self, in_dim: int, out_dim: int, *, dropout: float = 0.0) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.out_dim = out_dim
        self.batch_norm = nn.BatchNorm1d(in_dim)
        self.feat_drop = nn.Dropout(dropout)
        self.fc_q = nn.Linear(in_dim, out_dim, bias=True)
        self.fc_k = nn.Linear(in_dim, out_dim, bias=False)
        self.fc_v = nn.Linear(in_dim, out_dim, bias=False)
        self.fc_e = nn.Linear(out_dim, 1, bias=False)
        self.activation = nn.PReLU(out_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch defaults (docs/MODELS.md §3.6): Linear weights and ``b_q`` ``U(±1/sqrt(fan_in))``,
        BatchNorm ``γ = 1, β = 0`` with fresh running statistics, PReLU slope 0.25 per channel."""
        for module in (self.batch_norm, self.fc_q, self.fc_k, self.fc_v, self.fc_e, self.activation):
            module.reset_parameters()

    def forward(self, graph: Any, feat: Tensor) -> Tensor:
        """Attend over each node's in-edges of the shortcut graph.

        Args:
            graph: Batched shortcut graph (DGL or :class:`~sbrzoo.graph.torch_graph.TorchGraph`).
            feat: Node features.

        Returns:
            The new node features.

        Raises:
            ValueError: ``feat`` is not (N, in_dim).

        Shapes:
            feat: (N, in_dim) -> (N, out_dim)
        """
        out, _ = self.attend(graph, feat)
        return out

    def attend(self, graph: Any, feat: Tensor) -> tuple[Tensor, Tensor]:
        """The layer output and the attention weight of every edge.

        Shapes:
            feat: (N, in_dim) -> ((N, out_dim), (E,))
        """
        if feat.dim() != 2 or feat.shape[1] != self.in_dim:
            raise ValueError(f"expected node features of shape (N, {self.in_dim}), got {tuple(feat.shape)}")
        feat = self.feat_drop(self.batch_norm(feat))
        query, key, value = self.fc_q(feat), self.fc_k(feat), self.fc_v(feat)
        src, dst = ops.edge_endpoints(graph)
        logits = self.fc_e(torch.sigmoid(query[src] + key[dst])).squeeze(-1)
        weights = ops.edge_softmax(graph, logits)
        return self.activation(ops.in_sum(graph, value, weights)), weights

    def extra_repr(self) -> str:
        return f"{self.in_dim}, {self.out_dim}"
